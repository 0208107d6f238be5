//! kiln: a WebAssembly runtime that compiles wasm to native code with Cranelift and runs it in a
//! sandbox.
//!
//! This crate is the public API. Its shapes follow Wasmtime's, so users of that runtime feel at
//! home: an [`Engine`] compiles [`Module`]s; a [`Store`] owns instances and the embedder's data; a
//! [`Linker`] resolves imports; [`Func`], [`TypedFunc`], [`Memory`], [`Table`] and [`Global`] are
//! handles into a store.
//!
//! ```
//! use kiln::{Engine, Linker, Module, Store};
//!
//! let engine = Engine::default();
//! let module = Module::new(&engine, r#"
//!     (module
//!       (import "host" "double" (func $double (param i32) (result i32)))
//!       (func (export "run") (param i32) (result i32)
//!         local.get 0
//!         call $double
//!         i32.const 1
//!         i32.add))
//! "#)?;
//! let mut linker = Linker::new(&engine);
//! linker.func_wrap("host", "double", |x: i32| x * 2)?;
//! let mut store = Store::new(&engine, ());
//! let instance = linker.instantiate(&mut store, &module)?;
//! let run = instance.get_typed_func::<i32, i32>(&mut store, "run")?;
//! assert_eq!(run.call(&mut store, 20)?, 41);
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! This crate must not contain compilation or execution logic itself: it validates arguments,
//! keeps handles honest (a handle from one store is rejected by another) and delegates to
//! `kiln-cranelift` and `kiln-runtime`. Its `unsafe` blocks only dereference pointers the runtime
//! hands out for objects the store owns.

// The component macros name paths as `::kiln::...`, also when used inside this crate.
extern crate self as kiln;

mod cache;
pub mod component;
mod engine;
mod exn;
mod externals;
mod func;
mod gc;
mod instance;
mod linker;
mod module;
mod perfmap;
mod serialize;
mod store;
mod trap;
mod types;
mod values;

pub use cache::CacheStats;
pub use engine::{Config, Engine, OptLevel, ProfilingStrategy};
pub use exn::{Tag, TagType, ThrownException};
pub use externals::{Extern, Global, Memory, SharedMemory, Table};
pub use func::{Caller, Func, IntoFunc, TypedFunc, WasmParams, WasmResults, WasmRet, WasmTy};
pub use gc::{ArrayRef, ArrayType, EqRef, FieldType, OwnedRooted, RootedKind, StorageType, StructRef, StructType};
pub use instance::{Export, Instance};
/// One value of [`Func::call_unchecked`]'s buffer: 16 bytes, the value little-endian at the start.
pub use kiln_runtime::ValRaw;
pub use linker::Linker;
pub use module::Module;
pub use serialize::{Precompiled, precompiled_checksum};
pub use store::{AsContext, AsContextMut, GcStats, RootScope, Store, StoreContext, StoreContextMut};
pub use trap::{FrameInfo, Trap, WasmBacktrace};
pub use types::{
    ExportType, ExternType, FuncType, GlobalType, HeapType, ImportType, MemoryType, Mutability, RefType, TableType,
    ValType,
};
pub use values::{AnyRef, ExnRef, ExternRef, ExternalizedAnyRef, I31, V128, Val};

/// Re-exported so embedders name the same error type.
pub use anyhow::{Error, Result};
