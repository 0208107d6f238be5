//! Phase 1 of component translation: read a component binary (validating it as we go) into one
//! [`StaticComponent`] per component definition, each a list of definitions in index-space terms.
//! Nothing is instantiated here; [`super::inline`] interprets these lists.

use super::abi::{FlatType, StringEncoding};
use super::types::{Case, Field, FuncType, ResourceId, ValueType};
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::ops::Range;
use wasmparser::component_types::{
    ComponentAnyTypeId, ComponentDefinedType, ComponentEntityType, ComponentFuncTypeId, ComponentValType,
};
use wasmparser::types::TypesRef;
use wasmparser::{
    CanonicalFunction, CanonicalOption, ComponentAlias, ComponentExternalKind, ComponentInstance,
    ComponentOuterAliasKind, ComponentType, ComponentTypeRef, ExternalKind, Instance, Parser, Payload,
    PrimitiveValType, Validator,
};

/// Numbers the validator's resource types: every distinct resource type the validator knows in
/// one binary gets a small *static key*. A key names a resource type as one component definition
/// sees it; the inliner binds keys to run-time resources per instantiation (resource types are
/// generative: each instantiation of a component defines new ones).
#[derive(Debug, Default)]
pub struct ResourceKeys {
    keys: HashMap<wasmparser::component_types::ResourceId, u32>,
}

impl ResourceKeys {
    fn key(&mut self, id: wasmparser::component_types::ResourceId) -> u32 {
        let next = self.keys.len() as u32;
        *self.keys.entry(id).or_insert(next)
    }

    /// The static key of component type `index` if it is a resource type.
    fn type_key(&mut self, types: TypesRef<'_>, index: u32) -> Option<u32> {
        match types.component_any_type_at(index) {
            ComponentAnyTypeId::Resource(id) => Some(self.key(id.resource())),
            _ => None,
        }
    }
}

/// The wasm features components are validated against.
pub fn component_features() -> wasmparser::WasmFeatures {
    crate::supported_features() | wasmparser::WasmFeatures::MULTI_MEMORY | component_model_features()
}

/// The Component Model features a component is validated with, on top of the engine's core wasm
/// features. Off: component values (kiln cannot import or export values), nested namespaces in
/// names (the component-model suite expects `foo:bar:baz/qux` to be invalid), 64-bit canonical
/// ABI memories and the still-gated name extensions (canon names, accessors, forwarding).
///
/// Async components, streams, futures, `error-context` and threads *validate*; their canonical
/// built-ins and async lifts and lowers become [`LocalInit::Unsupported`] placeholders that fail
/// instantiation where they are used, so a component that merely contains them still compiles.
///
/// Core `gc` is on for the component's own type sections, where a non-final `sub` core type may
/// appear; core modules are still validated with the engine's features when they are compiled.
pub fn component_model_features() -> wasmparser::WasmFeatures {
    use wasmparser::WasmFeatures as F;
    F::COMPONENT_MODEL
        | F::CM_ERROR_CONTEXT
        | F::CM_FIXED_LENGTH_LISTS
        | F::CM_GC
        | F::CM_MAP
        | F::CM_IMPLEMENTS
        | F::CM_ASYNC
        | F::CM_ASYNC_STACKFUL
        | F::CM_MORE_ASYNC_BUILTINS
        | F::CM_THREADING
        | F::CM64
        | F::GC
        | F::FUNCTION_REFERENCES
}

/// Canonical options, in the defining component's index spaces.
#[derive(Debug, Clone, Default)]
pub struct LocalOptions {
    /// String encoding.
    pub string_encoding: StringEncoding,
    /// Core memory index.
    pub memory: Option<u32>,
    /// Core function index of `realloc`.
    pub realloc: Option<u32>,
    /// Core function index of `post-return`.
    pub post_return: Option<u32>,
    /// The `async` option: the async ABI (a `canon lift` returns its result through
    /// `task.return`, a `canon lower` returns a subtask status).
    pub async_: bool,
    /// Core function index of an `async` lift's `callback`.
    pub callback: Option<u32>,
    /// The lifted or lowered function's type is `async`: its task may block (even when lifted
    /// without the `async` option), and a synchronous lower of it may block the caller, which
    /// only a task that may block can allow.
    pub async_type: bool,
    /// The pointer size of the `memory` option (64-bit memories need the `cm64` feature).
    pub ptr: super::abi::PtrSize,
    /// The `memory` option's custom page size, as a power of two (`None`: 64 KiB pages).
    pub page_size_log2: Option<u32>,
}

/// What an imported instance must export: its functions (with their types when kiln supports
/// them) and nested instances.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceSignature {
    /// Exported functions; `None` for types kiln cannot represent yet (e.g. resources).
    pub funcs: Vec<(String, Option<FuncType>)>,
    /// Exported instances.
    pub instances: Vec<(String, InstanceSignature)>,
    /// Exported resource types: static keys in a translation, run-time resource indices once
    /// the inliner has bound them.
    pub resources: Vec<(String, u32)>,
    /// Exported core modules.
    pub modules: Vec<(String, ModuleSignature)>,
}

/// The type of a core module a component imports: what it may import (at most these) and must
/// export (at least these).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModuleSignature {
    /// `(module, field, type)`, in declaration order.
    pub imports: Vec<(String, String, CoreExternSig)>,
    /// `(name, type)`.
    pub exports: Vec<(String, CoreExternSig)>,
}

/// The type of a core import or export in a [`ModuleSignature`]; `None` where kiln cannot
/// represent the type (references to concrete types, GC types): then only the kind is checked.
#[derive(Debug, Clone, PartialEq)]
pub enum CoreExternSig {
    /// A function.
    Func(Option<crate::types::WasmFuncType>),
    /// A table.
    Table(Option<crate::types::TableType>),
    /// A memory.
    Memory(Option<crate::types::MemoryType>),
    /// A global.
    Global(Option<crate::types::GlobalType>),
    /// An exception tag.
    Tag(Option<crate::types::WasmFuncType>),
}

impl CoreExternSig {
    /// The kind's name, as in the text format ("func", "table", ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            CoreExternSig::Func(_) => "func",
            CoreExternSig::Table(_) => "table",
            CoreExternSig::Memory(_) => "memory",
            CoreExternSig::Global(_) => "global",
            CoreExternSig::Tag(_) => "tag",
        }
    }
}

fn convert_core_extern(types: TypesRef<'_>, ty: &wasmparser::types::EntityType) -> CoreExternSig {
    use wasmparser::types::EntityType as E;
    let func = |id: wasmparser::types::CoreTypeId| match &types[id].composite_type.inner {
        wasmparser::CompositeInnerType::Func(f) => crate::types::convert_func_type(f, &|_| crate::TypeKind::Func).ok(),
        _ => None,
    };
    match ty {
        E::Func(id) | E::FuncExact(id) => CoreExternSig::Func(func(*id)),
        E::Table(t) => CoreExternSig::Table(crate::types::convert_table_type(t, &|_| crate::TypeKind::Func).ok()),
        E::Memory(m) => CoreExternSig::Memory(crate::types::convert_memory_type(m).ok()),
        E::Global(g) => CoreExternSig::Global(crate::types::convert_global_type(g, &|_| crate::TypeKind::Func).ok()),
        E::Tag(id) => CoreExternSig::Tag(func(*id)),
    }
}

fn convert_module_type(
    types: TypesRef<'_>,
    id: wasmparser::component_types::ComponentCoreModuleTypeId,
) -> ModuleSignature {
    let ty = &types[id];
    ModuleSignature {
        imports: ty.imports.iter().map(|((m, f), t)| (m.clone(), f.clone(), convert_core_extern(types, t))).collect(),
        exports: ty.exports.iter().map(|(n, t)| (n.clone(), convert_core_extern(types, t))).collect(),
    }
}

impl InstanceSignature {
    /// The type of exported function `name`, if known.
    pub fn func(&self, name: &str) -> Option<&FuncType> {
        self.funcs.iter().find(|(n, _)| n == name).and_then(|(_, t)| t.as_ref())
    }

    /// The signature of exported instance `name`.
    pub fn instance(&self, name: &str) -> Option<&InstanceSignature> {
        self.instances.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// The type of exported core module `name`.
    pub fn module(&self, name: &str) -> Option<&ModuleSignature> {
        self.modules.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }
}

fn convert_instance_type(
    types: TypesRef<'_>,
    keys: &mut ResourceKeys,
    id: wasmparser::component_types::ComponentInstanceTypeId,
) -> InstanceSignature {
    let mut signature = InstanceSignature::default();
    for (name, item) in &types[id].exports {
        match item.ty {
            ComponentEntityType::Func(f) => {
                signature.funcs.push((name.clone(), convert_func_type(types, keys, f).ok()))
            }
            ComponentEntityType::Instance(i) => {
                signature.instances.push((name.clone(), convert_instance_type(types, keys, i)))
            }
            ComponentEntityType::Type { created: ComponentAnyTypeId::Resource(r), .. } => {
                signature.resources.push((name.clone(), keys.key(r.resource())))
            }
            ComponentEntityType::Module(m) => signature.modules.push((name.clone(), convert_module_type(types, m))),
            _ => {}
        }
    }
    signature
}

/// What a component import is.
#[derive(Debug, Clone)]
pub enum ImportKind {
    /// A function of this type.
    Func(FuncType),
    /// An instance with (at least) these exports.
    Instance(InstanceSignature),
    /// A core module of (at most) these imports and (at least) these exports.
    Module(ModuleSignature),
    /// A component (not supported at instantiation yet).
    Component,
    /// A type; `Some(key)` for a resource type (its static key, see [`ResourceKeys`]).
    Type(Option<u32>),
}

/// In [`LocalInit`]s that name items by kind and index, a type is named by its resource's static
/// key instead of its type index (only resource types carry identity between components); this
/// stands for a type that is not a resource.
pub const NOT_A_RESOURCE: u32 = u32::MAX;

/// One definition of a component, in the order it appears.
#[derive(Debug, Clone)]
pub enum LocalInit {
    /// `(import "name" ...)`: pushes onto the index space of its kind (nothing for types).
    Import {
        /// Import name.
        name: String,
        /// Kind and type.
        kind: ImportKind,
    },
    /// A core module defined inline: pushes a core module.
    CoreModule(u32),
    /// A component defined inline: pushes a component.
    Component(u32),
    /// `(core instance (instantiate M (with "name" I)...))`: pushes a core instance.
    CoreInstantiate {
        /// Core module index.
        module: u32,
        /// Arguments: import module name -> core instance index.
        args: Vec<(String, u32)>,
    },
    /// A core instance made of exports of other core items.
    CoreInstanceFromExports(Vec<(String, ExternalKind, u32)>),
    /// `(alias core export I "name" (kind))`: pushes onto the core space of `kind`.
    CoreAlias {
        /// Kind.
        kind: ExternalKind,
        /// Core instance index.
        instance: u32,
        /// Export name.
        name: String,
    },
    /// `(instance (instantiate C (with "name" item)...))`: pushes a component instance.
    Instantiate {
        /// Component index.
        component: u32,
        /// Arguments.
        args: Vec<(String, ComponentExternalKind, u32)>,
    },
    /// A component instance made of exports of other items.
    InstanceFromExports(Vec<(String, ComponentExternalKind, u32)>),
    /// `(alias export I "name" (kind))`: pushes onto the space of `kind`.
    InstanceAlias {
        /// Kind.
        kind: ComponentExternalKind,
        /// Instance index.
        instance: u32,
        /// Export name.
        name: String,
        /// For a resource type: the static key the alias has here.
        type_key: Option<u32>,
    },
    /// `(alias outer N I (kind))` of a core module or component: pushes onto that space.
    OuterAlias {
        /// Whether the item is a component (else a core module).
        component: bool,
        /// How many enclosing components out.
        count: u32,
        /// Index in that component's space.
        index: u32,
    },
    /// `canon lift`: pushes a component function.
    Lift {
        /// Core function index.
        core_func: u32,
        /// Type of the lifted function.
        ty: FuncType,
        /// Options.
        options: LocalOptions,
    },
    /// `canon lower`: pushes a core function.
    Lower {
        /// Component function index.
        func: u32,
        /// Its type.
        ty: FuncType,
        /// Options.
        options: LocalOptions,
    },
    /// A definition kiln cannot run: an async `canon lift` or `canon lower`, an async, thread or
    /// `error-context` canonical built-in, a function whose type kiln cannot represent (async,
    /// streams, futures, `error-context`). Pushes a placeholder (a component function, or a core
    /// function if `core`) that makes instantiation fail with `reason` where it is used; a
    /// component that only defines it compiles and instantiates.
    Unsupported {
        /// Whether the placeholder is a core function (else a component function).
        core: bool,
        /// What is unsupported, naming the feature (`unsupported feature: ...`).
        reason: String,
    },
    /// `(export "name" (kind index))`: also pushes a new index of that kind (not for types).
    Export {
        /// Export name.
        name: String,
        /// Kind.
        kind: ComponentExternalKind,
        /// Index of the exported item.
        index: u32,
    },
    /// `(type (resource (rep i32) (dtor f)?))`: a resource type, new for each instantiation.
    DefineResource {
        /// Its static key.
        key: u32,
        /// Core function index of its destructor.
        dtor: Option<u32>,
    },
    /// A task, waitable, stream, future, thread or `error-context` built-in: pushes a core
    /// function of signature `params -> results`.
    TaskBuiltin {
        /// What it does.
        op: TaskOp,
        /// Core parameter types.
        params: Vec<super::abi::FlatType>,
        /// Core result types.
        results: Vec<super::abi::FlatType>,
        /// Core memory index of its `memory` option (`waitable-set.poll` writes the event there).
        memory: Option<u32>,
    },
    /// `canon resource.new / resource.drop / resource.rep` of the resource with static key
    /// `key`: pushes a core function.
    ResourceBuiltin {
        /// Which built-in.
        op: ResourceOp,
        /// Static key of the resource type.
        key: u32,
    },
}

/// A canonical built-in of the async ABI, the threading proposal or `error-context`. kiln runs
/// every task synchronously (it has no async lifts or lowers), so each is given the meaning the
/// Canonical ABI defines for a synchronous task, or fails naming the feature when it needs more.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaskOp {
    /// `context.get i32 N`: the current task's context slot N (0 when the task started).
    ContextGet(u32),
    /// `context.set i32 N`.
    ContextSet(u32),
    /// `backpressure.inc`: counts up to 65535.
    BackpressureInc,
    /// `backpressure.dec`: counts down to 0.
    BackpressureDec,
    /// `thread.yield`: a synchronous task cannot be suspended, so it returns "not cancelled".
    ThreadYield,
    /// `task.return`: hands the result of the current task (which must be lifted `async`,
    /// with this result type and these options) to its caller.
    Return {
        /// The result type (resource ids are static keys in a translation, run-time resources
        /// once inlined).
        result: Option<ValueType>,
        /// The string encoding of its options (its memory is the built-in's `memory`).
        string_encoding: StringEncoding,
    },
    /// `task.cancel`: a task may call it only once its caller asked to cancel it; no caller can
    /// (kiln runs every subtask to completion before the lower returns), so it always traps.
    NotAsync,
    /// A built-in that blocks the calling task (`waitable-set.wait`, a synchronous `stream.read`,
    /// `subtask.cancel`, ...): a synchronous task may not, so it traps.
    Blocks,
    /// `waitable-set.new`: adds an empty waitable set to the instance's handle table.
    WaitableSetNew,
    /// `waitable-set.drop`.
    WaitableSetDrop,
    /// `waitable-set.poll`: a set is always empty (kiln makes no waitables), so it stores the
    /// event "none".
    WaitableSetPoll,
    /// `waitable.join`: the waitable handle is never one (kiln makes no waitables).
    WaitableJoin,
    /// Anything else: checks that the instance may leave, then fails with an error naming the
    /// built-in and the feature it belongs to.
    Unsupported {
        /// The built-in's name (`stream.new`).
        name: &'static str,
        /// The feature (`async canonical ABI`).
        feature: &'static str,
    },
}

impl TaskOp {
    /// Whether the built-in traps when the instance may not leave (inside `realloc` or
    /// `post-return`): all but the context slots and backpressure, as in the Canonical ABI.
    pub fn checks_may_leave(&self) -> bool {
        !matches!(
            self,
            TaskOp::ContextGet(_) | TaskOp::ContextSet(_) | TaskOp::BackpressureInc | TaskOp::BackpressureDec
        )
    }
}

/// A resource built-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceOp {
    /// `resource.new`: `(rep i32) -> handle`.
    New,
    /// `resource.drop`: `(handle)`.
    Drop,
    /// `resource.rep`: `(handle) -> rep`.
    Rep,
}

/// One component definition.
#[derive(Debug, Clone, Default)]
pub struct StaticComponent {
    /// Its definitions, in order.
    pub inits: Vec<LocalInit>,
}

/// Every component and core module defined in one binary, root last among components.
#[derive(Debug, Default)]
pub struct Translation {
    /// Components; the root is the last one.
    pub components: Vec<StaticComponent>,
    /// Byte ranges of the core modules in the binary.
    pub modules: Vec<Range<usize>>,
}

/// Converts a component value type from the validator.
pub fn convert_value_type(types: TypesRef<'_>, keys: &mut ResourceKeys, ty: &ComponentValType) -> Result<ValueType> {
    match ty {
        ComponentValType::Primitive(p) => convert_primitive(*p),
        ComponentValType::Type(id) => Ok(match &types[*id] {
            ComponentDefinedType::Primitive(p) => convert_primitive(*p)?,
            ComponentDefinedType::Record(r) => ValueType::Record(
                r.fields
                    .iter()
                    .map(|(name, t)| Ok(Field { name: name.to_string(), ty: convert_value_type(types, keys, t)? }))
                    .collect::<Result<_>>()?,
            ),
            ComponentDefinedType::Variant(v) => ValueType::Variant(
                v.cases
                    .iter()
                    .map(|(name, case)| {
                        Ok(Case {
                            name: name.to_string(),
                            ty: case.ty.as_ref().map(|t| convert_value_type(types, keys, t)).transpose()?,
                        })
                    })
                    .collect::<Result<_>>()?,
            ),
            ComponentDefinedType::List { element, .. } => {
                ValueType::List(Box::new(convert_value_type(types, keys, element)?))
            }
            ComponentDefinedType::Tuple(t) => {
                ValueType::Tuple(t.types.iter().map(|t| convert_value_type(types, keys, t)).collect::<Result<_>>()?)
            }
            ComponentDefinedType::Flags(names) => ValueType::Flags(names.iter().map(|n| n.to_string()).collect()),
            ComponentDefinedType::Enum(names) => ValueType::Enum(names.iter().map(|n| n.to_string()).collect()),
            ComponentDefinedType::Option { ty, .. } => {
                ValueType::Option(Box::new(convert_value_type(types, keys, ty)?))
            }
            ComponentDefinedType::Result { ok, err, .. } => ValueType::Result {
                ok: ok.as_ref().map(|t| convert_value_type(types, keys, t).map(Box::new)).transpose()?,
                err: err.as_ref().map(|t| convert_value_type(types, keys, t).map(Box::new)).transpose()?,
            },
            ComponentDefinedType::Own(r) => ValueType::Own(ResourceId(keys.key(r.resource()))),
            ComponentDefinedType::Borrow(r) => ValueType::Borrow(ResourceId(keys.key(r.resource()))),
            ComponentDefinedType::Future { .. } | ComponentDefinedType::Stream { .. } => {
                bail!("unsupported feature: async futures and streams")
            }
            ComponentDefinedType::Map { key, value, .. } => ValueType::Map(
                Box::new(convert_value_type(types, keys, key)?),
                Box::new(convert_value_type(types, keys, value)?),
            ),
            ComponentDefinedType::FixedLengthList { element, length, .. } => {
                ValueType::FixedList(Box::new(convert_value_type(types, keys, element)?), *length)
            }
        }),
    }
}

/// Converts a value type as written in a section (a primitive, or a type index).
fn convert_syntactic_value_type(
    types: TypesRef<'_>,
    keys: &mut ResourceKeys,
    ty: wasmparser::ComponentValType,
) -> Result<ValueType> {
    match ty {
        wasmparser::ComponentValType::Primitive(p) => convert_primitive(p),
        wasmparser::ComponentValType::Type(index) => match types.component_any_type_at(index) {
            ComponentAnyTypeId::Defined(id) => convert_value_type(types, keys, &ComponentValType::Type(id)),
            ComponentAnyTypeId::Resource(_)
            | ComponentAnyTypeId::Func(_)
            | ComponentAnyTypeId::Instance(_)
            | ComponentAnyTypeId::Component(_) => bail!("type {index} is not a value type"),
        },
    }
}

fn convert_primitive(p: PrimitiveValType) -> Result<ValueType> {
    Ok(match p {
        PrimitiveValType::Bool => ValueType::Bool,
        PrimitiveValType::S8 => ValueType::S8,
        PrimitiveValType::U8 => ValueType::U8,
        PrimitiveValType::S16 => ValueType::S16,
        PrimitiveValType::U16 => ValueType::U16,
        PrimitiveValType::S32 => ValueType::S32,
        PrimitiveValType::U32 => ValueType::U32,
        PrimitiveValType::S64 => ValueType::S64,
        PrimitiveValType::U64 => ValueType::U64,
        PrimitiveValType::F32 => ValueType::F32,
        PrimitiveValType::F64 => ValueType::F64,
        PrimitiveValType::Char => ValueType::Char,
        PrimitiveValType::String => ValueType::String,
        PrimitiveValType::ErrorContext => bail!("unsupported feature: error-context values"),
    })
}

pub(crate) fn convert_func_type(
    types: TypesRef<'_>,
    keys: &mut ResourceKeys,
    id: ComponentFuncTypeId,
) -> Result<FuncType> {
    // An `async` function type only says that callers may call it without blocking; the values
    // crossing are the same, so kiln's function type does not record it.
    let ty = &types[id];
    Ok(FuncType {
        params: ty
            .params
            .iter()
            .map(|(name, t)| Ok((name.to_string(), convert_value_type(types, keys, t)?)))
            .collect::<Result<_>>()?,
        result: ty.result.as_ref().map(|t| convert_value_type(types, keys, t)).transpose()?,
    })
}

/// The feature named by a conversion error (`unsupported feature: X` -> `X`), for the few
/// reasons that are not known statically; the set of such strings is small and fixed.
fn leak_feature(e: anyhow::Error) -> &'static str {
    let text = e.to_string();
    let feature = text.strip_prefix("unsupported feature: ").unwrap_or(&text);
    match feature {
        "async futures and streams" => "async futures and streams",
        "error-context values" => "error-context values",
        _ => "a result type kiln cannot represent",
    }
}

/// The core signature of core function `index` of the component being read.
fn core_signature(types: TypesRef<'_>, index: u32) -> Result<(Vec<FlatType>, Vec<FlatType>)> {
    let wasmparser::CompositeInnerType::Func(ty) = &types[types.core_function_at(index)].composite_type.inner else {
        bail!("core function {index} does not have a function type");
    };
    let flat = |t: &wasmparser::ValType| match t {
        wasmparser::ValType::I32 => Ok(FlatType::I32),
        wasmparser::ValType::I64 => Ok(FlatType::I64),
        wasmparser::ValType::F32 => Ok(FlatType::F32),
        wasmparser::ValType::F64 => Ok(FlatType::F64),
        other => bail!("unsupported feature: a canonical built-in with a `{other}` parameter or result"),
    };
    Ok((ty.params().iter().map(flat).collect::<Result<_>>()?, ty.results().iter().map(flat).collect::<Result<_>>()?))
}

/// What a task, waitable, stream, future, thread or `error-context` built-in does in kiln, and
/// the core memory index of its `memory` option where kiln uses it.
fn task_op(canon: &CanonicalFunction) -> (TaskOp, Option<u32>) {
    use CanonicalFunction as C;
    const ASYNC: &str = "async canonical ABI";
    // Cooperative threads are part of the async proposal (its stackful half).
    const THREADS: &str = "async canonical ABI: component threads";
    const ERROR_CONTEXT: &str = "error-context values";
    let unsupported = |name, feature| (TaskOp::Unsupported { name, feature }, None);
    let has_async = |options: &[CanonicalOption]| options.iter().any(|o| matches!(o, CanonicalOption::Async));
    match canon {
        // `i32` slots, or `i64` ones with `cm64` (the core signature says which).
        C::ContextGet { slot, .. } if *slot < 2 => (TaskOp::ContextGet(*slot), None),
        C::ContextSet { slot, .. } if *slot < 2 => (TaskOp::ContextSet(*slot), None),
        C::ContextGet { .. } => unsupported("context.get", "more than two context slots"),
        C::ContextSet { .. } => unsupported("context.set", "more than two context slots"),
        C::BackpressureInc => (TaskOp::BackpressureInc, None),
        C::BackpressureDec => (TaskOp::BackpressureDec, None),
        C::ThreadYield => (TaskOp::ThreadYield, None),
        C::TaskCancel => (TaskOp::NotAsync, None),
        C::WaitableSetNew => (TaskOp::WaitableSetNew, None),
        C::WaitableSetDrop => (TaskOp::WaitableSetDrop, None),
        C::WaitableSetPoll { memory } => (TaskOp::WaitableSetPoll, Some(*memory)),
        C::WaitableJoin => (TaskOp::WaitableJoin, None),
        C::WaitableSetWait { .. } | C::ThreadSuspend => (TaskOp::Blocks, None),
        C::SubtaskCancel { async_: false }
        | C::StreamCancelRead { async_: false, .. }
        | C::StreamCancelWrite { async_: false, .. }
        | C::FutureCancelRead { async_: false, .. }
        | C::FutureCancelWrite { async_: false, .. } => (TaskOp::Blocks, None),
        C::StreamRead { options, .. }
        | C::StreamWrite { options, .. }
        | C::FutureRead { options, .. }
        | C::FutureWrite { options, .. }
            if !has_async(options) =>
        {
            (TaskOp::Blocks, None)
        }
        C::ThreadSpawnRef { .. } => unsupported("thread.spawn-ref", THREADS),
        C::ThreadSpawnIndirect { .. } => unsupported("thread.spawn-indirect", THREADS),
        C::ThreadAvailableParallelism => unsupported("thread.available-parallelism", THREADS),
        C::SubtaskDrop => unsupported("subtask.drop", ASYNC),
        C::SubtaskCancel { .. } => unsupported("subtask.cancel async", ASYNC),
        C::StreamNew { .. } => unsupported("stream.new", ASYNC),
        C::StreamRead { .. } => unsupported("stream.read async", ASYNC),
        C::StreamWrite { .. } => unsupported("stream.write async", ASYNC),
        C::StreamForward { .. } => unsupported("stream.forward", ASYNC),
        C::StreamCancelRead { .. } => unsupported("stream.cancel-read async", ASYNC),
        C::StreamCancelWrite { .. } => unsupported("stream.cancel-write async", ASYNC),
        C::StreamDropReadable { .. } => unsupported("stream.drop-readable", ASYNC),
        C::StreamDropWritable { .. } => unsupported("stream.drop-writable", ASYNC),
        C::FutureNew { .. } => unsupported("future.new", ASYNC),
        C::FutureRead { .. } => unsupported("future.read async", ASYNC),
        C::FutureWrite { .. } => unsupported("future.write async", ASYNC),
        C::FutureForward { .. } => unsupported("future.forward", ASYNC),
        C::FutureCancelRead { .. } => unsupported("future.cancel-read async", ASYNC),
        C::FutureCancelWrite { .. } => unsupported("future.cancel-write async", ASYNC),
        C::FutureDropReadable { .. } => unsupported("future.drop-readable", ASYNC),
        C::FutureDropWritable { .. } => unsupported("future.drop-writable", ASYNC),
        C::ErrorContextNew { .. } => unsupported("error-context.new", ERROR_CONTEXT),
        C::ErrorContextDebugMessage { .. } => unsupported("error-context.debug-message", ERROR_CONTEXT),
        C::ErrorContextDrop => unsupported("error-context.drop", ERROR_CONTEXT),
        C::ThreadIndex => unsupported("thread.index", THREADS),
        C::ThreadNewIndirect { .. } => unsupported("thread.new-indirect", THREADS),
        C::ThreadResumeLater => unsupported("thread.resume-later", THREADS),
        C::ThreadSuspendThenResume => unsupported("thread.suspend-then-resume", THREADS),
        C::ThreadYieldThenResume => unsupported("thread.yield-then-resume", THREADS),
        C::ThreadSuspendThenPromote => unsupported("thread.suspend-then-promote", THREADS),
        C::ThreadYieldThenPromote => unsupported("thread.yield-then-promote", THREADS),
        _ => unsupported("canonical built-in", ASYNC),
    }
}

fn convert_options(types: TypesRef<'_>, options: &[CanonicalOption]) -> Result<LocalOptions> {
    let mut out = LocalOptions::default();
    for option in options {
        match option {
            CanonicalOption::Memory(m) => {
                out.memory = Some(*m);
                let memory = types.memory_at(*m);
                out.ptr = super::abi::PtrSize::of_memory(memory.memory64);
                out.page_size_log2 = memory.page_size_log2;
            }
            CanonicalOption::UTF8 => out.string_encoding = StringEncoding::Utf8,
            CanonicalOption::UTF16 => out.string_encoding = StringEncoding::Utf16,
            CanonicalOption::CompactUTF16 => out.string_encoding = StringEncoding::CompactUtf16,
            CanonicalOption::Realloc(f) => out.realloc = Some(*f),
            CanonicalOption::PostReturn(f) => out.post_return = Some(*f),
            CanonicalOption::Async => out.async_ = true,
            CanonicalOption::Callback(f) => out.callback = Some(*f),
            CanonicalOption::CoreType(_) | CanonicalOption::Gc => bail!("unsupported feature: GC canonical ABI"),
        }
    }
    Ok(out)
}

impl Translation {
    /// Validates `bytes` as a component (with [`component_features`]) and reads every component
    /// and core module in it.
    pub fn parse(bytes: &[u8]) -> Result<Translation> {
        Translation::parse_with_features(bytes, component_features())
    }

    /// [`Translation::parse`] with the wasm features of the engine that will run the component
    /// (plus [`component_model_features`]).
    pub fn parse_with_features(bytes: &[u8], features: wasmparser::WasmFeatures) -> Result<Translation> {
        Self::parse_with(bytes, features, component_model_features())
    }

    /// Like [`Translation::parse_with_features`], with the Component Model features given
    /// instead of [`component_model_features`] (an embedder may turn some off).
    pub fn parse_with(
        bytes: &[u8],
        features: wasmparser::WasmFeatures,
        component_model: wasmparser::WasmFeatures,
    ) -> Result<Translation> {
        let features = features | component_model;
        let mut validator = Validator::new_with_features(features);
        let mut translation = Translation::default();
        let mut keys = ResourceKeys::default();
        // The component being read at each nesting level.
        let mut stack: Vec<StaticComponent> = Vec::new();
        // Depth inside core modules, whose payloads are only validated here.
        let mut module_depth = 0usize;
        for payload in Parser::new(0).parse_all(bytes) {
            // Validation errors say so; anything after is kiln's (`unsupported feature: ...`).
            let payload = payload.context("failed to validate the component")?;
            validator.payload(&payload).context("failed to validate the component")?;
            if module_depth > 0 {
                if let Payload::End(_) = payload {
                    module_depth -= 1;
                }
                continue;
            }
            match payload {
                Payload::Version { encoding, .. } => {
                    if encoding != wasmparser::Encoding::Component {
                        bail!("expected a component, found a core module");
                    }
                    stack.push(StaticComponent::default());
                }
                Payload::End(_) => {
                    let component = stack.pop().context("unbalanced component nesting")?;
                    translation.components.push(component);
                    let index = translation.components.len() as u32 - 1;
                    if let Some(parent) = stack.last_mut() {
                        parent.inits.push(LocalInit::Component(index));
                    }
                }
                Payload::ModuleSection { unchecked_range, .. } => {
                    module_depth += 1;
                    translation.modules.push(unchecked_range.start as usize..unchecked_range.end as usize);
                    let index = translation.modules.len() as u32 - 1;
                    stack.last_mut().context("module outside a component")?.inits.push(LocalInit::CoreModule(index));
                }
                Payload::ComponentSection { .. } => {}
                other => {
                    let types = validator.types(0).context("no validator types")?;
                    let current = stack.last_mut().context("section outside a component")?;
                    read_section(current, types, &mut keys, other)?;
                }
            }
        }
        if translation.components.is_empty() {
            bail!("no component found");
        }
        Ok(translation)
    }
}

/// How a `(kind, index)` reference is recorded: unchanged, except that a type is recorded as its
/// resource's static key (or [`NOT_A_RESOURCE`]).
fn item_ref(types: TypesRef<'_>, keys: &mut ResourceKeys, kind: ComponentExternalKind, index: u32) -> u32 {
    match kind {
        ComponentExternalKind::Type => keys.type_key(types, index).unwrap_or(NOT_A_RESOURCE),
        _ => index,
    }
}

fn read_section(
    current: &mut StaticComponent,
    types: TypesRef<'_>,
    keys: &mut ResourceKeys,
    payload: Payload<'_>,
) -> Result<()> {
    let inits = &mut current.inits;
    match payload {
        Payload::ComponentImportSection(s) => {
            // The validator has already added the whole section: imported functions take the last
            // `n` function indices, in order.
            let imports = s.into_iter().collect::<Result<Vec<_>, _>>()?;
            let func_imports = imports.iter().filter(|i| matches!(i.ty, ComponentTypeRef::Func(_))).count() as u32;
            let mut next_func = types.component_function_count() - func_imports;
            let instance_imports =
                imports.iter().filter(|i| matches!(i.ty, ComponentTypeRef::Instance(_))).count() as u32;
            let mut next_instance = types.component_instance_count() - instance_imports;
            let type_imports = imports.iter().filter(|i| matches!(i.ty, ComponentTypeRef::Type(_))).count() as u32;
            let module_imports = imports.iter().filter(|i| matches!(i.ty, ComponentTypeRef::Module(_))).count() as u32;
            let mut next_module = types.module_count() - module_imports;
            let mut next_type = types.component_type_count() - type_imports;
            for import in imports {
                let kind = match import.ty {
                    ComponentTypeRef::Func(_) => {
                        next_func += 1;
                        match convert_func_type(types, keys, types.component_function_at(next_func - 1)) {
                            Ok(ty) => ImportKind::Func(ty),
                            Err(e) => {
                                let reason = format!("{e} in import `{}`", import.name.name);
                                inits.push(LocalInit::Unsupported { core: false, reason });
                                continue;
                            }
                        }
                    }
                    ComponentTypeRef::Instance(_) => {
                        next_instance += 1;
                        ImportKind::Instance(convert_instance_type(
                            types,
                            keys,
                            types.component_instance_at(next_instance - 1),
                        ))
                    }
                    ComponentTypeRef::Module(_) => {
                        next_module += 1;
                        ImportKind::Module(convert_module_type(types, types.module_at(next_module - 1)))
                    }
                    ComponentTypeRef::Component(_) => ImportKind::Component,
                    ComponentTypeRef::Type(_) => {
                        next_type += 1;
                        ImportKind::Type(keys.type_key(types, next_type - 1))
                    }
                    ComponentTypeRef::Value(_) => bail!("unsupported feature: value imports"),
                };
                inits.push(LocalInit::Import { name: import.name.name.to_string(), kind });
            }
        }
        Payload::ComponentExportSection(s) => {
            for export in s {
                let export = export?;
                if export.kind == ComponentExternalKind::Value {
                    bail!("unsupported feature: value exports");
                }
                inits.push(LocalInit::Export {
                    name: export.name.name.to_string(),
                    kind: export.kind,
                    index: item_ref(types, keys, export.kind, export.index),
                });
            }
        }
        Payload::InstanceSection(s) => {
            for instance in s {
                inits.push(match instance? {
                    Instance::Instantiate { module_index, args } => LocalInit::CoreInstantiate {
                        module: module_index,
                        args: args.iter().map(|a| (a.name.to_string(), a.index)).collect(),
                    },
                    Instance::FromExports(exports) => LocalInit::CoreInstanceFromExports(
                        exports.iter().map(|e| (e.name.to_string(), e.kind, e.index)).collect(),
                    ),
                });
            }
        }
        Payload::ComponentInstanceSection(s) => {
            for instance in s {
                inits.push(match instance? {
                    ComponentInstance::Instantiate { component_index, args } => LocalInit::Instantiate {
                        component: component_index,
                        args: args
                            .iter()
                            .map(|a| (a.name.to_string(), a.kind, item_ref(types, keys, a.kind, a.index)))
                            .collect(),
                    },
                    ComponentInstance::FromExports(exports) => LocalInit::InstanceFromExports(
                        exports
                            .iter()
                            .map(|e| (e.name.name.to_string(), e.kind, item_ref(types, keys, e.kind, e.index)))
                            .collect(),
                    ),
                });
            }
        }
        Payload::ComponentAliasSection(s) => {
            // Type aliases take the last type indices of the section, in order.
            let aliases = s.into_iter().collect::<Result<Vec<_>, _>>()?;
            let type_aliases = aliases
                .iter()
                .filter(|a| {
                    matches!(
                        a,
                        ComponentAlias::InstanceExport { kind: ComponentExternalKind::Type, .. }
                            | ComponentAlias::Outer { kind: ComponentOuterAliasKind::Type, .. }
                    )
                })
                .count() as u32;
            let mut next_type = types.component_type_count() - type_aliases;
            for alias in aliases {
                match alias {
                    ComponentAlias::InstanceExport { kind, instance_index, name } => {
                        if kind == ComponentExternalKind::Value {
                            bail!("unsupported feature: value aliases");
                        }
                        let type_key = if kind == ComponentExternalKind::Type {
                            next_type += 1;
                            keys.type_key(types, next_type - 1)
                        } else {
                            None
                        };
                        inits.push(LocalInit::InstanceAlias {
                            kind,
                            instance: instance_index,
                            name: name.to_string(),
                            type_key,
                        })
                    }
                    ComponentAlias::CoreInstanceExport { kind, instance_index, name } => {
                        inits.push(LocalInit::CoreAlias { kind, instance: instance_index, name: name.to_string() })
                    }
                    ComponentAlias::Outer { kind, count, index } => match kind {
                        ComponentOuterAliasKind::CoreModule => {
                            inits.push(LocalInit::OuterAlias { component: false, count, index })
                        }
                        ComponentOuterAliasKind::Component => {
                            inits.push(LocalInit::OuterAlias { component: true, count, index })
                        }
                        ComponentOuterAliasKind::Type => next_type += 1,
                        ComponentOuterAliasKind::CoreType => {}
                    },
                }
            }
        }
        Payload::ComponentCanonicalSection(s) => {
            // The validator has read the whole section: its core functions (every definition
            // but `canon lift` makes one) are the last core function indices, in order.
            let canons = s.into_iter().collect::<Result<Vec<_>, _>>()?;
            let core_defs = canons.iter().filter(|c| !matches!(c, CanonicalFunction::Lift { .. })).count() as u32;
            let mut next_core_func =
                types.function_count().checked_sub(core_defs).context("canonical section core function count")?;
            for canon in canons {
                if !matches!(canon, CanonicalFunction::Lift { .. }) {
                    next_core_func += 1;
                }
                match canon {
                    CanonicalFunction::Lift { core_func_index, type_index, options } => {
                        let ComponentAnyTypeId::Func(id) = types.component_any_type_at(type_index) else {
                            bail!("canon lift with a non-function type");
                        };
                        inits.push(match (convert_func_type(types, keys, id), convert_options(types, &options)) {
                            (Ok(ty), Ok(mut options)) => {
                                options.async_type = types[id].async_;
                                LocalInit::Lift { core_func: core_func_index, ty, options }
                            }
                            (Err(e), _) | (_, Err(e)) => {
                                LocalInit::Unsupported { core: false, reason: format!("{e} in a `canon lift`") }
                            }
                        });
                    }
                    CanonicalFunction::Lower { func_index, options } => {
                        let id = types.component_function_at(func_index);
                        let ty = convert_func_type(types, keys, id);
                        inits.push(match (ty, convert_options(types, &options)) {
                            (Ok(ty), Ok(mut options)) => {
                                options.async_type = types[id].async_;
                                LocalInit::Lower { func: func_index, ty, options }
                            }
                            (Err(e), _) | (_, Err(e)) => {
                                LocalInit::Unsupported { core: true, reason: format!("{e} in a `canon lower`") }
                            }
                        });
                    }
                    CanonicalFunction::ResourceNew { resource } => inits.push(LocalInit::ResourceBuiltin {
                        op: ResourceOp::New,
                        key: keys.type_key(types, resource).context("resource.new of a type that is not a resource")?,
                    }),
                    CanonicalFunction::ResourceRep { resource } => inits.push(LocalInit::ResourceBuiltin {
                        op: ResourceOp::Rep,
                        key: keys.type_key(types, resource).context("resource.rep of a type that is not a resource")?,
                    }),
                    CanonicalFunction::ResourceDrop { resource } => inits.push(LocalInit::ResourceBuiltin {
                        op: ResourceOp::Drop,
                        key: keys
                            .type_key(types, resource)
                            .context("resource.drop of a type that is not a resource")?,
                    }),
                    CanonicalFunction::TaskReturn { result, options } => {
                        let (params, results) = core_signature(types, next_core_func - 1)?;
                        let options = convert_options(types, &options)?;
                        let op = match result.map(|t| convert_syntactic_value_type(types, keys, t)).transpose() {
                            Ok(result) => TaskOp::Return { result, string_encoding: options.string_encoding },
                            Err(e) => TaskOp::Unsupported { name: "task.return", feature: leak_feature(e) },
                        };
                        inits.push(LocalInit::TaskBuiltin { op, params, results, memory: options.memory });
                    }
                    other => {
                        let (params, results) = core_signature(types, next_core_func - 1)?;
                        let (op, memory) = task_op(&other);
                        inits.push(LocalInit::TaskBuiltin { op, params, results, memory });
                    }
                }
            }
        }
        Payload::ComponentStartSection { .. } => bail!("unsupported feature: component start functions"),
        Payload::ComponentTypeSection(s) => {
            // The section's types take the last type indices, in order.
            let defs = s.into_iter().collect::<Result<Vec<_>, _>>()?;
            let first = types.component_type_count() - defs.len() as u32;
            for (i, def) in defs.iter().enumerate() {
                if let ComponentType::Resource { rep, dtor } = def {
                    if *rep != wasmparser::ValType::I32 {
                        bail!("unsupported feature: cm64 (a resource type with an `{rep}` representation)");
                    }
                    let key = keys.type_key(types, first + i as u32).context("resource type without a resource id")?;
                    inits.push(LocalInit::DefineResource { key, dtor: *dtor });
                }
            }
        }
        Payload::CoreTypeSection(_) | Payload::CustomSection(_) => {}
        other => bail!("unexpected section in a component: {other:?}"),
    }
    Ok(())
}
