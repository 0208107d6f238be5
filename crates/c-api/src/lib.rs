//! kiln's C API: the standard `wasm.h` of the WebAssembly C API proposal, every function of it,
//! plus kiln's extensions (`kiln.h`: errors, config, linker, fuel, epochs, `wat2wasm`) and WASI
//! preview 1 configuration (`wasi.h`), and components (`kiln/component.h`: values, a component
//! linker with host functions and WASI 0.2, instances, calls). The headers are in `include/`; `CMakeLists.txt` builds this
//! crate through cargo and exports a `kiln::kiln` target.
//!
//! Every function here is an FFI entry point. They must not unwind into C: each body runs under
//! [`guard`], which catches panics (a handle used with the wrong store, say) and turns them into
//! the function's failure value (NULL, `false`, a trap or an error). Misuse that can be detected
//! (NULL arguments, wrong arity or value kinds, out-of-bounds indices) returns NULL or a trap; it
//! never aborts the process. What cannot be detected (dangling or foreign pointers, an object used
//! after its store was deleted) is undefined behaviour, as the standard says.
//!
//! This crate must not contain runtime logic: it converts between C and Rust representations and
//! delegates to `kiln` and `kiln-wasi`. Its `unsafe` code is the FFI surface itself (dereferencing
//! pointers from C, allocating and freeing the vectors `wasm.h` hands out).
//!
//! Representation: every reference object of `wasm.h` (`wasm_func_t`, `wasm_extern_t`,
//! `wasm_ref_t`, `wasm_trap_t`, `wasm_module_t`, ...) is one Rust type, [`obj::Obj`], so the
//! `*_as_ref`, `*_as_extern` and `ref_as_*` conversions are pointer casts after a kind check.
//! Every type object (`wasm_functype_t`, `wasm_externtype_t`, ...) is one [`types::CExternType`]
//! for the same reason.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

mod component;
mod engine;
mod error;
mod externals;
mod func;
mod gc;
mod instance;
mod linker;
mod module;
mod obj;
mod trap;
mod types;
mod val;
mod vec;
mod wasi;

#[cfg(test)]
mod tests;

pub use component::*;
pub use engine::*;
pub use error::*;
pub use externals::*;
pub use func::*;
pub use instance::*;
pub use linker::*;
pub use module::*;
pub use obj::*;
pub use trap::*;
pub use types::*;
pub use val::*;
pub use vec::*;
pub use wasi::*;

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs an FFI body, turning a panic into `default` so that no unwind crosses into C.
pub(crate) fn guard<R>(default: R, body: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(default)
}

/// Like [`guard`] with the failure value computed lazily (e.g. a trap object).
pub(crate) fn guard_with<R>(default: impl FnOnce() -> R, body: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| default())
}

/// Moves `value` to the heap and hands C the pointer (which C frees with the matching `_delete`).
pub(crate) fn boxed<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}
