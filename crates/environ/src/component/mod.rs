//! The Component Model, engine-independently: component value types and their Canonical ABI layout
//! ([`types`], [`abi`]), and components turned into a flat instantiation plan ([`translate`] reads
//! the binary, [`inline`] flattens nested instantiations and places fused adapters).

pub mod abi;
pub mod inline;
pub mod translate;
pub mod types;

pub use abi::*;
pub use inline::*;
pub use translate::{
    CoreExternSig, ImportKind, InstanceSignature, ModuleSignature, ResourceOp, TaskOp, Translation, component_features,
    component_model_features,
};
pub use types::*;

#[cfg(test)]
mod tests;
