//! Procedural macros for kiln's component API: `#[derive(ComponentType, Lift, Lower)]` for Rust
//! records, variants and enums, `flags!` for flags types, and `bindgen!`, which turns a WIT world
//! into typed Rust (host traits for imports, typed wrappers for exports).
//!
//! The generated code moves values straight between Rust and a component's core values and
//! memory through `kiln::component::__internal`; it must not go through dynamic `Val`s on the
//! call path (only `to_val`/`from_val` build them). Users reach these macros through
//! `kiln::component`, never by depending on this crate.

mod bindgen;
mod derive;
mod flags;

use proc_macro::TokenStream;

/// Derives `ComponentType` for a `#[component(record)]` struct, or a `#[component(variant)]` or
/// `#[component(enum)]` enum.
#[proc_macro_derive(ComponentType, attributes(component))]
pub fn derive_component_type(input: TokenStream) -> TokenStream {
    derive::expand(input.into(), derive::Trait::ComponentType).into()
}

/// Derives `Lower` (Rust value -> component value).
#[proc_macro_derive(Lower, attributes(component))]
pub fn derive_lower(input: TokenStream) -> TokenStream {
    derive::expand(input.into(), derive::Trait::Lower).into()
}

/// Derives `Lift` (component value -> Rust value).
#[proc_macro_derive(Lift, attributes(component))]
pub fn derive_lift(input: TokenStream) -> TokenStream {
    derive::expand(input.into(), derive::Trait::Lift).into()
}

/// Defines flags types: `flags! { Perms { #[component(name = "read")] const READ; const WRITE; } }`.
#[proc_macro]
pub fn flags(input: TokenStream) -> TokenStream {
    flags::expand(input.into()).into()
}

/// Generates Rust bindings for a WIT world: `bindgen!({ path: "wit", world: "w", ... })`,
/// `bindgen!("w")` or `bindgen!("w" in "path")`. See `kiln::component` for the options.
#[proc_macro]
pub fn bindgen(input: TokenStream) -> TokenStream {
    bindgen::expand(input.into()).into()
}
