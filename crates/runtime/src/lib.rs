//! kiln's runtime: the unsafe heart that executes compiled code.
//!
//! It owns executable code memory, `VMContext` allocation, linear memories (reserved with guard
//! regions), tables, globals, the builtins compiled code calls, and trap handling (signal handlers,
//! setjmp/longjmp unwinding, frame-pointer backtraces).
//!
//! It must not compile anything or know about the public API's types: it works on raw layouts
//! defined by `kiln-environ`. All of kiln's `unsafe` code lives here or in the thin API layer that
//! calls it; every `unsafe` block states why it is sound.

pub mod code;
pub mod exception;
pub mod gc;
pub mod image;
pub mod instance;
pub mod libcalls;
pub mod memory;
pub mod mmap;
pub mod parking;
mod setjmp;
pub mod sidetable;
pub mod table;
pub mod traphandlers;
pub mod vmcontext;

pub use code::{CodeInfo, CodeMemory, HandlerTable};
pub use exception::{ExceptionHeap, ExceptionRef, VMTagDefinition};
pub use gc::{GcHeap, GcObject, RootSink, VMGcTypeInfo, is_gc_object};
pub use image::MemoryImage;
pub use instance::{FuncRefs, GcTypes, Instance, InstanceArgs, TableImages, i31_word, lazy_table_images};
pub use memory::LinearMemory;
pub use mmap::FileMap;
pub use sidetable::{CompactMap, StackMaps};
pub use table::Table;
pub use traphandlers::{
    UnwindReason, UnwindReport, catch_traps, init_traps, raise_from_host, throw_from_host, visit_stack_roots,
};
pub use vmcontext::*;
