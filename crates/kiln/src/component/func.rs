//! [`Func`]: a component function exported by an instance, called with dynamic values.

use super::abi;
use super::abi::{AbiMemory, Flat};
use super::instance::{HostAbi, ResolvedOptions};
use super::linker::HostFunc;
use super::tasks::AsyncTask;
use super::typed::{ComponentNamedList, ComponentResults, LowerParams, TypedFunc, checked_range, typecheck};
use super::values::Val;
use crate::Trap;
use crate::store::{AsContext, AsContextMut, StoreContextMut, StoreId, StoreInner};
use anyhow::{Result, bail};
use kiln_environ::component::{FuncType, MAX_FLAT_PARAMS, MAX_FLAT_RESULTS};
use kiln_fact::{FLAG_CONTEXT_LIVE, FLAG_MAY_ENTER, FLAG_MAY_LEAVE};
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
    /// The number of core parameters (`flatten_func(ty, Lift).params.len()`).
    pub(crate) core_params: usize,
    /// The core results' types (`flatten_func(ty, Lift).results`).
    pub(crate) core_results: Arc<[kiln_environ::component::FlatType]>,
    pub(crate) core: crate::Func,
    pub(crate) options: ResolvedOptions,
    /// Whether the parameters hold borrows (a call then opens a scope for them).
    pub(crate) lends: bool,
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
        let ty = match &store.opaque.component_instances[self.instance].funcs[self.index] {
            FuncData::Lifted(f) => f.ty.clone(),
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
        let result = self.call_lifted(
            store,
            |cx, ty, raw| {
                // Checked above: values go straight into the core parameters when they fit.
                if super::dynamic::lower_params(cx, &ty.params, params, raw)? {
                    return Ok(());
                }
                let flat = abi::lower_params(cx, ty, params)?;
                for (slot, value) in raw.iter_mut().zip(&flat) {
                    *slot = flat_to_raw(*value);
                }
                Ok(())
            },
            |cx, ty, core_results, returned| match returned {
                Returned::Value(value) => Ok(value),
                Returned::Core(raw) => lift_core_result(cx, ty, core_results, raw),
            },
        )?;
        if let Some(result) = result {
            results[0] = result;
        }
        Ok(())
    }
}

/// What a lifted function gave back: its core results, or (lifted `async`) the value it passed
/// to `task.return`.
pub(crate) enum Returned<'a> {
    Core(&'a [ValRaw]),
    Value(Option<Val>),
}

/// Lifts a synchronously lifted function's core results.
fn lift_core_result<T: 'static>(
    cx: &HostAbi<'_, T>,
    ty: &FuncType,
    core_results: &[kiln_environ::component::FlatType],
    raw: &[ValRaw],
) -> Result<Option<Val>> {
    match &ty.result {
        None => Ok(None),
        Some(t) if kiln_environ::component::flat_count(t) as usize <= MAX_FLAT_RESULTS => {
            super::dynamic::lift_val(cx, t, raw).map(Some)
        }
        Some(_) => {
            let flat: Vec<Flat> = core_results.iter().zip(raw).map(|(t, v)| raw_to_flat(*t, *v)).collect();
            abi::lift_results(cx, ty, &flat)
        }
    }
}

impl Func {
    /// A typed call: parameters lowered and results lifted straight between Rust values and
    /// the callee's core values and memory.
    pub(crate) fn call_typed<T: 'static, P: LowerParams, R: ComponentResults>(
        &self,
        mut store: impl AsContextMut<Data = T>,
        params: P,
    ) -> Result<R> {
        let store = store.as_context_mut().0;
        self.check_store(store.opaque.id)?;
        if let FuncData::Host(host, _) = &store.opaque.component_instances[self.instance].funcs[self.index] {
            // A re-exported host function: its own wrapper checks the values.
            let host = host
                .clone()
                .downcast::<HostFunc<T>>()
                .map_err(|_| anyhow::anyhow!("host function of another store type"))?;
            let mut results = if R::result_type().is_some() { vec![Val::Bool(false)] } else { Vec::new() };
            (host.call)(StoreContextMut(store), &params.to_vals(), &mut results)?;
            return R::from_val(results.pop());
        }
        if let FuncData::Lifted(f) = &store.opaque.component_instances[self.instance].funcs[self.index]
            && f.options.ptr.is_64()
        {
            // Typed layouts are those of 32-bit memories: over a 64-bit one, go through values.
            let mut results = if R::result_type().is_some() { vec![Val::Bool(false)] } else { Vec::new() };
            self.call(StoreContextMut(store), &params.to_vals(), &mut results)?;
            return R::from_val(results.pop());
        }
        self.call_lifted(
            store,
            |cx, ty, raw| {
                if P::LAYOUT.flat as usize <= MAX_FLAT_PARAMS {
                    params.lower_params(cx, &ty.params, raw)
                } else {
                    // Too many flat values: the parameters go in memory the callee allocates.
                    let ptr = abi::realloc_checked(cx, 0, 0, P::LAYOUT.align, P::LAYOUT.size)?;
                    params.store_params(cx, &ty.params, ptr as usize)?;
                    raw[0] = ValRaw::i32(ptr as i32);
                    Ok(())
                }
            },
            |cx, ty, _, returned| {
                let raw = match returned {
                    Returned::Value(value) => return R::from_val(value),
                    Returned::Core(raw) => raw,
                };
                if R::LAYOUT.flat as usize <= MAX_FLAT_RESULTS {
                    R::lift_result(cx, ty.result.as_ref(), &raw[..R::LAYOUT.flat as usize])
                } else {
                    // The result is in memory, at the pointer the callee returned.
                    let range = checked_range(cx, raw[0].get_i32() as u32, R::LAYOUT)?;
                    R::load_result(cx, ty.result.as_ref(), &cx.memory()?[range])
                }
            },
        )
    }

    /// The protocol of a host call into a lifted function: `may_enter` cleared for the call,
    /// a scope for lent borrows, the arguments lowered by `lower` into the core parameters, the
    /// core call, the results lifted by `lift`, post-return, then the scope closed and the
    /// flags restored. A trap leaves the instance unenterable (poisoned).
    fn call_lifted<T: 'static, R>(
        &self,
        store: &mut StoreInner<T>,
        lower: impl FnOnce(&mut HostAbi<'_, T>, &FuncType, &mut [ValRaw]) -> Result<()>,
        lift: impl FnOnce(&HostAbi<'_, T>, &FuncType, &[kiln_environ::component::FlatType], Returned<'_>) -> Result<R>,
    ) -> Result<R> {
        let FuncData::Lifted(f) = &store.opaque.component_instances[self.instance].funcs[self.index] else {
            bail!("not a lifted function");
        };
        let (ty, core_params, core_results, core, options, lends) =
            (Arc::as_ptr(&f.ty), f.core_params, Arc::as_ptr(&f.core_results), f.core, f.options, f.lends);
        // SAFETY: both live in `Arc`s owned by this function's `FuncData`, which the store keeps
        // until it is dropped (functions are only ever added), and never changes: they outlive
        // this call even if the call adds functions (which may move the `FuncData` itself).
        let (ty, core_results) = unsafe { (&*ty, &*core_results) };
        // SAFETY: the flags global is owned by this store and lives as long as it.
        let flags_global = unsafe { &*options.flags.runtime_ptr(&store.opaque) };
        let flags = flags_global.get().get_i32();
        if flags & FLAG_MAY_ENTER == 0 {
            return Err(anyhow::Error::new(Trap::CannotEnterComponent));
        }
        // Cleared for the whole call, restored only on success: a trap leaves the instance
        // unenterable (poisoned). A new task: its context slots start at 0.
        flags_global.set(ValRaw::i32(flags & !FLAG_MAY_ENTER & !FLAG_CONTEXT_LIVE));
        let scopes = store.opaque.component_instances[self.instance].resources.get_mut().scope_depth();
        if lends {
            store.opaque.component_instances[self.instance].resources.get_mut().enter_call();
        }
        // The core call takes its arguments and leaves its results in one raw buffer.
        let mut raw = [ValRaw::default(); MAX_FLAT_PARAMS];
        let lowered = {
            let mut cx = HostAbi { store: &mut *store, options };
            lower(&mut cx, ty, &mut raw[..core_params])
        };
        // A call that traps can leave the call scopes of the adapters it was inside open.
        let called = lowered.and_then(|()| {
            let raw = &mut raw[..core_params.max(core_results.len())];
            if options.async_ || options.async_type {
                run_task(store, self.instance, options, ty, core, raw)
            } else {
                core.call_raw(&mut *store, raw).map_err(exception_to_trap).map(|()| None)
            }
        });
        let returned = match called {
            Ok(returned) => returned,
            Err(e) => {
                store.opaque.component_instances[self.instance].resources.get_mut().truncate_scopes(scopes);
                return Err(e);
            }
        };
        let result = {
            let cx = HostAbi { store: &mut *store, options };
            match returned {
                Some(value) => lift(&cx, ty, core_results, Returned::Value(value))?,
                None => lift(&cx, ty, core_results, Returned::Core(&raw[..core_results.len()]))?,
            }
        };
        if let Some(post_return) = options.post_return {
            // Post-return runs in the same task (its context slots stay live).
            flags_global.set(ValRaw::i32(flags_global.get().get_i32() & !FLAG_MAY_LEAVE));
            // Post-return takes the core results as its arguments.
            let mut args = [ValRaw::default(); MAX_FLAT_RESULTS];
            args[..core_results.len()].copy_from_slice(&raw[..core_results.len()]);
            post_return.call_raw(&mut *store, &mut args).map_err(exception_to_trap)?;
        }
        if lends {
            store.opaque.component_instances[self.instance].resources.get_mut().exit_call()?;
        }
        flags_global.set(ValRaw::i32(flags));
        Ok(result)
    }

    /// A view of this function with Rust types; fails with an error naming the parameter,
    /// field or case that differs if they do not match.
    pub fn typed<P: LowerParams, R: ComponentResults>(&self, store: impl AsContext) -> Result<TypedFunc<P, R>> {
        if let Some(ty) = self.ty(&store) {
            check_func_type::<P, R>(&ty)?;
        }
        Ok(TypedFunc::new(*self))
    }
}

/// Checks a function type against Rust parameter and result types.
pub(crate) fn check_func_type<P: ComponentNamedList, R: ComponentResults>(ty: &FuncType) -> Result<()> {
    let expected = P::types();
    if ty.params.len() != expected.len() {
        bail!(
            "type mismatch: the function takes {} parameters, the Rust type has {} ({ty})",
            ty.params.len(),
            expected.len()
        );
    }
    for (e, (name, t)) in expected.iter().zip(ty.params.iter()) {
        typecheck(e, t).map_err(|err| err.context(format!("in parameter `{name}` of {ty}")))?;
    }
    match (R::result_type(), &ty.result) {
        (None, None) => Ok(()),
        (Some(e), Some(t)) => typecheck(&e, t).map_err(|err| err.context(format!("in the result of {ty}"))),
        (Some(_), None) => bail!("type mismatch: the function has no result ({ty})"),
        (None, Some(t)) => bail!("type mismatch: the function returns {t} ({ty})"),
    }
}

/// Callback codes an `async` lift's core function (and its callback) return, in the low 4 bits;
/// the rest holds a waitable set index for `WAIT`.
const CALLBACK_EXIT: u32 = 0;
const CALLBACK_YIELD: u32 = 1;
const CALLBACK_WAIT: u32 = 2;
/// The event a callback receives after `YIELD`: nothing happened.
const EVENT_NONE: i32 = 0;

/// Runs a task that may block (its function type is `async`, or it is lifted `async`) to
/// completion, with a record of it on the task stack: the core function with the arguments in
/// `raw`, then, lifted `async` with a callback, the callback for as long as it asks to be called
/// again. Lifted `async`, it returns what the task gave `task.return`, which it must call
/// exactly once; else the core results are in `raw`.
fn run_task<T: 'static>(
    store: &mut StoreInner<T>,
    index: usize,
    options: ResolvedOptions,
    ty: &FuncType,
    core: crate::Func,
    raw: &mut [ValRaw],
) -> Result<Option<Option<Val>>> {
    store.opaque.component_instances[index].tasks.check_backpressure(options.instance)?;
    let tasks = &mut store.opaque.component_instances[index].tasks.async_tasks;
    let depth = tasks.len();
    tasks.push(AsyncTask {
        instance: options.instance,
        lifted_async: options.async_,
        result: ty.result.clone(),
        options,
        returned: None,
        yields: 0,
    });
    let ran = if options.async_ {
        run_async_core(store, index, options, core, raw)
    } else {
        core.call_raw(&mut *store, raw).map_err(exception_to_trap)
    };
    let tasks = &mut store.opaque.component_instances[index].tasks.async_tasks;
    let task = tasks.pop();
    tasks.truncate(depth);
    ran?;
    if !options.async_ {
        return Ok(None);
    }
    task.and_then(|t| t.returned).map(Some).ok_or_else(|| anyhow::Error::new(Trap::TaskReturnCount))
}

fn run_async_core<T: 'static>(
    store: &mut StoreInner<T>,
    index: usize,
    options: ResolvedOptions,
    core: crate::Func,
    raw: &mut [ValRaw],
) -> Result<()> {
    core.call_raw(&mut *store, raw).map_err(exception_to_trap)?;
    let Some(callback) = options.callback else { return Ok(()) };
    loop {
        let code = raw[0].get_i32() as u32;
        match code & 0xf {
            CALLBACK_EXIT => return Ok(()),
            // Nothing else runs in between: the callback is called again at once.
            CALLBACK_YIELD => {
                store.opaque.component_instances[index].tasks.yielded()?;
                let mut args = [ValRaw::i32(EVENT_NONE), ValRaw::i32(0), ValRaw::i32(0)];
                callback.call_raw(&mut *store, &mut args).map_err(exception_to_trap)?;
                raw[0] = args[0];
            }
            CALLBACK_WAIT => {
                // The set must exist; it can never receive an event (kiln makes no waitables
                // that complete later), so the task would wait forever.
                let set = code >> 4;
                let state = &mut store.opaque.component_instances[index];
                state.resources.get_mut().waitable_set(options.instance, set, false)?;
                return Err(state.tasks.blocked());
            }
            _ => return Err(anyhow::Error::new(Trap::UnsupportedCallbackCode)),
        }
    }
}
