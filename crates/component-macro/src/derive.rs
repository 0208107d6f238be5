//! `#[derive(ComponentType, Lift, Lower)]`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Error, Fields, Generics, Ident, LitStr, Type, parse_quote};

/// Which trait is derived.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Trait {
    ComponentType,
    Lower,
    Lift,
}

enum Kind {
    Record,
    Variant,
    Enum,
}

/// A record field or a variant/enum case.
struct Member {
    /// The Rust identifier (field name or case name).
    ident: Ident,
    /// The component name.
    name: String,
    /// The field type, or the case's payload type.
    ty: Option<Type>,
}

pub fn expand(input: TokenStream, which: Trait) -> TokenStream {
    match syn::parse2::<DeriveInput>(input).and_then(|input| derive(&input, which)) {
        Ok(tokens) => tokens,
        Err(e) => e.to_compile_error(),
    }
}

/// The `#[component(...)]` attribute of the type: its kind.
fn kind(input: &DeriveInput) -> syn::Result<Kind> {
    let mut kind = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("component")) {
        attr.parse_nested_meta(|meta| {
            let k = if meta.path.is_ident("record") {
                Kind::Record
            } else if meta.path.is_ident("variant") {
                Kind::Variant
            } else if meta.path.is_ident("enum") {
                Kind::Enum
            } else {
                return Err(meta.error("expected `record`, `variant` or `enum`"));
            };
            if kind.replace(k).is_some() {
                return Err(meta.error("the kind of type is given twice"));
            }
            Ok(())
        })?;
    }
    kind.ok_or_else(|| {
        Error::new(
            Span::call_site(),
            "missing `#[component(record)]`, `#[component(variant)]` or `#[component(enum)]` attribute",
        )
    })
}

/// The `#[component(name = "...")]` of a field or case, else its Rust name.
fn member_name(attrs: &[syn::Attribute], ident: &Ident) -> syn::Result<String> {
    let mut name = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("component")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let lit: LitStr = meta.value()?.parse()?;
                name = Some(lit.value());
                Ok(())
            } else {
                Err(meta.error("expected `name = \"...\"`"))
            }
        })?;
    }
    Ok(name.unwrap_or_else(|| {
        let s = ident.to_string();
        s.strip_prefix("r#").map(str::to_string).unwrap_or(s)
    }))
}

fn members(input: &DeriveInput, kind: &Kind) -> syn::Result<Vec<Member>> {
    let mut out = Vec::new();
    match (&input.data, kind) {
        (Data::Struct(s), Kind::Record) => {
            let Fields::Named(fields) = &s.fields else {
                return Err(Error::new(s.fields.span(), "a `record` needs named fields"));
            };
            for f in &fields.named {
                let ident = f.ident.clone().expect("named field");
                out.push(Member { name: member_name(&f.attrs, &ident)?, ident, ty: Some(f.ty.clone()) });
            }
            if out.is_empty() {
                return Err(Error::new(input.ident.span(), "a `record` needs at least one field"));
            }
        }
        (Data::Enum(e), Kind::Variant | Kind::Enum) => {
            for v in &e.variants {
                if let Some((_, d)) = &v.discriminant {
                    return Err(Error::new(d.span(), "explicit discriminants are not supported"));
                }
                let ty = match (&v.fields, kind) {
                    (Fields::Unit, _) => None,
                    (Fields::Unnamed(f), Kind::Variant) if f.unnamed.len() == 1 => Some(f.unnamed[0].ty.clone()),
                    (_, Kind::Variant) => {
                        return Err(Error::new(
                            v.fields.span(),
                            "a `variant` case has no payload or exactly one unnamed field",
                        ));
                    }
                    (_, _) => return Err(Error::new(v.fields.span(), "an `enum` case has no payload")),
                };
                out.push(Member { name: member_name(&v.attrs, &v.ident)?, ident: v.ident.clone(), ty });
            }
            if out.is_empty() {
                return Err(Error::new(input.ident.span(), "needs at least one case"));
            }
        }
        (Data::Struct(_), _) => {
            return Err(Error::new(input.ident.span(), "a struct is a `#[component(record)]`"));
        }
        (Data::Enum(_), Kind::Record) => {
            return Err(Error::new(
                input.ident.span(),
                "an enum is a `#[component(variant)]` or a `#[component(enum)]`",
            ));
        }
        (Data::Union(_), _) => return Err(Error::new(input.ident.span(), "unions are not component types")),
    }
    Ok(out)
}

/// Checks `#[repr(u8|u16|u32)]` of an enum against its case count.
fn check_repr(input: &DeriveInput, cases: usize) -> syn::Result<()> {
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("repr")) {
        let mut result = Ok(());
        attr.parse_nested_meta(|meta| {
            let fits = if meta.path.is_ident("u8") {
                Some(cases <= 1 << 8)
            } else if meta.path.is_ident("u16") {
                Some(cases <= 1 << 16)
            } else if meta.path.is_ident("u32") {
                Some(true)
            } else if meta.path.is_ident("C") {
                None
            } else {
                result = Err(meta.error("expected `#[repr(u8)]`, `#[repr(u16)]` or `#[repr(u32)]`"));
                None
            };
            if fits == Some(false) {
                let need = if cases <= 1 << 16 { "u16" } else { "u32" };
                result = Err(meta.error(format!("{cases} cases do not fit this repr; use `#[repr({need})]`")));
            }
            Ok(())
        })?;
        result?;
    }
    Ok(())
}

fn derive(input: &DeriveInput, which: Trait) -> syn::Result<TokenStream> {
    let kind = kind(input)?;
    let members = members(input, &kind)?;
    if let Kind::Enum = kind {
        check_repr(input, members.len())?;
    } else if let (Kind::Record, Some(repr)) = (&kind, input.attrs.iter().find(|a| a.path().is_ident("repr"))) {
        return Err(Error::new(repr.span(), "`#[repr]` has no meaning for a record"));
    }
    let k = quote!(::kiln::component::__internal);
    let bound: syn::Path = match which {
        Trait::ComponentType => parse_quote!(#k::ComponentType),
        Trait::Lower => parse_quote!(#k::Lower),
        Trait::Lift => parse_quote!(#k::Lift),
    };
    let generics = add_bounds(&input.generics, &bound);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let name = &input.ident;
    let body = match (which, kind) {
        (Trait::ComponentType, Kind::Record) => record_type(&k, &members),
        (Trait::ComponentType, Kind::Variant) => variant_type(&k, &members),
        (Trait::ComponentType, Kind::Enum) => enum_type(&k, &members),
        (Trait::Lower, Kind::Record) => record_lower(&k, &members),
        (Trait::Lower, Kind::Variant) => variant_lower(&k, &members, false),
        (Trait::Lower, Kind::Enum) => variant_lower(&k, &members, true),
        (Trait::Lift, Kind::Record) => record_lift(&k, &members),
        (Trait::Lift, Kind::Variant) => variant_lift(&k, &members, false),
        (Trait::Lift, Kind::Enum) => variant_lift(&k, &members, true),
    };
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #bound for #name #ty_generics #where_clause {
            #body
        }
    })
}

fn add_bounds(generics: &Generics, bound: &syn::Path) -> Generics {
    let mut generics = generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(parse_quote!(#bound));
    }
    generics
}

fn payload_layouts(k: &TokenStream, members: &[Member]) -> Vec<TokenStream> {
    members
        .iter()
        .map(|m| match &m.ty {
            Some(t) => quote!(::core::option::Option::Some(<#t as #k::ComponentType>::LAYOUT)),
            None => quote!(::core::option::Option::None),
        })
        .collect()
}

fn record_type(k: &TokenStream, members: &[Member]) -> TokenStream {
    let types: Vec<_> = members.iter().map(|m| m.ty.clone().expect("record fields have types")).collect();
    let names = members.iter().map(|m| &m.name);
    quote! {
        const LAYOUT: #k::AbiLayout = #k::AbiLayout::record(&[#(<#types as #k::ComponentType>::LAYOUT),*]);
        const POD: bool = true #(&& <#types as #k::ComponentType>::POD)*;
        fn ty() -> #k::ValueType {
            #k::ValueType::Record(::std::boxed::Box::new([#(#k::Field {
                name: ::std::string::String::from(#names),
                ty: <#types as #k::ComponentType>::ty(),
            }),*]))
        }
    }
}

fn variant_type(k: &TokenStream, members: &[Member]) -> TokenStream {
    let layouts = payload_layouts(k, members);
    let cases = members.iter().map(|m| {
        let name = &m.name;
        let ty = match &m.ty {
            Some(t) => quote!(::core::option::Option::Some(<#t as #k::ComponentType>::ty())),
            None => quote!(::core::option::Option::None),
        };
        quote!(#k::Case { name: ::std::string::String::from(#name), ty: #ty })
    });
    let payload_types: Vec<&Type> = members.iter().filter_map(|m| m.ty.as_ref()).collect();
    quote! {
        const LAYOUT: #k::AbiLayout = #k::AbiLayout::variant(&[#(#layouts),*]);
        const POD: bool = true #(&& <#payload_types as #k::ComponentType>::POD)*;
        fn ty() -> #k::ValueType {
            #k::ValueType::Variant(::std::boxed::Box::new([#(#cases),*]))
        }
    }
}

fn enum_type(k: &TokenStream, members: &[Member]) -> TokenStream {
    let n = members.len();
    let names = members.iter().map(|m| &m.name);
    quote! {
        const LAYOUT: #k::AbiLayout = #k::AbiLayout::enumeration(#n);
        const POD: bool = true;
        fn ty() -> #k::ValueType {
            #k::ValueType::Enum(::std::boxed::Box::new([#(::std::string::String::from(#names)),*]))
        }
    }
}

fn record_lower(k: &TokenStream, members: &[Member]) -> TokenStream {
    let n = members.len();
    let idents: Vec<_> = members.iter().map(|m| &m.ident).collect();
    let types: Vec<_> = members.iter().map(|m| m.ty.clone().expect("record fields have types")).collect();
    let names = members.iter().map(|m| &m.name);
    let index: Vec<_> = (0..n).collect();
    quote! {
        fn to_val(&self) -> #k::Val {
            #k::Val::Record(::std::vec![#((::std::string::String::from(#names), #k::Lower::to_val(&self.#idents))),*])
        }
        fn lower<C: #k::AbiMemory + ?Sized>(
            &self,
            cx: &mut C,
            ty: &#k::ValueType,
            dst: &mut [#k::ValRaw],
        ) -> #k::Result<()> {
            let fields = #k::record_fields(ty, #n)?;
            let mut at = 0usize;
            #(
                #k::Lower::lower(
                    &self.#idents,
                    cx,
                    &fields[#index].ty,
                    #k::next_flat_mut(dst, &mut at, <#types as #k::ComponentType>::LAYOUT.flat),
                )?;
            )*
            ::core::result::Result::Ok(())
        }
        fn store<C: #k::AbiMemory + ?Sized>(
            &self,
            cx: &mut C,
            ty: &#k::ValueType,
            offset: usize,
        ) -> #k::Result<()> {
            if <Self as #k::ComponentType>::POD {
                return #k::store_pod_at(self, cx, ty, offset);
            }
            let fields = #k::record_fields(ty, #n)?;
            let mut end = 0u32;
            #(
                #k::Lower::store(
                    &self.#idents,
                    cx,
                    &fields[#index].ty,
                    offset + #k::next_field(&mut end, <#types as #k::ComponentType>::LAYOUT),
                )?;
            )*
            ::core::result::Result::Ok(())
        }
        fn store_pod(&self, ty: &#k::ValueType, dst: &mut [u8]) -> #k::Result<()> {
            let fields = #k::record_fields(ty, #n)?;
            let mut end = 0u32;
            #({
                let layout = <#types as #k::ComponentType>::LAYOUT;
                let at = #k::next_field(&mut end, layout);
                #k::Lower::store_pod(&self.#idents, &fields[#index].ty, &mut dst[at..][..layout.size as usize])?;
            })*
            ::core::result::Result::Ok(())
        }
    }
}

fn record_lift(k: &TokenStream, members: &[Member]) -> TokenStream {
    let n = members.len();
    let idents: Vec<_> = members.iter().map(|m| &m.ident).collect();
    let types: Vec<_> = members.iter().map(|m| m.ty.clone().expect("record fields have types")).collect();
    let names: Vec<_> = members.iter().map(|m| &m.name).collect();
    let index: Vec<_> = (0..n).collect();
    quote! {
        fn from_val(value: #k::Val) -> #k::Result<Self> {
            let #k::Val::Record(fields) = value else { return #k::val_mismatch("record", &value) };
            let mut fields = fields.into_iter();
            ::core::result::Result::Ok(Self {#(
                #idents: {
                    let (name, value) = fields.next().ok_or_else(|| #k::anyhow!("missing record field `{}`", #names))?;
                    if name != #names {
                        #k::bail!("expected record field `{}`, found `{}`", #names, name);
                    }
                    <#types as #k::Lift>::from_val(value)?
                },
            )*})
        }
        fn lift<C: #k::AbiMemory + ?Sized>(
            cx: &C,
            ty: &#k::ValueType,
            src: &[#k::ValRaw],
        ) -> #k::Result<Self> {
            let fields = #k::record_fields(ty, #n)?;
            let mut at = 0usize;
            ::core::result::Result::Ok(Self {#(
                #idents: <#types as #k::Lift>::lift(
                    cx,
                    &fields[#index].ty,
                    #k::next_flat(src, &mut at, <#types as #k::ComponentType>::LAYOUT.flat),
                )?,
            )*})
        }
        fn load<C: #k::AbiMemory + ?Sized>(
            cx: &C,
            ty: &#k::ValueType,
            bytes: &[u8],
        ) -> #k::Result<Self> {
            let fields = #k::record_fields(ty, #n)?;
            let mut end = 0u32;
            ::core::result::Result::Ok(Self {#(
                #idents: {
                    let layout = <#types as #k::ComponentType>::LAYOUT;
                    let at = #k::next_field(&mut end, layout);
                    <#types as #k::Lift>::load(cx, &fields[#index].ty, &bytes[at..][..layout.size as usize])?
                },
            )*})
        }
    }
}

/// The component type's payload type of case `i`, for variants (enums have none).
fn case_ty(k: &TokenStream, i: usize) -> TokenStream {
    quote!(#k::case_payload(&cases[#i])?)
}

/// `let cases = ...` for variants; nothing for enums (whose cases have no types to look up).
fn cases_binding(k: &TokenStream, members: &[Member]) -> TokenStream {
    let n = members.len();
    if members.iter().any(|m| m.ty.is_some()) {
        quote!(let cases = #k::variant_cases(ty, #n)?;)
    } else {
        quote!(let _ = ty;)
    }
}

fn variant_lower(k: &TokenStream, members: &[Member], is_enum: bool) -> TokenStream {
    let n = members.len();
    let layouts = payload_layouts(k, members);
    let cases = cases_binding(k, members);
    let mut to_val = Vec::new();
    let mut lower = Vec::new();
    let mut store = Vec::new();
    let mut store_pod = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let ident = &m.ident;
        let name = &m.name;
        let d = i as u32;
        match &m.ty {
            None if is_enum => {
                to_val.push(quote!(Self::#ident => #k::Val::Enum(::std::string::String::from(#name)),));
            }
            None => {
                to_val.push(quote!(Self::#ident => #k::Val::Variant(::std::string::String::from(#name), ::core::option::Option::None),));
            }
            Some(_) => {
                to_val.push(quote!(Self::#ident(v) => #k::Val::Variant(
                    ::std::string::String::from(#name),
                    ::core::option::Option::Some(::std::boxed::Box::new(#k::Lower::to_val(v))),
                ),));
            }
        }
        match &m.ty {
            None => {
                lower.push(quote!(Self::#ident => #k::lower_discriminant(dst, #d, 0),));
                store.push(quote!(Self::#ident => #k::store_discriminant(cx, #n, offset, #d)?,));
                store_pod.push(quote!(Self::#ident => #k::write_discriminant(dst, #n, #d),));
            }
            Some(t) => {
                let case_ty = case_ty(k, i);
                lower.push(quote!(Self::#ident(v) => {
                    let flat = <#t as #k::ComponentType>::LAYOUT.flat;
                    #k::lower_discriminant(dst, #d, flat);
                    #k::Lower::lower(v, cx, #case_ty, &mut dst[1..][..flat as usize])?;
                }));
                store.push(quote!(Self::#ident(v) => {
                    #k::store_discriminant(cx, #n, offset, #d)?;
                    #k::Lower::store(v, cx, #case_ty, payload_at)?;
                }));
                store_pod.push(quote!(Self::#ident(v) => {
                    #k::write_discriminant(dst, #n, #d);
                    let size = <#t as #k::ComponentType>::LAYOUT.size as usize;
                    #k::Lower::store_pod(v, #case_ty, &mut dst[payload_at..][..size])?;
                }));
            }
        }
    }
    quote! {
        fn to_val(&self) -> #k::Val {
            match self { #(#to_val)* }
        }
        fn lower<C: #k::AbiMemory + ?Sized>(
            &self,
            cx: &mut C,
            ty: &#k::ValueType,
            dst: &mut [#k::ValRaw],
        ) -> #k::Result<()> {
            #cases
            let _ = &cx;
            match self { #(#lower)* }
            ::core::result::Result::Ok(())
        }
        fn store<C: #k::AbiMemory + ?Sized>(
            &self,
            cx: &mut C,
            ty: &#k::ValueType,
            offset: usize,
        ) -> #k::Result<()> {
            if <Self as #k::ComponentType>::POD {
                return #k::store_pod_at(self, cx, ty, offset);
            }
            #cases
            let payload_at = offset + #k::AbiLayout::variant_payload_offset(&[#(#layouts),*]) as usize;
            let _ = payload_at;
            match self { #(#store)* }
            ::core::result::Result::Ok(())
        }
        fn store_pod(&self, ty: &#k::ValueType, dst: &mut [u8]) -> #k::Result<()> {
            #cases
            let payload_at = #k::AbiLayout::variant_payload_offset(&[#(#layouts),*]) as usize;
            let _ = payload_at;
            match self { #(#store_pod)* }
            ::core::result::Result::Ok(())
        }
    }
}

fn variant_lift(k: &TokenStream, members: &[Member], is_enum: bool) -> TokenStream {
    let n = members.len();
    let layouts = payload_layouts(k, members);
    let cases = cases_binding(k, members);
    let mut from_val = Vec::new();
    let mut lift = Vec::new();
    let mut load = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let ident = &m.ident;
        let name = &m.name;
        let d = i as u32;
        match &m.ty {
            None => {
                from_val.push(quote!(#name => Self::#ident,));
                lift.push(quote!(#d => Self::#ident,));
                load.push(quote!(#d => Self::#ident,));
            }
            Some(t) => {
                let case_ty = case_ty(k, i);
                from_val.push(
                    quote!(#name => Self::#ident(<#t as #k::Lift>::from_val(#k::val_payload(payload, #name)?)?),),
                );
                lift.push(quote!(#d => Self::#ident(<#t as #k::Lift>::lift(
                    cx,
                    #case_ty,
                    &src[1..][..<#t as #k::ComponentType>::LAYOUT.flat as usize],
                )?),));
                load.push(quote!(#d => Self::#ident(<#t as #k::Lift>::load(
                    cx,
                    #case_ty,
                    &bytes[payload_at..][..<#t as #k::ComponentType>::LAYOUT.size as usize],
                )?),));
            }
        }
    }
    let unpack = if is_enum {
        quote! {
            let #k::Val::Enum(case) = value else { return #k::val_mismatch("enum", &value) };
        }
    } else {
        quote! {
            let #k::Val::Variant(case, payload) = value else { return #k::val_mismatch("variant", &value) };
            let _ = &payload;
        }
    };
    let what = if is_enum { "enum" } else { "variant" };
    quote! {
        fn from_val(value: #k::Val) -> #k::Result<Self> {
            #unpack
            ::core::result::Result::Ok(match case.as_str() {
                #(#from_val)*
                other => #k::bail!("unknown {} case `{}`", #what, other),
            })
        }
        fn lift<C: #k::AbiMemory + ?Sized>(
            cx: &C,
            ty: &#k::ValueType,
            src: &[#k::ValRaw],
        ) -> #k::Result<Self> {
            #cases
            let _ = &cx;
            ::core::result::Result::Ok(match #k::lift_discriminant(src, #n)? {
                #(#lift)*
                d => #k::bail!("discriminant {} out of range", d),
            })
        }
        fn load<C: #k::AbiMemory + ?Sized>(
            cx: &C,
            ty: &#k::ValueType,
            bytes: &[u8],
        ) -> #k::Result<Self> {
            #cases
            let _ = &cx;
            let payload_at = #k::AbiLayout::variant_payload_offset(&[#(#layouts),*]) as usize;
            let _ = payload_at;
            ::core::result::Result::Ok(match #k::load_discriminant(bytes, #n)? {
                #(#load)*
                d => #k::bail!("discriminant {} out of range", d),
            })
        }
    }
}
