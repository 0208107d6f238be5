//! Engine-independent description of WebAssembly modules for kiln.
//!
//! This crate turns a validated wasm binary into a [`ModuleInfo`] (types, imports, exports, segments,
//! function body ranges), computes the layout of the per-instance `VMContext` ([`VMOffsets`]), and
//! defines the contract between code generation and the runtime: trap codes ([`Trap`]) and the table of
//! runtime builtins ([`Builtin`]) compiled code may call.
//!
//! It must not depend on Cranelift, contain `unsafe` code, or know anything about how code is executed:
//! both the code generator and the runtime read these definitions, so they are the single source of
//! truth for layouts.

#![forbid(unsafe_code)]

mod builtins;
mod bytes;
mod checksum;
pub mod component;
mod module;
mod trap;
mod types;
mod vmoffsets;

pub use builtins::Builtin;
pub use bytes::{ByteOwner, CHECK_CHUNK, FuncNames, SharedBytes};
pub use checksum::xxh64;
pub use module::*;
pub use trap::Trap;
pub use types::*;
pub use vmoffsets::*;

/// The wasm features kiln supports today, for the validator.
pub fn supported_features() -> wasmparser::WasmFeatures {
    use wasmparser::WasmFeatures as F;
    F::MUTABLE_GLOBAL
        | F::SATURATING_FLOAT_TO_INT
        | F::SIGN_EXTENSION
        | F::MULTI_VALUE
        | F::BULK_MEMORY
        | F::REFERENCE_TYPES
        | F::FLOATS
        | F::GC_TYPES
        | F::SIMD
        | F::RELAXED_SIMD
}
