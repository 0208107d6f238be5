//! `flags!`: flags types with set operations and the Canonical ABI's flags layout.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident, LitStr, Token, Visibility, braced};

/// One flags type: `Name { #[component(name = "x")] const X; ... }`.
struct FlagsType {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    flags: Vec<(Ident, String)>,
}

struct Input(Vec<FlagsType>);

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut types = Vec::new();
        while !input.is_empty() {
            let attrs = input.call(Attribute::parse_outer)?;
            let vis: Visibility = input.parse()?;
            let name: Ident = input.parse()?;
            let body;
            braced!(body in input);
            let mut flags = Vec::new();
            while !body.is_empty() {
                let mut component_name = None;
                for attr in body.call(Attribute::parse_outer)? {
                    if !attr.path().is_ident("component") {
                        return Err(syn::Error::new_spanned(
                            attr,
                            "only `#[component(name = \"...\")]` is allowed here",
                        ));
                    }
                    attr.parse_nested_meta(|meta| {
                        if meta.path.is_ident("name") {
                            let lit: LitStr = meta.value()?.parse()?;
                            component_name = Some(lit.value());
                            Ok(())
                        } else {
                            Err(meta.error("expected `name = \"...\"`"))
                        }
                    })?;
                }
                body.parse::<Token![const]>()?;
                let ident: Ident = body.parse()?;
                body.parse::<Token![;]>()?;
                let flag_name = component_name.unwrap_or_else(|| ident.to_string());
                if flags.iter().any(|(_, n): &(Ident, String)| *n == flag_name) {
                    return Err(syn::Error::new(ident.span(), format!("flag `{flag_name}` is defined twice")));
                }
                flags.push((ident, flag_name));
            }
            types.push(FlagsType { attrs, vis, name, flags });
        }
        Ok(Input(types))
    }
}

pub fn expand(input: TokenStream) -> TokenStream {
    match syn::parse2::<Input>(input) {
        Ok(Input(types)) => types.iter().map(flags_type).collect(),
        Err(e) => e.to_compile_error(),
    }
}

fn flags_type(t: &FlagsType) -> TokenStream {
    let k = quote!(::kiln::component::__internal);
    let FlagsType { attrs, vis, name, flags } = t;
    let count = flags.len();
    let words = count.div_ceil(32).max(1);
    let names: Vec<_> = flags.iter().map(|(_, n)| n).collect();
    let consts = flags.iter().enumerate().map(|(i, (ident, _))| {
        let word = i / 32;
        let bit = 1u32 << (i % 32);
        let init = (0..words).map(|w| if w == word { quote!(#bit) } else { quote!(0) });
        quote!(pub const #ident: Self = Self { bits: [#(#init),*] };)
    });
    let all_words = (0..words).map(|w| {
        let bits = count.saturating_sub(w * 32).min(32);
        let mask = if bits == 32 { u32::MAX } else { (1u32 << bits) - 1 };
        quote!(#mask)
    });
    let binop = |tr: TokenStream, method: TokenStream, assign_tr: TokenStream, assign: TokenStream, op: TokenStream| {
        // `op` is the compound assignment (`|=`, `&=`, `^=`).
        quote! {
            impl ::core::ops::#tr for #name {
                type Output = Self;
                fn #method(self, rhs: Self) -> Self {
                    let mut bits = self.bits;
                    for (a, b) in bits.iter_mut().zip(rhs.bits) {
                        *a #op b;
                    }
                    Self { bits }
                }
            }
            impl ::core::ops::#assign_tr for #name {
                fn #assign(&mut self, rhs: Self) {
                    *self = ::core::ops::#tr::#method(*self, rhs);
                }
            }
        }
    };
    let or = binop(quote!(BitOr), quote!(bitor), quote!(BitOrAssign), quote!(bitor_assign), quote!(|=));
    let and = binop(quote!(BitAnd), quote!(bitand), quote!(BitAndAssign), quote!(bitand_assign), quote!(&=));
    let xor = binop(quote!(BitXor), quote!(bitxor), quote!(BitXorAssign), quote!(bitxor_assign), quote!(^=));
    let name_str = name.to_string();
    quote! {
        #(#attrs)*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        #vis struct #name {
            bits: [u32; #words],
        }

        impl #name {
            #(#consts)*
            const NAMES: &'static [&'static str] = &[#(#names),*];
            const ALL_BITS: [u32; #words] = [#(#all_words),*];

            /// No flags set.
            pub const fn empty() -> Self {
                Self { bits: [0; #words] }
            }

            /// Every flag set.
            pub const fn all() -> Self {
                Self { bits: Self::ALL_BITS }
            }

            /// Whether no flag is set.
            pub fn is_empty(&self) -> bool {
                self.bits.iter().all(|w| *w == 0)
            }

            /// Whether every flag set in `other` is set in `self`.
            pub fn contains(&self, other: Self) -> bool {
                self.bits.iter().zip(other.bits).all(|(a, b)| a & b == b)
            }
        }

        #or
        #and
        #xor

        impl ::core::ops::Not for #name {
            type Output = Self;
            fn not(self) -> Self {
                let mut bits = self.bits;
                for (a, m) in bits.iter_mut().zip(Self::ALL_BITS) {
                    *a = !*a & m;
                }
                Self { bits }
            }
        }

        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                #k::fmt_flags(f, #name_str, Self::NAMES, &self.bits)
            }
        }

        impl #k::ComponentType for #name {
            const LAYOUT: #k::AbiLayout = #k::AbiLayout::flags(#count);
            const POD: bool = true;
            fn ty() -> #k::ValueType {
                #k::ValueType::Flags(::std::boxed::Box::new([#(::std::string::String::from(#names)),*]))
            }
        }

        impl #k::Lower for #name {
            fn to_val(&self) -> #k::Val {
                #k::flags_to_val(Self::NAMES, &self.bits)
            }
            fn lower<C: #k::AbiMemory + ?Sized>(
                &self,
                _: &mut C,
                _: &#k::ValueType,
                dst: &mut [#k::ValRaw],
            ) -> #k::Result<()> {
                #k::lower_flags(&self.bits, dst);
                ::core::result::Result::Ok(())
            }
            fn store<C: #k::AbiMemory + ?Sized>(
                &self,
                cx: &mut C,
                _: &#k::ValueType,
                offset: usize,
            ) -> #k::Result<()> {
                #k::store_flags(cx, #count, &self.bits, offset)
            }
            fn store_pod(&self, _: &#k::ValueType, dst: &mut [u8]) -> #k::Result<()> {
                #k::write_flags(dst, #count, &self.bits);
                ::core::result::Result::Ok(())
            }
        }

        impl #k::Lift for #name {
            fn from_val(value: #k::Val) -> #k::Result<Self> {
                let mut bits = [0u32; #words];
                #k::flags_from_val(Self::NAMES, &value, &mut bits)?;
                ::core::result::Result::Ok(Self { bits })
            }
            fn lift<C: #k::AbiMemory + ?Sized>(
                _: &C,
                _: &#k::ValueType,
                src: &[#k::ValRaw],
            ) -> #k::Result<Self> {
                let mut bits = [0u32; #words];
                #k::lift_flags(src, #count, &mut bits);
                ::core::result::Result::Ok(Self { bits })
            }
            fn load<C: #k::AbiMemory + ?Sized>(
                _: &C,
                _: &#k::ValueType,
                bytes: &[u8],
            ) -> #k::Result<Self> {
                let mut bits = [0u32; #words];
                #k::load_flags(bytes, #count, &mut bits);
                ::core::result::Result::Ok(Self { bits })
            }
        }
    }
}
