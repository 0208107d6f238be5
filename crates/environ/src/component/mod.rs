//! The Component Model, engine-independently: component value types and their Canonical ABI layout
//! ([`types`], [`abi`]), and (in `translate`) components turned into a flat instantiation plan.

pub mod abi;
pub mod types;

pub use abi::*;
pub use types::*;
