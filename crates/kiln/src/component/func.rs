//! [`Func`]: a component function exported by an instance, called with dynamic values.

use super::abi;
use super::instance::{HostAbi, ResolvedOptions, core_to_flat, flat_to_core};
use super::linker::HostFunc;
use super::typed::{ComponentResults, LowerParams, TypedFunc};
use super::values::Val;
use crate::Trap;
use crate::store::{AsContext, AsContextMut, StoreContextMut, StoreId};
use anyhow::{Result, bail};
use kiln_environ::component::{FuncType, ValueType};
use kiln_fact::{FLAG_MAY_ENTER, FLAG_MAY_LEAVE};
use std::sync::Arc;

/// An exported component function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Func {
    pub(crate) store: StoreId,
    pub(crate) instance: usize,
    pub(crate) index: usize,
}

pub(crate) struct LiftedFunc {
    pub(crate) ty: FuncType,
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
            FuncData::Lifted(f) => Some(f.ty.clone()),
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
        let (ty, core, options) = match &store.opaque.component_instances[self.instance].funcs[self.index] {
            FuncData::Lifted(f) => (f.ty.clone(), f.core, f.options),
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
        let flags = options.flags.get(crate::StoreContextMut(&mut *store)).unwrap_i32();
        if flags & FLAG_MAY_ENTER == 0 {
            return Err(anyhow::Error::new(Trap::CannotEnterComponent));
        }
        // Cleared for the whole call, restored only on success: a trap leaves the instance
        // unenterable (poisoned).
        options.flags.set(crate::StoreContextMut(&mut *store), crate::Val::I32(flags & !FLAG_MAY_ENTER))?;
        let flat = {
            let mut cx = HostAbi { store: &mut *store, options };
            abi::lower_params(&mut cx, &ty, params)?
        };
        let args = flat_to_core(&flat);
        let core_ty = core.ty(crate::StoreContext(&*store));
        let mut core_results: Vec<crate::Val> = core_ty.results().map(crate::Val::default_for).collect();
        core.call(crate::StoreContextMut(&mut *store), &args, &mut core_results)?;
        let flat_results = core_to_flat(&core_results)?;
        let result = {
            let cx = HostAbi { store: &mut *store, options };
            abi::lift_results(&cx, &ty, &flat_results)?
        };
        if let Some(post_return) = options.post_return {
            options
                .flags
                .set(crate::StoreContextMut(&mut *store), crate::Val::I32(flags & !FLAG_MAY_ENTER & !FLAG_MAY_LEAVE))?;
            post_return.call(crate::StoreContextMut(&mut *store), &core_results, &mut [])?;
        }
        options.flags.set(crate::StoreContextMut(&mut *store), crate::Val::I32(flags))?;
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
            return Some(Err(e));
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
            let params: Vec<&ValueType> = ty.params.iter().map(|(_, t)| t).collect();
            let expected = P::types();
            if params != expected.iter().collect::<Vec<_>>() {
                bail!("type mismatch with parameters: the function takes {ty}");
            }
            if ty.result != R::result_type() {
                bail!("type mismatch with results: the function is {ty}");
            }
        }
        Ok(TypedFunc::new(*self))
    }
}
