//! A WIT world as Rust source text: types, host traits with `add_to_linker` for imports, typed
//! wrappers for exports, and the world's struct with `instantiate`, `new`, `...Pre` and
//! `add_to_linker`.
//!
//! Imported interfaces become modules `ns::pkg::iface`, exported ones `exports::ns::pkg::iface`;
//! world-level items stay at the macro's call site. Type references between modules are relative
//! (`super::...`), so the output works wherever the macro is invoked.

use super::names::{camel, shouty, snake};
use super::{ImportFlags, Opts};
use anyhow::{Result, bail};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use wit_parser::{
    Docs, Function, FunctionKind, Handle, InterfaceId, Resolve, Type, TypeDefKind, TypeId, TypeOwner, WorldId,
    WorldItem, WorldKey,
};

const K: &str = "::kiln::component";

/// Where generated code is: which module, and which interface it belongs to.
#[derive(Clone)]
struct Ctx {
    module: Vec<String>,
    iface: Option<InterfaceId>,
    exported: bool,
}

/// How a type is used: owned (fields, results, host parameters) or borrowed (parameters of
/// calls into the guest: `&str`, `&[T]`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Owned,
    Param,
}

#[derive(Default)]
struct Module {
    items: String,
    children: BTreeMap<String, Module>,
}

impl Module {
    fn at(&mut self, path: &[String]) -> &mut Module {
        match path.split_first() {
            None => self,
            Some((first, rest)) => self.children.entry(first.clone()).or_default().at(rest),
        }
    }

    fn render(&self, out: &mut String, depth: usize) {
        let pad = "    ".repeat(depth);
        for line in self.items.lines() {
            if line.is_empty() {
                out.push('\n');
            } else {
                writeln!(out, "{pad}{line}").unwrap();
            }
        }
        for (name, child) in &self.children {
            writeln!(out, "{pad}#[allow(clippy::all, dead_code, unused_imports)]").unwrap();
            writeln!(out, "{pad}pub mod {name} {{").unwrap();
            child.render(out, depth + 1);
            writeln!(out, "{pad}}}").unwrap();
        }
    }
}

struct Gen<'a> {
    resolve: &'a Resolve,
    opts: &'a Opts,
    import_paths: HashMap<InterfaceId, Vec<String>>,
    export_paths: HashMap<InterfaceId, Vec<String>>,
    with: HashMap<InterfaceId, String>,
    /// Resources mapped to the embedder's own Rust types.
    with_types: HashMap<TypeId, String>,
    /// The `...WithStore` traits the world's `add_to_linker` needs on `D`.
    store_bounds: std::cell::RefCell<Vec<String>>,
    root: Module,
}

/// Generates the bindings of `world`.
pub fn generate(resolve: &Resolve, world: WorldId, opts: &Opts) -> Result<String> {
    let mut g = Gen {
        resolve,
        opts,
        import_paths: HashMap::new(),
        export_paths: HashMap::new(),
        with: HashMap::new(),
        with_types: HashMap::new(),
        store_bounds: Default::default(),
        root: Module::default(),
    };
    let w = &resolve.worlds[world];
    for (name, path) in &opts.with {
        // An interface's name, with or without its version.
        let names_iface = |id: InterfaceId, wanted: &str| {
            let Some(full) = resolve.id_of(id) else { return false };
            full == wanted || full.split('@').next() == Some(wanted)
        };
        if let Some((id, _)) = resolve.interfaces.iter().find(|(id, _)| names_iface(*id, name)) {
            g.with.insert(id, path.clone());
            continue;
        }
        // `ns:pkg/iface/type`: a resource type of an interface.
        let by_type = name.rsplit_once('/').and_then(|(iface, ty)| {
            let (_, i) = resolve.interfaces.iter().find(|(id, _)| names_iface(*id, iface))?;
            i.types.get(ty).copied()
        });
        match by_type {
            Some(ty) => {
                g.with_types.insert(ty, path.clone());
            }
            None => bail!("`with` names `{name}`, which is not an interface or type of the WIT"),
        }
    }
    for (key, item) in &w.imports {
        if let WorldItem::Interface { id, .. } = item {
            g.import_paths.insert(*id, g.iface_module(key, *id, false));
        }
    }
    for (key, item) in &w.exports {
        if let WorldItem::Interface { id, .. } = item {
            g.export_paths.insert(*id, g.iface_module(key, *id, true));
        }
    }
    g.world(world)?;
    let mut out = String::new();
    g.root.render(&mut out, 0);
    Ok(out)
}

/// A tuple expression or type: `()`, `(a,)`, `(a, b)`.
fn tuple(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.len() {
        1 => format!("({},)", items[0]),
        _ => format!("({})", items.join(", ")),
    }
}

fn docs(out: &mut String, docs: &Docs) {
    if let Some(text) = &docs.contents {
        for line in text.lines() {
            writeln!(out, "/// {}", line.trim_end()).unwrap();
        }
    }
}

impl<'a> Gen<'a> {
    /// The module of an interface: `ns::pkg::iface`, under `exports` for exports; an interface
    /// imported or exported by a plain name gets that name.
    fn iface_module(&self, key: &WorldKey, id: InterfaceId, export: bool) -> Vec<String> {
        let mut path = Vec::new();
        if export {
            path.push("exports".to_string());
        }
        match key {
            WorldKey::Name(name) => path.push(snake(name)),
            WorldKey::Interface(_) => {
                let iface = &self.resolve.interfaces[id];
                if let Some(pkg) = iface.package {
                    let pkg = &self.resolve.packages[pkg].name;
                    path.push(snake(&pkg.namespace));
                    path.push(snake(&pkg.name));
                }
                path.push(snake(iface.name.as_deref().unwrap_or("interface")));
            }
        }
        path
    }

    // -----------------------------------------------------------------------------------------
    // Types

    fn relative(&self, ctx: &Ctx, target: &[String]) -> String {
        if ctx.module == target {
            return String::new();
        }
        // `self::` at the root: a package namespace may be named like a crate (`kiln`).
        let mut s = if ctx.module.is_empty() { "self::".to_string() } else { "super::".repeat(ctx.module.len()) };
        for part in target {
            s.push_str(part);
            s.push_str("::");
        }
        s
    }

    /// The path to the named type `id` from `ctx`.
    fn type_path(&self, id: TypeId, ctx: &Ctx) -> String {
        let td = &self.resolve.types[id];
        let name = camel(td.name.as_deref().expect("named type"));
        match td.owner {
            TypeOwner::Interface(i) => {
                if let Some(path) = self.with.get(&i) {
                    return format!("{path}::{name}");
                }
                let target = if ctx.exported && ctx.iface == Some(i) {
                    ctx.module.clone()
                } else if let Some(p) = self.import_paths.get(&i) {
                    p.clone()
                } else {
                    self.export_paths.get(&i).cloned().unwrap_or_default()
                };
                format!("{}{name}", self.relative(ctx, &target))
            }
            TypeOwner::World(_) | TypeOwner::None => format!("{}{name}", self.relative(ctx, &[])),
        }
    }

    /// Whether handles to resource `id` are the host's (`Resource<T>`) rather than a guest's
    /// (`ResourceAny`): resources of exported interfaces belong to the guest.
    fn host_resource(&self, id: TypeId) -> bool {
        let id = self.dealias(id);
        match self.resolve.types[id].owner {
            TypeOwner::Interface(i) => !self.export_paths.contains_key(&i) || self.import_paths.contains_key(&i),
            _ => true,
        }
    }

    fn dealias(&self, mut id: TypeId) -> TypeId {
        while let TypeDefKind::Type(Type::Id(next)) = &self.resolve.types[id].kind {
            id = *next;
        }
        id
    }

    fn ty(&self, ty: &Type, ctx: &Ctx, mode: Mode) -> Result<String> {
        Ok(match ty {
            Type::Bool => "bool".into(),
            Type::U8 => "u8".into(),
            Type::U16 => "u16".into(),
            Type::U32 => "u32".into(),
            Type::U64 => "u64".into(),
            Type::S8 => "i8".into(),
            Type::S16 => "i16".into(),
            Type::S32 => "i32".into(),
            Type::S64 => "i64".into(),
            Type::F32 => "f32".into(),
            Type::F64 => "f64".into(),
            Type::Char => "char".into(),
            Type::String if mode == Mode::Param => "&str".into(),
            Type::String => "String".into(),
            Type::ErrorContext => bail!("unsupported feature: `error-context` (part of the async ABI)"),
            Type::Id(id) => {
                let td = &self.resolve.types[*id];
                if td.name.is_some() {
                    return Ok(self.type_path(*id, ctx));
                }
                self.kind(&td.kind, ctx, mode)?
            }
        })
    }

    /// An anonymous type (or the right-hand side of a named one that is not nominal).
    fn kind(&self, kind: &TypeDefKind, ctx: &Ctx, mode: Mode) -> Result<String> {
        let owned = |t: &Type| self.ty(t, ctx, Mode::Owned);
        Ok(match kind {
            TypeDefKind::List(t) if mode == Mode::Param => format!("&[{}]", owned(t)?),
            TypeDefKind::List(t) => format!("Vec<{}>", owned(t)?),
            TypeDefKind::FixedLengthList(t, n) => format!("[{}; {n}]", owned(t)?),
            TypeDefKind::Option(t) => format!("Option<{}>", owned(t)?),
            TypeDefKind::Result(r) => {
                let side = |t: &Option<Type>| t.as_ref().map(owned).transpose().map(|t| t.unwrap_or("()".into()));
                format!("Result<{}, {}>", side(&r.ok)?, side(&r.err)?)
            }
            TypeDefKind::Tuple(t) => {
                let items = t.types.iter().map(owned).collect::<Result<Vec<_>>>()?;
                format!("({},)", items.join(", "))
            }
            TypeDefKind::Handle(Handle::Own(r) | Handle::Borrow(r)) => {
                if self.host_resource(*r) {
                    format!("{K}::Resource<{}>", self.type_path(self.dealias(*r), ctx))
                } else {
                    format!("{K}::ResourceAny")
                }
            }
            TypeDefKind::Type(t) => self.ty(t, ctx, mode)?,
            TypeDefKind::Map(..) => bail!("unsupported feature: `map` types in bindgen!"),
            TypeDefKind::Future(_) | TypeDefKind::Stream(_) => {
                bail!("unsupported feature: `future` and `stream` types (part of the async ABI)")
            }
            TypeDefKind::Record(_)
            | TypeDefKind::Variant(_)
            | TypeDefKind::Enum(_)
            | TypeDefKind::Flags(_)
            | TypeDefKind::Resource
            | TypeDefKind::Unknown => bail!("a {} type must be named in WIT", kind.as_str()),
        })
    }

    fn derives(&self, base: &[&str]) -> String {
        let mut all: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        for d in &self.opts.additional_derives {
            if !all.contains(d) {
                all.push(d.clone());
            }
        }
        format!("#[derive({})]\n", all.join(", "))
    }

    /// The definitions of the named types `types` in the module of `ctx`.
    fn typedefs<'b>(&self, types: impl Iterator<Item = (&'b String, &'b TypeId)>, ctx: &Ctx) -> Result<String> {
        let mut out = String::new();
        for (name, id) in types {
            let td = &self.resolve.types[*id];
            let rust = camel(name);
            docs(&mut out, &td.docs);
            match &td.kind {
                TypeDefKind::Record(r) => {
                    out.push_str(&format!(
                        "#[derive({K}::ComponentType, {K}::Lift, {K}::Lower)]\n#[component(record)]\n"
                    ));
                    out.push_str(&self.derives(&["Clone", "Debug"]));
                    writeln!(out, "pub struct {rust} {{").unwrap();
                    for f in &r.fields {
                        docs(&mut out, &f.docs);
                        writeln!(out, "    #[component(name = \"{}\")]", f.name).unwrap();
                        writeln!(out, "    pub {}: {},", snake(&f.name), self.ty(&f.ty, ctx, Mode::Owned)?).unwrap();
                    }
                    out.push_str("}\n");
                }
                TypeDefKind::Variant(v) => {
                    out.push_str(&format!(
                        "#[derive({K}::ComponentType, {K}::Lift, {K}::Lower)]\n#[component(variant)]\n"
                    ));
                    out.push_str(&self.derives(&["Clone", "Debug"]));
                    writeln!(out, "pub enum {rust} {{").unwrap();
                    for c in &v.cases {
                        docs(&mut out, &c.docs);
                        writeln!(out, "    #[component(name = \"{}\")]", c.name).unwrap();
                        match &c.ty {
                            Some(t) => writeln!(out, "    {}({}),", camel(&c.name), self.ty(t, ctx, Mode::Owned)?),
                            None => writeln!(out, "    {},", camel(&c.name)),
                        }
                        .unwrap();
                    }
                    out.push_str("}\n");
                }
                TypeDefKind::Enum(e) => {
                    let repr = match e.cases.len() {
                        0..=256 => "u8",
                        257..=65536 => "u16",
                        _ => "u32",
                    };
                    out.push_str(&format!(
                        "#[derive({K}::ComponentType, {K}::Lift, {K}::Lower)]\n#[component(enum)]\n#[repr({repr})]\n"
                    ));
                    out.push_str(&self.derives(&["Clone", "Copy", "Debug", "PartialEq", "Eq"]));
                    writeln!(out, "pub enum {rust} {{").unwrap();
                    for c in &e.cases {
                        docs(&mut out, &c.docs);
                        writeln!(out, "    #[component(name = \"{}\")]", c.name).unwrap();
                        writeln!(out, "    {},", camel(&c.name)).unwrap();
                    }
                    out.push_str("}\n");
                }
                TypeDefKind::Flags(f) => {
                    writeln!(out, "{K}::flags! {{").unwrap();
                    writeln!(out, "    pub {rust} {{").unwrap();
                    for flag in &f.flags {
                        writeln!(out, "        #[component(name = \"{}\")]", flag.name).unwrap();
                        writeln!(out, "        const {};", shouty(&flag.name)).unwrap();
                    }
                    out.push_str("    }\n}\n");
                }
                TypeDefKind::Resource => {
                    if let Some(path) = self.with_types.get(id) {
                        writeln!(out, "pub type {rust} = {path};").unwrap();
                    } else if self.host_resource(*id) {
                        writeln!(out, "pub enum {rust} {{}}").unwrap();
                    } else {
                        writeln!(out, "pub type {rust} = {K}::ResourceAny;").unwrap();
                    }
                }
                other => {
                    writeln!(out, "pub type {rust} = {};", self.kind(other, ctx, Mode::Owned)?).unwrap();
                }
            }
            out.push('\n');
        }
        Ok(out)
    }

    // -----------------------------------------------------------------------------------------
    // Imports

    /// The Rust name of an import or export function: its item name (after `.` for methods),
    /// `new` for constructors.
    fn func_name(f: &Function) -> String {
        match f.kind {
            FunctionKind::Constructor(_) => "new".into(),
            _ => snake(f.item_name()),
        }
    }

    fn params(&self, f: &Function, ctx: &Ctx, mode: Mode) -> Result<Vec<(String, String)>> {
        f.params
            .iter()
            .map(|p| {
                let name = if p.name == "self" { "self_".to_string() } else { snake(&p.name) };
                Ok((name, self.ty(&p.ty, ctx, mode)?))
            })
            .collect()
    }

    fn result(&self, f: &Function, ctx: &Ctx) -> Result<String> {
        Ok(match (&f.kind, &f.result) {
            (_, Some(t)) => self.ty(t, ctx, Mode::Owned)?,
            (_, None) => "()".into(),
        })
    }

    fn check_sync(f: &Function) -> Result<()> {
        if f.params.len() > 20 {
            bail!("function `{}` has {} parameters; kiln's typed functions take at most 20", f.name, f.params.len());
        }
        if f.kind.is_async() {
            bail!("unsupported feature: async function `{}` (kiln's bindings are synchronous)", f.name);
        }
        Ok(())
    }

    /// The host traits of imported functions and resources: `trait_name` holds the plain
    /// functions, `Host{Resource}` the resources' functions. Returns the trait text, the
    /// registration statements for `add_to_linker`, and the resource traits (supertraits).
    fn import_funcs(
        &self,
        funcs: &[&Function],
        resources: &[(String, TypeId)],
        iface_name: Option<&str>,
        trait_name: &str,
        ctx: &Ctx,
    ) -> Result<ImportTraits> {
        let mut out = String::new();
        let mut register = String::new();
        let mut supertraits = Vec::new();
        let mut store_traits = Vec::new();
        for (wit_name, rid) in resources {
            let res = camel(wit_name);
            let host_trait = format!("Host{res}");
            supertraits.push(host_trait.clone());
            let mine: Vec<&&Function> = funcs.iter().filter(|f| f.kind.resource() == Some(*rid)).collect();
            let mut decls = Vec::new();
            let mut store_decls = Vec::new();
            for f in &mine {
                Self::check_sync(f)?;
                if self.flags(iface_name, f).store {
                    store_decls.push(self.host_method(f, iface_name, ctx)?);
                } else {
                    decls.push(self.host_method(f, iface_name, ctx)?);
                }
            }
            if !store_decls.is_empty() {
                let name = format!("{host_trait}WithStore");
                self.store_trait(&mut out, &name, &store_decls);
                store_traits.push(name);
            }
            decls.push((
                "drop".to_string(),
                vec![("rep".to_string(), format!("{K}::Resource<{res}>"))],
                "::kiln::Result<()>".to_string(),
            ));
            self.host_trait(&mut out, &host_trait, &[], &decls);
            writeln!(
                register,
                "inst.resource(\"{wit_name}\", {K}::ResourceType::host::<{res}>(), move |mut store, rep| -> ::kiln::Result<()> {{\n    {host_trait}::drop(&mut host_getter(store.data_mut()), {K}::Resource::new_own(rep))\n}})?;"
            )
            .unwrap();
            for f in &mine {
                register.push_str(&self.register(f, &host_trait, iface_name, ctx)?);
            }
        }
        let plain: Vec<&&Function> = funcs.iter().filter(|f| f.kind.resource().is_none()).collect();
        let mut decls = Vec::new();
        let mut store_decls = Vec::new();
        for f in &plain {
            Self::check_sync(f)?;
            if self.flags(iface_name, f).store {
                store_decls.push(self.host_method(f, iface_name, ctx)?);
            } else {
                decls.push(self.host_method(f, iface_name, ctx)?);
            }
            register.push_str(&self.register(f, trait_name, iface_name, ctx)?);
        }
        if !store_decls.is_empty() {
            let name = format!("{trait_name}WithStore");
            self.store_trait(&mut out, &name, &store_decls);
            store_traits.push(name);
        }
        self.host_trait(&mut out, trait_name, &supertraits, &decls);
        Ok(ImportTraits { text: out, register, store_traits })
    }

    /// The trait of imports with the `store` flag: implemented on the `HasData` type, each
    /// function gets an `Access` to the store and the host state.
    fn store_trait(&self, out: &mut String, name: &str, decls: &[HostMethod]) {
        writeln!(out, "pub trait {name}: {K}::HasData {{").unwrap();
        for (fname, params, result) in decls {
            let ps: String = params.iter().map(|(n, t)| format!(", {n}: {t}")).collect();
            writeln!(out, "    fn {fname}<T: 'static>(host: {K}::Access<'_, T, Self>{ps}) -> {result};").unwrap();
        }
        out.push_str("}\n\n");
    }

    /// One host trait method: name, parameters, return type.
    fn host_method(&self, f: &Function, iface: Option<&str>, ctx: &Ctx) -> Result<HostMethod> {
        let params = self.params(f, ctx, Mode::Owned)?;
        let mut result = self.result(f, ctx)?;
        if self.flags(iface, f).trappable {
            result = format!("::kiln::Result<{result}>");
        }
        Ok((Self::func_name(f), params, result))
    }

    fn flags(&self, iface: Option<&str>, f: &Function) -> ImportFlags {
        self.opts.import_flags(iface, &f.name)
    }

    fn host_trait(&self, out: &mut String, name: &str, supertraits: &[String], decls: &[HostMethod]) {
        let sup = if supertraits.is_empty() { String::new() } else { format!(": {}", supertraits.join(" + ")) };
        writeln!(out, "pub trait {name}{sup} {{").unwrap();
        for (fname, params, result) in decls {
            let ps: String = params.iter().map(|(n, t)| format!(", {n}: {t}")).collect();
            writeln!(out, "    fn {fname}(&mut self{ps}) -> {result};").unwrap();
        }
        out.push_str("}\n");
        writeln!(out, "impl<_T: {name} + ?Sized> {name} for &mut _T {{").unwrap();
        for (fname, params, result) in decls {
            let ps: String = params.iter().map(|(n, t)| format!(", {n}: {t}")).collect();
            let args: String = params.iter().map(|(n, _)| format!(", {n}")).collect();
            writeln!(out, "    fn {fname}(&mut self{ps}) -> {result} {{\n        {name}::{fname}(*self{args})\n    }}")
                .unwrap();
        }
        out.push_str("}\n\n");
    }

    /// The `func_wrap` that registers import `f`, calling `trait_name::name`.
    fn register(&self, f: &Function, trait_name: &str, iface: Option<&str>, ctx: &Ctx) -> Result<String> {
        let params = self.params(f, ctx, Mode::Owned)?;
        let pattern = tuple((0..params.len()).map(|i| format!("arg{i}")));
        let types = tuple(params.iter().map(|(_, t)| t.clone()));
        let args: String = (0..params.len()).map(|i| format!(", arg{i}")).collect();
        let flags = self.flags(iface, f);
        let value = if flags.trappable { "r?" } else { "r" };
        let ret = if f.result.is_some() { format!("Ok(({value},))") } else { format!("Ok({value})") };
        if flags.store {
            let resource_trait = match f.kind.resource() {
                Some(r) => format!("Host{}WithStore", camel(self.resolve.types[r].name.as_deref().unwrap_or_default())),
                None => format!("{trait_name}WithStore"),
            };
            return Ok(format!(
                "inst.func_wrap(\"{wit}\", move |caller: ::kiln::StoreContextMut<'_, T>, {pattern}: {types}| {{\n    let host = {K}::Access::<T, D>::new(caller, host_getter);\n    let r = <D as {resource_trait}>::{name}(host{args});\n    {ret}\n}})?;\n",
                wit = f.name,
                name = Self::func_name(f),
            ));
        }
        Ok(format!(
            "inst.func_wrap(\"{wit}\", move |mut caller: ::kiln::StoreContextMut<'_, T>, {pattern}: {types}| {{\n    let host = &mut host_getter(caller.data_mut());\n    let r = {trait_name}::{name}(host{args});\n    {ret}\n}})?;\n",
            wit = f.name,
            name = Self::func_name(f),
        ))
    }

    /// `add_to_linker` for a set of host traits under the linker namespace `namespace`
    /// (`None`: the root).
    fn add_to_linker(
        &self,
        fn_name: &str,
        bound: &str,
        store_traits: &[String],
        namespace: Option<&str>,
        register: &str,
    ) -> String {
        let d_bound: String = store_traits.iter().map(|t| format!(" + {t}")).collect();
        let inst = match namespace {
            Some(n) => format!("let mut inst = linker.instance(\"{n}\")?;"),
            None => "let mut inst = linker.root();".to_string(),
        };
        let body: String = register.lines().map(|l| format!("    {l}\n")).collect();
        format!(
            "pub fn {fn_name}<T: 'static, D>(\n    linker: &mut {K}::Linker<T>,\n    host_getter: fn(&mut T) -> D::Data<'_>,\n) -> ::kiln::Result<()>\nwhere\n    D: {K}::HasData{d_bound},\n    for<'a> D::Data<'a>: {bound},\n{{\n    {inst}\n    let _ = &mut inst;\n{body}    Ok(())\n}}\n"
        )
    }

    fn resources_of(&self, types: impl Iterator<Item = (String, TypeId)>) -> Vec<(String, TypeId)> {
        types.filter(|(_, id)| matches!(self.resolve.types[*id].kind, TypeDefKind::Resource)).collect()
    }

    /// An imported interface: its types, `Host` traits and `add_to_linker`.
    fn import_interface(&mut self, key: &WorldKey, id: InterfaceId) -> Result<()> {
        if self.with.contains_key(&id) {
            return Ok(());
        }
        let path = self.import_paths[&id].clone();
        let ctx = Ctx { module: path.clone(), iface: Some(id), exported: false };
        let iface = &self.resolve.interfaces[id];
        let name = self.resolve.name_world_key(key);
        let mut out = String::new();
        docs(&mut out, &iface.docs);
        out.push_str(&self.typedefs(iface.types.iter(), &ctx)?);
        let funcs: Vec<&Function> = iface.functions.values().collect();
        let resources = self.resources_of(iface.types.iter().map(|(n, id)| (n.clone(), *id)));
        let traits = self.import_funcs(&funcs, &resources, Some(&name), "Host", &ctx)?;
        out.push_str(&traits.text);
        out.push_str(&self.add_to_linker("add_to_linker", "Host", &traits.store_traits, Some(&name), &traits.register));
        let module = self.import_paths[&id].join("::");
        self.store_bounds.borrow_mut().extend(traits.store_traits.iter().map(|t| format!("self::{module}::{t}")));
        self.root.at(&path).items.push_str(&out);
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Exports

    /// The Rust type of the parameters and results of export `f`, for `TypedFunc`.
    fn typed_sig(&self, f: &Function, ctx: &Ctx) -> Result<(String, String)> {
        let params = self.params(f, ctx, Mode::Param)?;
        let p = tuple(params.iter().map(|(_, t)| t.clone()));
        let r = match &f.result {
            Some(t) => format!("({},)", self.ty(t, ctx, Mode::Owned)?),
            None => "()".into(),
        };
        Ok((p, r))
    }

    /// A `call_*` method for export `f` stored in field `field`.
    fn call_method(&self, f: &Function, method: &str, field: &str, ctx: &Ctx) -> Result<String> {
        let params = self.params(f, ctx, Mode::Param)?;
        let (p, r) = self.typed_sig(f, ctx)?;
        let ps: String = params.iter().enumerate().map(|(i, (_, t))| format!(", arg{i}: {t}")).collect();
        let args = tuple((0..params.len()).map(|i| format!("arg{i}")));
        let result = match &f.result {
            Some(t) => self.ty(t, ctx, Mode::Owned)?,
            None => "()".into(),
        };
        let (bind, value) = if f.result.is_some() { ("(ret0,)", "ret0") } else { ("()", "()") };
        Ok(format!(
            "pub fn {method}<S: ::kiln::AsContextMut>(&self, mut store: S{ps}) -> ::kiln::Result<{result}>\nwhere\n    S::Data: 'static,\n{{\n    // SAFETY: the type was checked when the function was loaded.\n    let callee = unsafe {{ {K}::TypedFunc::<{p}, {r}>::new_unchecked(self.{field}) }};\n    let {bind} = callee.call(store.as_context_mut(), {args})?;\n    Ok({value})\n}}\n"
        ))
    }

    /// Fields, lookups, loads and methods for a set of exported functions.
    fn export_funcs(&self, funcs: &[&Function], ctx: &Ctx) -> Result<ExportFuncs> {
        let mut e = ExportFuncs::default();
        for f in funcs {
            Self::check_sync(f)?;
            let field = snake(&f.name.replace(['[', ']', '.'], "-").trim_start_matches('-').replace("--", "-"));
            let (p, r) = self.typed_sig(f, ctx)?;
            writeln!(e.fields, "{field}: {K}::Func,").unwrap();
            writeln!(e.index_fields, "{field}: {K}::ComponentExportIndex,").unwrap();
            writeln!(e.lookups, "let {field} = lookup(\"{}\")?;", f.name).unwrap();
            writeln!(e.loads, "let {field} = *instance.get_typed_func::<{p}, {r}>(&mut store, &self.{field})?.func();")
                .unwrap();
            e.names.push(field.clone());
            match f.kind {
                FunctionKind::Freestanding => {
                    e.methods.push_str(&self.call_method(f, &format!("call_{}", snake(&f.name)), &field, ctx)?)
                }
                FunctionKind::Constructor(r) | FunctionKind::Method(r) | FunctionKind::Static(r) => {
                    let method = match f.kind {
                        FunctionKind::Constructor(_) => "call_constructor".to_string(),
                        _ => format!("call_{}", snake(f.item_name())),
                    };
                    let text = self.call_method(f, &method, &field, ctx)?.replace("self.", "self.funcs.");
                    e.resource_methods.entry(r).or_default().push_str(&text);
                }
                _ => bail!("unsupported function kind of `{}`", f.name),
            }
        }
        Ok(e)
    }

    /// An exported interface: its types, `Guest`, `GuestIndices` and per-resource accessors.
    fn export_interface(&mut self, key: &WorldKey, id: InterfaceId) -> Result<()> {
        let path = self.export_paths[&id].clone();
        let ctx = Ctx { module: path.clone(), iface: Some(id), exported: true };
        let iface = &self.resolve.interfaces[id];
        let name = self.resolve.name_world_key(key);
        let mut out = String::new();
        docs(&mut out, &iface.docs);
        out.push_str(&self.typedefs(iface.types.iter(), &ctx)?);
        let funcs: Vec<&Function> = iface.functions.values().collect();
        let e = self.export_funcs(&funcs, &ctx)?;
        let indent = |s: &str, n: usize| -> String {
            s.lines()
                .map(|l| if l.is_empty() { "\n".to_string() } else { format!("{}{l}\n", "    ".repeat(n)) })
                .collect()
        };
        write!(
            out,
            "/// The functions of the exported interface `{name}`, type-checked at load.\npub struct Guest {{\n{fields}}}\n\n\
             /// Where the functions of `{name}` are in a component: looked up once, loaded per instance.\n\
             #[derive(Clone)]\npub struct GuestIndices {{\n{index_fields}}}\n\n\
             /// Wasmtime's name for [`GuestIndices`].\npub type GuestPre = GuestIndices;\n\n\
             impl GuestIndices {{\n    /// Looks up the interface's functions in `component`.\n    pub fn new(component: &{K}::Component) -> ::kiln::Result<GuestIndices> {{\n        let (_, instance) = component\n            .export_index(None, \"{name}\")\n            .ok_or_else(|| {K}::__internal::anyhow!(\"no exported instance named `{name}`\"))?;\n        let lookup = |name: &str| {{\n            component\n                .export_index(Some(&instance), name)\n                .map(|(_, index)| index)\n                .ok_or_else(|| {K}::__internal::anyhow!(\"instance export `{name}` has no function `{{name}}`\"))\n        }};\n        let _ = &lookup;\n{lookups}        Ok(GuestIndices {{ {names} }})\n    }}\n\n    /// Loads the functions from `instance`, checking their types.\n    pub fn load(\n        &self,\n        mut store: impl ::kiln::AsContextMut<Data: 'static>,\n        instance: &{K}::Instance,\n    ) -> ::kiln::Result<Guest> {{\n        let _ = (&mut store, instance);\n{loads}        Ok(Guest {{ {names} }})\n    }}\n}}\n\n",
            fields = indent(&e.fields, 1),
            index_fields = indent(&e.index_fields, 1),
            lookups = indent(&e.lookups, 2),
            loads = indent(&e.loads, 2),
            names = e.names.join(", "),
        )
        .unwrap();
        writeln!(out, "impl Guest {{").unwrap();
        out.push_str(&indent(&e.methods, 1));
        for rid in e.resource_methods.keys() {
            let rname = self.resolve.types[*rid].name.clone().unwrap_or_default();
            writeln!(
                out,
                "    /// The functions of resource `{rname}`.\n    pub fn {}(&self) -> Guest{}<'_> {{\n        Guest{} {{ funcs: self }}\n    }}",
                snake(&rname),
                camel(&rname),
                camel(&rname)
            )
            .unwrap();
        }
        out.push_str("}\n\n");
        for (rid, methods) in &e.resource_methods {
            let rname = camel(self.resolve.types[*rid].name.as_deref().unwrap_or_default());
            writeln!(
                out,
                "/// The functions of an exported resource.\npub struct Guest{rname}<'a> {{\n    funcs: &'a Guest,\n}}\n\nimpl Guest{rname}<'_> {{\n{}}}\n",
                indent(methods, 1)
            )
            .unwrap();
        }
        self.root.at(&path).items.push_str(&out);
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // The world

    fn world(&mut self, world: WorldId) -> Result<()> {
        let w = &self.resolve.worlds[world];
        let wname = camel(&w.name);
        let root = Ctx { module: Vec::new(), iface: None, exported: false };
        let mut out = String::new();

        // World-level types and imports.
        let mut world_types = Vec::new();
        let mut import_funcs = Vec::new();
        let mut host_bounds = Vec::new();
        let mut add_calls = String::new();
        for (key, item) in &w.imports {
            match item {
                WorldItem::Type { id, .. } => {
                    if let WorldKey::Name(n) = key {
                        world_types.push((n.clone(), *id));
                    }
                }
                WorldItem::Function(f) => import_funcs.push(f),
                WorldItem::Interface { id, .. } => {
                    self.import_interface(key, *id)?;
                    let module = match self.with.get(id) {
                        Some(p) => p.clone(),
                        None => format!("self::{}", self.import_paths[id].join("::")),
                    };
                    host_bounds.push(format!("{module}::Host"));
                    writeln!(add_calls, "        {module}::add_to_linker::<T, D>(linker, host_getter)?;").unwrap();
                }
            }
        }
        let world_type_refs: Vec<(&String, &TypeId)> = world_types.iter().map(|(n, id)| (n, id)).collect();
        out.push_str(&self.typedefs(world_type_refs.into_iter(), &root)?);
        let imports_trait = format!("{wname}Imports");
        let resources = self.resources_of(world_types.iter().cloned());
        let has_world_imports = !import_funcs.is_empty() || !resources.is_empty();
        if has_world_imports {
            let traits = self.import_funcs(&import_funcs, &resources, None, &imports_trait, &root)?;
            out.push_str(&traits.text);
            self.store_bounds.borrow_mut().extend(traits.store_traits.iter().cloned());
            let (register, store_traits) = (traits.register, traits.store_traits);
            out.push_str(&format!("#[allow(clippy::all)]\nconst _: () = {{\n    impl {wname} {{\n"));
            out.push_str("        /// Adds the world's own imports (functions and resources not in an interface).\n");
            for l in self.add_to_linker("add_to_linker_imports", &imports_trait, &store_traits, None, &register).lines()
            {
                writeln!(out, "        {l}").unwrap();
            }
            out.push_str("    }\n};\n\n");
            host_bounds.push(imports_trait.clone());
            add_calls.insert_str(0, "        Self::add_to_linker_imports::<T, D>(linker, host_getter)?;\n");
        }

        // Exports.
        let mut fields = String::new();
        let mut index_fields = String::new();
        let mut index_new = String::new();
        let mut loads = String::new();
        let mut names = Vec::new();
        let mut methods = String::new();
        let mut world_export_funcs = Vec::new();
        for (key, item) in &w.exports {
            match item {
                WorldItem::Interface { id, .. } => {
                    self.export_interface(key, *id)?;
                    let module = format!("self::{}", self.export_paths[id].join("::"));
                    let field = format!("interface{}", names.len());
                    writeln!(fields, "    {field}: {module}::Guest,").unwrap();
                    writeln!(index_fields, "    {field}: {module}::GuestIndices,").unwrap();
                    writeln!(index_new, "        let {field} = {module}::GuestIndices::new(component)?;").unwrap();
                    writeln!(loads, "        let {field} = self.{field}.load(&mut store, instance)?;").unwrap();
                    let accessor = match key {
                        WorldKey::Name(n) => snake(n),
                        WorldKey::Interface(_) => self.export_paths[id][1..].join("_"),
                    };
                    writeln!(
                        methods,
                        "    /// The exported interface `{}`.\n    pub fn {accessor}(&self) -> &{module}::Guest {{\n        &self.{field}\n    }}",
                        self.resolve.name_world_key(key)
                    )
                    .unwrap();
                    names.push(field);
                }
                WorldItem::Function(f) => world_export_funcs.push(f),
                WorldItem::Type { .. } => {}
            }
        }
        let e = self.export_funcs(&world_export_funcs, &root)?;
        for line in e.fields.lines() {
            writeln!(fields, "    {line}").unwrap();
        }
        for line in e.index_fields.lines() {
            writeln!(index_fields, "    {line}").unwrap();
        }
        for f in &world_export_funcs {
            let field = snake(&f.name);
            writeln!(
                index_new,
                "        let {field} = component\n            .export_index(None, \"{}\")\n            .ok_or_else(|| {K}::__internal::anyhow!(\"no exported function `{}`\"))?\n            .1;",
                f.name, f.name
            )
            .unwrap();
        }
        for line in e.loads.lines() {
            writeln!(loads, "        {line}").unwrap();
        }
        names.extend(e.names.iter().cloned());
        for line in e.methods.lines() {
            writeln!(methods, "    {line}").unwrap();
        }
        let names = names.join(", ");
        let bounds = if host_bounds.is_empty() { "Sized".to_string() } else { host_bounds.join(" + ") };
        let d_bound: String = self.store_bounds.borrow().iter().map(|t| format!(" + {t}")).collect();
        write!(
            out,
            "/// The bindings of an instance of a component of the world `{world}`.\npub struct {wname} {{\n{fields}}}\n\n\
             /// Where the exports of the world `{world}` are in a component.\n#[derive(Clone)]\npub struct {wname}Indices {{\n{index_fields}}}\n\n\
             /// A component of the world `{world}` with its imports resolved, ready to instantiate.\npub struct {wname}Pre<T: 'static> {{\n    instance_pre: {K}::InstancePre<T>,\n    indices: {wname}Indices,\n}}\n\n\
             impl<T: 'static> Clone for {wname}Pre<T> {{\n    fn clone(&self) -> Self {{\n        Self {{ instance_pre: self.instance_pre.clone(), indices: self.indices.clone() }}\n    }}\n}}\n\n\
             #[allow(clippy::all)]\nconst _: () = {{\n\
             impl {wname}Indices {{\n    /// Looks up the world's exports in `component`.\n    pub fn new(component: &{K}::Component) -> ::kiln::Result<Self> {{\n        let _ = component;\n{index_new}        Ok({wname}Indices {{ {names} }})\n    }}\n\n    /// Loads the exports from `instance`, checking their types.\n    pub fn load(\n        &self,\n        mut store: impl ::kiln::AsContextMut<Data: 'static>,\n        instance: &{K}::Instance,\n    ) -> ::kiln::Result<{wname}> {{\n        let _ = (&mut store, instance);\n{loads}        Ok({wname} {{ {names} }})\n    }}\n}}\n\n\
             impl<T: 'static> {wname}Pre<T> {{\n    /// Looks up the exports of `instance_pre`'s component.\n    pub fn new(instance_pre: {K}::InstancePre<T>) -> ::kiln::Result<Self> {{\n        let indices = {wname}Indices::new(instance_pre.component())?;\n        Ok(Self {{ instance_pre, indices }})\n    }}\n\n    /// Instantiates the component in `store`.\n    pub fn instantiate(&self, mut store: impl ::kiln::AsContextMut<Data = T>) -> ::kiln::Result<{wname}> {{\n        let instance = self.instance_pre.instantiate(&mut store)?;\n        self.indices.load(&mut store, &instance)\n    }}\n\n    /// The engine.\n    pub fn engine(&self) -> &::kiln::Engine {{\n        self.instance_pre.engine()\n    }}\n\n    /// The resolved component.\n    pub fn instance_pre(&self) -> &{K}::InstancePre<T> {{\n        &self.instance_pre\n    }}\n}}\n\n\
             impl {wname} {{\n    /// Instantiates `component` with `linker`'s definitions.\n    pub fn instantiate<T: 'static>(\n        store: impl ::kiln::AsContextMut<Data = T>,\n        component: &{K}::Component,\n        linker: &{K}::Linker<T>,\n    ) -> ::kiln::Result<{wname}> {{\n        {wname}Pre::new(linker.instantiate_pre(component)?)?.instantiate(store)\n    }}\n\n    /// The bindings of an existing instance.\n    pub fn new(\n        mut store: impl ::kiln::AsContextMut<Data: 'static>,\n        instance: &{K}::Instance,\n    ) -> ::kiln::Result<{wname}> {{\n        let component = instance.component(&store);\n        {wname}Indices::new(&component)?.load(&mut store, instance)\n    }}\n\n    /// Adds every import of the world to `linker`: the host state for each is what\n    /// `host_getter` returns for the store's data.\n    pub fn add_to_linker<T: 'static, D>(\n        linker: &mut {K}::Linker<T>,\n        host_getter: fn(&mut T) -> D::Data<'_>,\n    ) -> ::kiln::Result<()>\n    where\n        D: {K}::HasData{d_bound},\n        for<'a> D::Data<'a>: {bounds},\n    {{\n        let _ = (&linker, host_getter);\n{add_calls}        Ok(())\n    }}\n\n{methods}}}\n}};\n",
            world = w.name,
        )
        .unwrap();
        self.root.items.push_str(&out);
        Ok(())
    }
}

/// The host traits of a set of imports.
struct ImportTraits {
    /// The traits' text.
    text: String,
    /// The statements of `add_to_linker` that define the imports.
    register: String,
    /// The `...WithStore` traits (for imports with the `store` flag).
    store_traits: Vec<String>,
}

/// A host trait method: name, parameters (name, type), return type.
type HostMethod = (String, Vec<(String, String)>, String);

#[derive(Default)]
struct ExportFuncs {
    fields: String,
    index_fields: String,
    lookups: String,
    loads: String,
    names: Vec<String>,
    methods: String,
    resource_methods: BTreeMap<TypeId, String>,
}
