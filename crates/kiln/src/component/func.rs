//! [`Func`]: a component function exported by an instance, called with dynamic values.

use super::abi;
use super::abi::Flat;
use super::instance::{HostAbi, ResolvedOptions};
use super::linker::HostFunc;
use super::typed::{ComponentResults, LowerParams, TypedFunc};
use super::values::Val;
use crate::Trap;
use crate::store::{AsContext, AsContextMut, StoreContextMut, StoreId};
use anyhow::{Result, bail};
use kiln_environ::component::{FuncType, ValueType};
use kiln_fact::{FLAG_MAY_ENTER, FLAG_MAY_LEAVE};
use kiln_runtime::ValRaw;
use std::sync::Arc;

pub(crate) fn flat_to_raw(value: Flat) -> ValRaw {
    match value {
        Flat::I32(v) => ValRaw::i32(v),
        Flat::I64(v) => ValRaw::i64(v),
        Flat::F32(v) => ValRaw::f32(v),
        Flat::F64(v) => ValRaw::f64(v),
    }
}

pub(crate) fn raw_to_flat(ty: kiln_environ::component::FlatType, value: ValRaw) -> Flat {
    use kiln_environ::component::FlatType;
    match ty {
        FlatType::I32 => Flat::I32(value.get_i32()),
        FlatType::I64 => Flat::I64(value.get_i64()),
        FlatType::F32 => Flat::F32(value.get_f32()),
        FlatType::F64 => Flat::F64(value.get_f64()),
    }
}

/// An exception may not leave a component (Canonical ABI): at the boundary it becomes a trap.
/// The trap no longer carries the exception, so that no host function can rethrow it into
/// another component; its message keeps the exception's description.
pub(crate) fn exception_to_trap(e: anyhow::Error) -> anyhow::Error {
    if e.downcast_ref::<Trap>() != Some(&Trap::UncaughtException) {
        return e;
    }
    let cause = e.root_cause().to_string();
    anyhow::Error::new(Trap::UncaughtException)
        .context(format!("uncaught exception propagated out of component: {cause}"))
}

/// An exported component function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Func {
    pub(crate) store: StoreId,
    pub(crate) instance: usize,
    pub(crate) index: usize,
}

pub(crate) struct LiftedFunc {
    pub(crate) ty: Arc<FuncType>,
    /// The core results' types (`flatten_func(ty, Lift).results`).
    pub(crate) core_results: Arc<[kiln_environ::component::FlatType]>,
    pub(crate) core: crate::Func,
    pub(crate) options: ResolvedOptions,
    /// Set when every parameter and the result are scalars (one flat value each, no memory), there
    /// is no post-return and the core function is wasm: typed calls then skip `Val` entirely.
    pub(crate) fast: Option<ScalarPath>,
}

/// What a scalar-only typed call needs, looked up once.
#[derive(Clone, Copy)]
pub(crate) struct ScalarPath {
    pub(crate) funcref: *const kiln_runtime::VMFuncRef,
    pub(crate) trampoline: kiln_runtime::ArrayToWasmFn,
    pub(crate) flags: *mut kiln_runtime::VMGlobalDefinition,
}

impl ScalarPath {
    /// The fast path for a lifted function, if it qualifies.
    pub(crate) fn new(
        store: &crate::store::StoreOpaque,
        ty: &FuncType,
        core: crate::Func,
        options: &ResolvedOptions,
    ) -> Option<ScalarPath> {
        let scalar = |t: &ValueType| {
            matches!(
                t,
                ValueType::Bool
                    | ValueType::S8
                    | ValueType::U8
                    | ValueType::S16
                    | ValueType::U16
                    | ValueType::S32
                    | ValueType::U32
                    | ValueType::S64
                    | ValueType::U64
                    | ValueType::F32
                    | ValueType::F64
                    | ValueType::Char
            )
        };
        if ty.params.len() > 16 || !ty.params.iter().all(|(_, t)| scalar(t)) || !ty.result.iter().all(scalar) {
            return None;
        }
        if options.post_return.is_some() {
            return None;
        }
        let crate::func::FuncKind::Wasm { funcref, trampoline } = &store.funcs[core.index].kind else {
            return None;
        };
        Some(ScalarPath { funcref: *funcref, trampoline: *trampoline, flags: options.flags.runtime_ptr(store) })
    }
}

pub(crate) enum FuncData {
    /// Lifted from a core function.
    Lifted(LiftedFunc),
    /// A host import re-exported (type-erased `HostFunc<T>`), with the type the component
    /// declared for it.
    Host(Arc<dyn std::any::Any + Send + Sync>, Option<FuncType>),
}

impl Func {
    fn check_store(&self, id: StoreId) -> Result<()> {
        if id != self.store {
            bail!("component function used with the wrong store");
        }
        Ok(())
    }

    /// The function's type (`None` only for a re-exported host function whose declared type
    /// kiln cannot represent yet).
    pub fn ty(&self, store: impl AsContext) -> Option<FuncType> {
        let store = &store.as_context().0.opaque;
        match &store.component_instances[self.instance].funcs[self.index] {
            FuncData::Lifted(f) => Some((*f.ty).clone()),
            FuncData::Host(_, ty) => ty.clone(),
        }
    }

    /// Parameter types.
    pub fn params(&self, store: impl AsContext) -> Vec<(String, super::Type)> {
        self.ty(store)
            .map(|ty| ty.params.iter().map(|(n, t)| (n.clone(), super::Type::from_value_type(t))).collect())
            .unwrap_or_default()
    }

    /// Result type.
    pub fn result(&self, store: impl AsContext) -> Option<super::Type> {
        self.ty(store)?.result.as_ref().map(super::Type::from_value_type)
    }

    /// Calls the function. `results` must have one slot if the function has a result. The
    /// function's post-return runs before this returns.
    pub fn call<T: 'static>(
        &self,
        mut store: impl AsContextMut<Data = T>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        let store = store.as_context_mut().0;
        self.check_store(store.opaque.id)?;
        let (ty, core_result_types, core, options) =
            match &store.opaque.component_instances[self.instance].funcs[self.index] {
                FuncData::Lifted(f) => (f.ty.clone(), f.core_results.clone(), f.core, f.options),
                FuncData::Host(host, _) => {
                    let host = host
                        .clone()
                        .downcast::<HostFunc<T>>()
                        .map_err(|_| anyhow::anyhow!("host function of another store type"))?;
                    return (host.call)(StoreContextMut(store), params, results);
                }
            };
        if params.len() != ty.params.len() {
            bail!("expected {} arguments, got {}", ty.params.len(), params.len());
        }
        for (value, (name, t)) in params.iter().zip(ty.params.iter()) {
            value.typecheck(t).map_err(|e| e.context(format!("argument `{name}`")))?;
        }
        if ty.result.is_some() && results.is_empty() {
            bail!("expected room for 1 result");
        }
        // SAFETY: the flags global is owned by this store and lives as long as it.
        let flags_global = unsafe { &*options.flags.runtime_ptr(&store.opaque) };
        let flags = flags_global.get().get_i32();
        if flags & FLAG_MAY_ENTER == 0 {
            return Err(anyhow::Error::new(Trap::CannotEnterComponent));
        }
        // Cleared for the whole call, restored only on success: a trap leaves the instance
        // unenterable (poisoned).
        flags_global.set(ValRaw::i32(flags & !FLAG_MAY_ENTER));
        let scopes = store.opaque.component_instances[self.instance].resources.get_mut().scope_depth();
        let lends = ty.params.iter().any(|(_, t)| t.has_borrows());
        if lends {
            store.opaque.component_instances[self.instance].resources.get_mut().enter_call();
        }
        let flat = {
            let mut cx = HostAbi { store: &mut *store, options };
            abi::lower_params(&mut cx, &ty, params)
        };
        let flat = match flat {
            Ok(flat) => flat,
            Err(e) => {
                store.opaque.component_instances[self.instance].resources.get_mut().truncate_scopes(scopes);
                return Err(e);
            }
        };
        // The core call takes its arguments and leaves its results in one raw buffer.
        let mut raw = vec![ValRaw::default(); flat.len().max(core_result_types.len())];
        for (slot, value) in raw.iter_mut().zip(&flat) {
            *slot = flat_to_raw(*value);
        }
        // A call that traps can leave the call scopes of the adapters it was inside open.
        let called = core.call_raw(&mut *store, &mut raw).map_err(exception_to_trap);
        if called.is_err() {
            store.opaque.component_instances[self.instance].resources.get_mut().truncate_scopes(scopes);
        }
        called?;
        let flat_results: Vec<Flat> =
            core_result_types.iter().zip(&raw).map(|(ty, value)| raw_to_flat(*ty, *value)).collect();
        let result = {
            let cx = HostAbi { store: &mut *store, options };
            abi::lift_results(&cx, &ty, &flat_results)?
        };
        if let Some(post_return) = options.post_return {
            flags_global.set(ValRaw::i32(flags & !FLAG_MAY_ENTER & !FLAG_MAY_LEAVE));
            // Post-return takes the core results as its arguments.
            let mut args: Vec<ValRaw> = raw[..core_result_types.len()].to_vec();
            if args.is_empty() {
                args.push(ValRaw::default());
            }
            post_return.call_raw(&mut *store, &mut args).map_err(exception_to_trap)?;
        }
        if lends {
            store.opaque.component_instances[self.instance].resources.get_mut().exit_call()?;
        }
        flags_global.set(ValRaw::i32(flags));
        if let Some(result) = result {
            results[0] = result;
        }
        Ok(())
    }

    /// The scalar fast path of a typed call: `raw` holds the lowered parameters. `None` when the
    /// function does not qualify (nothing has been done then).
    pub(crate) fn call_scalar<T: 'static, R>(
        &self,
        mut store: impl AsContextMut<Data = T>,
        raw: &mut [kiln_runtime::ValRaw; 16],
        lift: impl FnOnce(kiln_runtime::ValRaw) -> Option<Result<R>>,
    ) -> Option<Result<R>> {
        let store = store.as_context_mut().0;
        if store.opaque.id != self.store {
            return Some(Err(anyhow::anyhow!("component function used with the wrong store")));
        }
        let FuncData::Lifted(LiftedFunc { fast: Some(fast), .. }) =
            &store.opaque.component_instances[self.instance].funcs[self.index]
        else {
            return None;
        };
        let fast = *fast;
        // SAFETY: the flags global is owned by this store and lives as long as it.
        let flags = unsafe { &*fast.flags };
        let saved = flags.get().get_i32();
        if saved & FLAG_MAY_ENTER == 0 {
            return Some(Err(anyhow::Error::new(Trap::CannotEnterComponent)));
        }
        flags.set(kiln_runtime::ValRaw::i32(saved & !FLAG_MAY_ENTER));
        if let Err(e) = crate::func::invoke_wasm(&mut store.opaque, fast.funcref, fast.trampoline, raw.as_mut_ptr()) {
            return Some(Err(exception_to_trap(e)));
        }
        let result = lift(raw[0]).unwrap_or_else(|| Err(anyhow::anyhow!("typed result is not a scalar")));
        if result.is_ok() {
            flags.set(kiln_runtime::ValRaw::i32(saved));
        }
        Some(result)
    }

    /// A view of this function with Rust types; fails if they do not match.
    pub fn typed<P: LowerParams, R: ComponentResults>(&self, store: impl AsContext) -> Result<TypedFunc<P, R>> {
        if let Some(ty) = self.ty(&store) {
            let expected = P::types();
            if ty.params.len() != expected.len()
                || !expected.iter().zip(ty.params.iter()).all(|(e, (_, t))| e.accepts(t))
            {
                bail!("type mismatch with parameters: the function takes {ty}");
            }
            let result_match = match (R::result_type(), &ty.result) {
                (None, None) => true,
                (Some(e), Some(t)) => e.accepts(t),
                _ => false,
            };
            if !result_match {
                bail!("type mismatch with results: the function is {ty}");
            }
        }
        Ok(TypedFunc::new(*self))
    }
}
