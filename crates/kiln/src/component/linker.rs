//! [`Linker`]: host functions and instances by name, satisfying component imports.

use super::abi::AbiMemory;
use super::compiled::Component;
use super::instance::Instance;
use super::instance::{HostAbi, ResolvedOptions};
use super::resources::ResourceType;
use super::typed::{ComponentResults, LiftParams, checked_range};
use super::values::Val;
use crate::Engine;
use crate::store::{AsContextMut, StoreContextMut, StoreInner};
use anyhow::{Context, Result, bail};
use kiln_environ::component::{CoreExternSig, ImportKind, InstanceSignature, ModuleSignature};
use kiln_environ::component::{FuncType, MAX_FLAT_PARAMS, MAX_FLAT_RESULTS};
use kiln_runtime::ValRaw;
use std::collections::BTreeMap;
use std::sync::Arc;

type HostCall<T> = dyn Fn(StoreContextMut<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync;

/// A typed host function's direct path: lifts its parameters from the caller's core values
/// (`raw`) and memory, runs, and lowers its result back into `raw` or the caller's memory.
pub(crate) type TypedHostCall<T> =
    dyn Fn(&mut StoreInner<T>, ResolvedOptions, &FuncType, &mut [ValRaw]) -> Result<()> + Send + Sync;

/// A host function for components.
pub struct HostFunc<T> {
    /// The signature, when the host function declares one (typed functions do).
    pub(crate) ty: Option<FuncType>,
    /// The call over dynamic values (used when the host calls a re-exported host function).
    pub(crate) call: Box<HostCall<T>>,
    /// The direct path of a typed host function, used when a component calls it.
    pub(crate) typed: Option<Box<TypedHostCall<T>>>,
}

/// A host resource type's destructor: called with the rep when a component drops an owned
/// handle.
pub(crate) type HostDtor<T> = dyn Fn(StoreContextMut<'_, T>, u32) -> Result<()> + Send + Sync;

pub(crate) enum Definition<T> {
    Func(Arc<HostFunc<T>>),
    Instance(BTreeMap<String, Definition<T>>),
    Resource(ResourceType, Arc<HostDtor<T>>),
    Module(crate::Module),
}

impl<T> Clone for Definition<T> {
    fn clone(&self) -> Self {
        match self {
            Definition::Func(f) => Definition::Func(f.clone()),
            Definition::Instance(map) => Definition::Instance(map.clone()),
            Definition::Resource(ty, dtor) => Definition::Resource(*ty, dtor.clone()),
            Definition::Module(m) => Definition::Module(m.clone()),
        }
    }
}

/// Names host functions and instances for component imports: the root namespace holds plain
/// names (`"log"`) and instance names (`"wasi:cli/stdout@0.2.0"`).
pub struct Linker<T> {
    engine: Engine,
    root: BTreeMap<String, Definition<T>>,
    allow_shadowing: bool,
}

/// A namespace inside a [`Linker`]: its root, or a nested instance.
pub struct LinkerInstance<'a, T> {
    map: &'a mut BTreeMap<String, Definition<T>>,
    allow_shadowing: bool,
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    pub fn new(engine: &Engine) -> Linker<T> {
        Linker { engine: engine.clone(), root: BTreeMap::new(), allow_shadowing: false }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether later definitions may replace earlier ones.
    pub fn allow_shadowing(&mut self, allow: bool) -> &mut Self {
        self.allow_shadowing = allow;
        self
    }

    /// The root namespace.
    pub fn root(&mut self) -> LinkerInstance<'_, T> {
        LinkerInstance { map: &mut self.root, allow_shadowing: self.allow_shadowing }
    }

    /// The namespace of the instance `name` (created if new).
    pub fn instance(&mut self, name: &str) -> Result<LinkerInstance<'_, T>> {
        let allow_shadowing = self.allow_shadowing;
        LinkerInstance { map: &mut self.root, allow_shadowing }.into_instance(name)
    }

    /// Instantiates `component`, resolving its imports by name.
    pub fn instantiate(&self, store: impl AsContextMut<Data = T>, component: &Component) -> Result<Instance> {
        self.instantiate_pre(component)?.instantiate(store)
    }

    /// Resolves `component`'s imports now, for instantiating it many times later.
    pub fn instantiate_pre(&self, component: &Component) -> Result<InstancePre<T>> {
        if !crate::Engine::same(&self.engine, component.engine()) {
            bail!("cross-engine instantiation is not supported");
        }
        let mut imports = Vec::new();
        for import in &component.inner.plan.imports {
            match (self.lookup(&import.name), &import.kind) {
                (_, ImportKind::Type(None)) => imports.push(None),
                (Some(def), kind) => {
                    check_definition(def, kind)
                        .with_context(|| format!("component import `{}` has the wrong type", import.name))?;
                    imports.push(Some(def.clone()));
                }
                // An instance of types only (no functions or resources, at any depth) carries
                // nothing at run time: like a type import, it needs no definition.
                (None, ImportKind::Instance(signature)) if types_only(signature) => imports.push(None),
                (None, kind) => bail!(
                    "component import `{}` has not been defined: expected {} found nothing",
                    import.name,
                    kind_word(kind)
                ),
            }
        }
        Ok(InstancePre { component: component.clone(), imports: Arc::new(imports) })
    }
}

impl<T> Linker<T> {
    /// The root definition for import `name`: the one of that exact name, else (for a versioned
    /// interface name, `ns:pkg/iface@1.2.3`) the newest definition of the same interface whose
    /// version is semver-compatible, as other runtimes link. A component built against WASI
    /// 0.2.0 thus links with kiln's WASI 0.2.12; the types are still checked.
    fn lookup(&self, name: &str) -> Option<&Definition<T>> {
        if let Some(def) = self.root.get(name) {
            return Some(def);
        }
        let (base, version) = split_version(name)?;
        let track = version.track();
        self.root
            .iter()
            .filter_map(|(n, def)| {
                let (b, v) = split_version(n)?;
                (b == base && v.track() == track).then_some((v, def))
            })
            .max_by_key(|(v, _)| *v)
            .map(|(_, def)| def)
    }
}

/// A release version `MAJOR.MINOR.PATCH` (pre-release and build versions only match exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Version {
    major: u64,
    minor: u64,
    patch: u64,
}

impl Version {
    /// Versions with the same track are compatible: the same major version from 1 up, the same
    /// minor version of 0.x from 0.1 up, and only itself for 0.0.x.
    fn track(self) -> (u64, u64, u64) {
        match self {
            Version { major: 0, minor: 0, patch } => (0, 0, patch),
            Version { major: 0, minor, .. } => (0, minor, u64::MAX),
            Version { major, .. } => (major, u64::MAX, u64::MAX),
        }
    }
}

/// `ns:pkg/iface@1.2.3` as (`ns:pkg/iface`, 1.2.3); `None` without a release version.
fn split_version(name: &str) -> Option<(&str, Version)> {
    let (base, version) = name.rsplit_once('@')?;
    let mut parts = version.split('.');
    let mut number = || -> Option<u64> {
        let part = parts.next()?;
        // No leading zeros, signs or other characters (a pre-release like `1-rc` fails here).
        if part.is_empty() || (part.len() > 1 && part.starts_with('0')) || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let version = Version { major: number()?, minor: number()?, patch: number()? };
    parts.next().is_none().then_some((base, version))
}

/// A component with its imports resolved by a [`Linker`], ready to instantiate.
pub struct InstancePre<T> {
    component: Component,
    imports: Arc<Vec<Option<Definition<T>>>>,
}

impl<T> Clone for InstancePre<T> {
    fn clone(&self) -> Self {
        InstancePre { component: self.component.clone(), imports: self.imports.clone() }
    }
}

impl<T: 'static> InstancePre<T> {
    /// The component.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        self.component.engine()
    }

    /// Instantiates the component in `store`.
    pub fn instantiate(&self, store: impl AsContextMut<Data = T>) -> Result<Instance> {
        Instance::instantiate(store, &self.component, self.imports.as_ref().clone())
    }
}

/// How generated bindings reach the host's state for an interface: `Data<'a>` is what the
/// `host_getter` passed to `add_to_linker` returns from the store's data.
pub trait HasData: 'static {
    /// The borrowed view of the host state.
    type Data<'a>;
}

/// [`HasData`] for a store whose data (or a part of it reached by a getter) is `T` itself.
pub struct HasSelf<T: ?Sized>(std::marker::PhantomData<T>);

impl<T: ?Sized + 'static> HasData for HasSelf<T> {
    type Data<'a> = &'a mut T;
}

/// Checks that a linker definition can satisfy an import of kind `kind`: functions for functions
/// (with the right signature when the host function declares one), and instances that provide
/// every function and instance the import's type lists.
fn check_definition<T>(def: &Definition<T>, kind: &ImportKind) -> Result<()> {
    match (def, kind) {
        (Definition::Func(f), ImportKind::Func(ty)) => match &f.ty {
            Some(declared) => super::instance::check_signature(declared, ty),
            None => Ok(()),
        },
        (Definition::Instance(map), ImportKind::Instance(signature)) => check_instance(map, signature),
        (Definition::Resource(..), ImportKind::Type(Some(_))) => Ok(()),
        (Definition::Module(m), ImportKind::Module(signature)) => check_module(m, signature),
        (def, kind) => bail!("expected {} found {}", kind_word(kind), definition_kind(def)),
    }
}

/// Whether `module` can stand for a module of type `signature`: it imports nothing the type does
/// not allow (each at a type the declared one is a subtype of) and exports everything the type
/// lists (each at a subtype).
fn check_module(module: &crate::Module, signature: &ModuleSignature) -> Result<()> {
    for import in module.imports() {
        let (m, f) = (import.module(), import.name());
        let Some((_, _, declared)) = signature.imports.iter().find(|(dm, df, _)| dm == m && df == f) else {
            bail!("module import `{m}::{f}` not defined");
        };
        let actual = import.ty();
        // Imports are contravariant: what the component will supply (declared) must fit what
        // the module needs (actual).
        if !extern_subtype(declared, &actual, true)
            .with_context(|| format!("module import `{m}::{f}` has the wrong type"))?
        {
            bail!("module import `{m}::{f}` has the wrong type");
        }
    }
    for (name, declared) in &signature.exports {
        let Some(actual) = module.get_export(name) else {
            bail!("module export `{name}` not defined");
        };
        if !extern_subtype(declared, &actual, false).with_context(|| format!("export `{name}` has the wrong type"))? {
            bail!("export `{name}` has the wrong type");
        }
    }
    Ok(())
}

/// For an export (`reversed` false): whether `actual <: declared`; for an import (`reversed`
/// true): whether `declared <: actual`. A kind mismatch is an error ("expected global found
/// func"); a mismatch within the kind is `false`. Functions compare exactly, and when kiln cannot
/// represent the declared type only the kind is checked.
fn extern_subtype(declared: &CoreExternSig, actual: &crate::ExternType, reversed: bool) -> Result<bool> {
    use crate::ExternType as A;
    Ok(match (declared, actual) {
        (CoreExternSig::Func(Some(d)), A::Func(a)) if d != a.env() => {
            let (expected, found) = if reversed { (a.env(), d) } else { (d, a.env()) };
            bail!("expected type `{expected}`, found type `{found}`")
        }
        (CoreExternSig::Func(_), A::Func(_)) => true,
        (CoreExternSig::Tag(_), A::Tag(_)) => true,
        (CoreExternSig::Global(d), A::Global(a)) => d.is_none_or(|d| d == a.to_env()),
        (CoreExternSig::Table(d), A::Table(a)) => d.is_none_or(|d| {
            let (sub, sup) = if reversed { (d, a.ty) } else { (a.ty, d) };
            sub.element == sup.element
                && sub.table64 == sup.table64
                && limits_fit(sub.minimum, sub.maximum, sup.minimum, sup.maximum)
        }),
        (CoreExternSig::Memory(d), A::Memory(a)) => d.is_none_or(|d| {
            let (sub, sup) = if reversed { (d, a.ty) } else { (a.ty, d) };
            sub.memory64 == sup.memory64
                && sub.shared == sup.shared
                && sub.page_size_log2 == sup.page_size_log2
                && limits_fit(sub.minimum, sub.maximum, sup.minimum, sup.maximum)
        }),
        // Named from the side that needs the item: the module for imports, the type for exports.
        (d, a) if reversed => bail!("expected {} found {}", extern_kind(a), d.kind_name()),
        (d, a) => bail!("expected {} found {}", d.kind_name(), extern_kind(a)),
    })
}

/// Limits subtyping: the subtype's range lies within the supertype's.
fn limits_fit(sub_min: u64, sub_max: Option<u64>, sup_min: u64, sup_max: Option<u64>) -> bool {
    sub_min >= sup_min
        && match (sub_max, sup_max) {
            (_, None) => true,
            (Some(a), Some(b)) => a <= b,
            (None, Some(_)) => false,
        }
}

fn extern_kind(ty: &crate::ExternType) -> &'static str {
    match ty {
        crate::ExternType::Func(_) => "func",
        crate::ExternType::Global(_) => "global",
        crate::ExternType::Table(_) => "table",
        crate::ExternType::Memory(_) => "memory",
        crate::ExternType::Tag(_) => "tag",
    }
}

fn types_only(signature: &InstanceSignature) -> bool {
    signature.funcs.is_empty()
        && signature.resources.is_empty()
        && signature.modules.is_empty()
        && signature.instances.iter().all(|(_, inner)| types_only(inner))
}

/// What an import expects, in the words of link errors ("expected func found instance").
fn kind_word(kind: &ImportKind) -> &'static str {
    match kind {
        ImportKind::Func(_) => "func",
        ImportKind::Instance(_) => "instance",
        ImportKind::Type(_) => "resource",
        ImportKind::Module(_) => "module",
        ImportKind::Component => "component",
    }
}

/// What a linker definition is, for errors.
fn definition_kind<T>(def: &Definition<T>) -> &'static str {
    match def {
        Definition::Func(_) => "func",
        Definition::Instance(_) => "instance",
        Definition::Resource(..) => "resource",
        Definition::Module(_) => "module",
    }
}

fn check_instance<T>(map: &BTreeMap<String, Definition<T>>, signature: &InstanceSignature) -> Result<()> {
    for (name, _) in &signature.resources {
        match map.get(name) {
            Some(Definition::Resource(..)) => {}
            Some(other) => bail!("`{name}`: expected resource found {}", definition_kind(other)),
            None => bail!("resource type export `{name}` was not found"),
        }
    }
    for (name, ty) in &signature.funcs {
        match map.get(name) {
            Some(Definition::Func(f)) => {
                if let (Some(declared), Some(ty)) = (&f.ty, ty) {
                    super::instance::check_signature(declared, ty).with_context(|| format!("function `{name}`"))?;
                }
            }
            Some(other) => bail!("`{name}`: expected func found {}", definition_kind(other)),
            None => bail!("missing function export `{name}`: expected func found nothing"),
        }
    }
    for (name, inner) in &signature.instances {
        match map.get(name) {
            Some(Definition::Instance(nested)) => {
                check_instance(nested, inner).with_context(|| format!("instance `{name}`"))?
            }
            Some(other) => bail!("`{name}`: expected instance found {}", definition_kind(other)),
            None => bail!("missing instance export `{name}`: expected instance found nothing"),
        }
    }
    for (name, inner) in &signature.modules {
        match map.get(name) {
            Some(Definition::Module(m)) => check_module(m, inner).with_context(|| format!("module `{name}`"))?,
            Some(other) => bail!("`{name}`: expected module found {}", definition_kind(other)),
            None => bail!("missing module export `{name}`: expected module found nothing"),
        }
    }
    Ok(())
}

impl<'a, T: 'static> LinkerInstance<'a, T> {
    fn insert(&mut self, name: &str, def: Definition<T>) -> Result<()> {
        if !self.allow_shadowing && self.map.contains_key(name) {
            bail!("`{name}` is defined twice");
        }
        self.map.insert(name.to_string(), def);
        Ok(())
    }

    /// Defines `name` as a host function over dynamic values; its signature is taken from the
    /// import it satisfies, and values are checked against it.
    pub fn func_new(
        &mut self,
        name: &str,
        func: impl Fn(StoreContextMut<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<()> {
        self.insert(name, Definition::Func(Arc::new(HostFunc { ty: None, call: Box::new(func), typed: None })))
    }

    /// Defines `name` as a host function with Rust parameter and result types. A component
    /// calling it moves values straight between its memory and the Rust types; the types are
    /// checked against the import at instantiation.
    pub fn func_wrap<P, R>(
        &mut self,
        name: &str,
        func: impl Fn(StoreContextMut<'_, T>, P) -> Result<R> + Send + Sync + 'static,
    ) -> Result<()>
    where
        P: LiftParams + 'static,
        R: ComponentResults + 'static,
    {
        let ty = FuncType {
            params: P::types().into_iter().enumerate().map(|(i, t)| (format!("p{i}"), t)).collect(),
            result: R::result_type(),
        };
        let func = Arc::new(func);
        let by_vals = func.clone();
        let call = move |store: StoreContextMut<'_, T>, params: &[Val], results: &mut [Val]| -> Result<()> {
            let params = P::from_vals(params)?;
            let result = by_vals(store, params)?;
            if let Some(value) = result.into_val() {
                results[0] = value;
            }
            Ok(())
        };
        let typed = move |store: &mut StoreInner<T>, options: ResolvedOptions, ty: &FuncType, raw: &mut [ValRaw]| {
            call_typed_host::<T, P, R>(store, options, ty, raw, |store, params| func(store, params))
        };
        self.insert(
            name,
            Definition::Func(Arc::new(HostFunc { ty: Some(ty), call: Box::new(call), typed: Some(Box::new(typed)) })),
        )
    }

    /// Defines `name` as the resource type `ty` (a host type: `ResourceType::host::<T>()` or
    /// `ResourceType::host_id(n)`): a component importing `name` gets this type, and `dtor` runs
    /// with the rep when the component drops an owned handle to it.
    pub fn resource(
        &mut self,
        name: &str,
        ty: ResourceType,
        dtor: impl Fn(StoreContextMut<'_, T>, u32) -> Result<()> + Send + Sync + 'static,
    ) -> Result<()> {
        if !ty.is_host_defined() {
            bail!("`{name}`: only host resource types can be defined in a linker");
        }
        self.insert(name, Definition::Resource(ty, Arc::new(dtor)))
    }

    /// Defines `name` as a resource type some component instance exports (see
    /// [`Instance::get_resource`](super::Instance::get_resource)), so that components importing
    /// `name` get that very type: a component importing it under two names with `(eq ...)`
    /// links only if both are the same type. Handles of it are the exporting instance's; the
    /// host has no destructor to run.
    pub fn resource_type(&mut self, name: &str, ty: ResourceType) -> Result<()> {
        self.insert(name, Definition::Resource(ty, Arc::new(|_, _| Ok(()))))
    }

    /// Defines `name` as a core module, for components that import one (`(import "m" (core
    /// module ...))`) or an instance exporting one. It is checked against the import's module
    /// type at instantiation: it may import less, and must export at least what the type lists.
    pub fn module(&mut self, name: &str, module: &crate::Module) -> Result<()> {
        self.insert(name, Definition::Module(module.clone()))
    }

    /// The namespace of the nested instance `name` (created if new).
    pub fn instance(&mut self, name: &str) -> Result<LinkerInstance<'_, T>> {
        let allow_shadowing = self.allow_shadowing;
        LinkerInstance { map: &mut *self.map, allow_shadowing }.into_instance(name)
    }

    fn into_instance(self, name: &str) -> Result<LinkerInstance<'a, T>> {
        let entry = self.map.entry(name.to_string()).or_insert_with(|| Definition::Instance(BTreeMap::new()));
        match entry {
            Definition::Instance(map) => Ok(LinkerInstance { map, allow_shadowing: self.allow_shadowing }),
            _ => bail!("`{name}` is already defined as something other than an instance"),
        }
    }
}

/// The direct path of a typed host function called by a component (the `canon lower` side):
/// parameters lifted from the flat values or, past `MAX_FLAT_PARAMS`, from the tuple they
/// point to; the result lowered into `raw[0]` or, past `MAX_FLAT_RESULTS`, stored at the
/// out-pointer that follows the parameters.
pub(crate) fn call_typed_host<T: 'static, P: LiftParams, R: ComponentResults>(
    store: &mut StoreInner<T>,
    options: ResolvedOptions,
    ty: &FuncType,
    raw: &mut [ValRaw],
    func: impl FnOnce(StoreContextMut<'_, T>, P) -> Result<R>,
) -> Result<()> {
    let param_flat = P::LAYOUT.flat as usize;
    let spilled = param_flat > MAX_FLAT_PARAMS;
    let params = {
        let cx = HostAbi { store: &mut *store, options };
        if spilled {
            let range = checked_range(&cx, raw[0].get_i32() as u32, P::LAYOUT)?;
            P::load_params(&cx, &ty.params, &cx.memory()?[range])?
        } else {
            P::lift_params(&cx, &ty.params, &raw[..param_flat])?
        }
    };
    let result = func(StoreContextMut(&mut *store), params)?;
    let mut cx = HostAbi { store, options };
    if R::LAYOUT.flat as usize <= MAX_FLAT_RESULTS {
        result.lower_result(&mut cx, ty.result.as_ref(), &mut raw[..R::LAYOUT.flat as usize])
    } else {
        let range = checked_range(&cx, raw[if spilled { 1 } else { param_flat }].get_i32() as u32, R::LAYOUT)?;
        result.store_result(&mut cx, ty.result.as_ref(), range.start)
    }
}

/// What a host import with bindgen!'s `store` flag gets: the store, and the host state that the
/// `host_getter` given to `add_to_linker` finds in it.
pub struct Access<'a, T: 'static, D: HasData + ?Sized> {
    store: StoreContextMut<'a, T>,
    get: fn(&mut T) -> D::Data<'_>,
}

impl<'a, T: 'static, D: HasData + ?Sized> Access<'a, T, D> {
    /// The store and the getter of the host state in it.
    pub fn new(store: StoreContextMut<'a, T>, get: fn(&mut T) -> D::Data<'_>) -> Self {
        Access { store, get }
    }

    /// The host state.
    pub fn get(&mut self) -> D::Data<'_> {
        (self.get)(self.store.data_mut())
    }

    /// The store's data.
    pub fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }
}

impl<T: 'static, D: HasData + ?Sized> crate::AsContext for Access<'_, T, D> {
    type Data = T;
    fn as_context(&self) -> crate::StoreContext<'_, T> {
        self.store.as_context()
    }
}

impl<T: 'static, D: HasData + ?Sized> crate::AsContextMut for Access<'_, T, D> {
    fn as_context_mut(&mut self) -> StoreContextMut<'_, T> {
        self.store.as_context_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(name: &str) -> Option<(u64, u64, u64)> {
        split_version(name).map(|(_, v)| (v.major, v.minor, v.patch))
    }

    #[test]
    fn versions_parse_only_as_releases() {
        assert_eq!(version("wasi:cli/run@0.2.12"), Some((0, 2, 12)));
        assert_eq!(version("a:b/c@10.0.1"), Some((10, 0, 1)));
        for name in ["wasi:cli/run", "a@0.2", "a@0.2.0-rc-2023-11-10", "a@0.2.0+build", "a@01.2.3", "a@1.2.3.4", "a@"] {
            assert_eq!(version(name), None, "{name}");
        }
    }

    #[test]
    fn imports_link_to_the_newest_compatible_version() {
        let engine = Engine::default();
        let mut linker = Linker::<()>::new(&engine);
        for name in ["wasi:cli/env@0.2.3", "wasi:cli/env@0.2.12", "wasi:cli/env@0.3.0", "a:b/c@1.0.0", "a:b/c@1.4.2"] {
            linker.instance(name).unwrap();
        }
        let found = |name: &str| {
            let def = linker.lookup(name)?;
            linker.root.iter().find(|(_, d)| std::ptr::eq(*d, def)).map(|(n, _)| n.clone())
        };
        assert_eq!(found("wasi:cli/env@0.2.3").as_deref(), Some("wasi:cli/env@0.2.3"));
        assert_eq!(found("wasi:cli/env@0.2.0").as_deref(), Some("wasi:cli/env@0.2.12"));
        assert_eq!(found("wasi:cli/env@0.2.99").as_deref(), Some("wasi:cli/env@0.2.12"));
        assert_eq!(found("wasi:cli/env@0.3.1").as_deref(), Some("wasi:cli/env@0.3.0"));
        assert_eq!(found("wasi:cli/env@0.1.0"), None);
        assert_eq!(found("wasi:cli/env@1.0.0"), None);
        assert_eq!(found("a:b/c@1.9.0").as_deref(), Some("a:b/c@1.4.2"));
        assert_eq!(found("a:b/c@2.0.0"), None);
        assert_eq!(found("wasi:cli/env"), None);
        assert_eq!(found("wasi:cli/env@0.2.0-rc-1"), None);
    }
}
