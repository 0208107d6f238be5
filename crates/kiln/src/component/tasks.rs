//! The canonical built-ins of the async ABI, the threading proposal and `error-context`
//! (`context.get`, `backpressure.inc`, `waitable-set.new`, `stream.read`, ...) as host functions.
//!
//! kiln runs every task to completion when it is called: `async` lifts and lowers work (an
//! `async` lower's subtask has always returned by the time the lower returns, an `async` lift
//! gives its result through `task.return`), but there are no streams, futures or suspended
//! subtasks. Each built-in gets the meaning the Canonical ABI gives it in such a task: context
//! slots and backpressure work, `thread.yield` returns "not cancelled", waitable sets can be made,
//! polled (always empty) and dropped, whatever would block a synchronous task traps with the
//! specification's message, and an `async` task that waits for an event that can never come is
//! a deadlock. Everything else first checks that the instance may leave (as the specification
//! does, so a built-in called from `post-return` traps the same way) and then fails with an
//! error naming the built-in and its feature.

use super::abi;
use super::func::raw_to_flat;
use super::instance::{HostAbi, ResolvedOptions, core_type, resolve_core, state_mut};
use super::values::Val;
use crate::store::StoreInner;
use crate::{Caller, FuncType, Trap};
use anyhow::{Context, Result, bail};
use kiln_environ::component::{FlatType, TaskBuiltin, TaskOp, ValueType};
use kiln_fact::{FLAG_CONTEXT_LIVE, FLAG_MAY_LEAVE};
use kiln_runtime::ValRaw;

/// Context slots per task (`context.get/set i32 0` and `1`).
const CONTEXT_SLOTS: usize = 2;
/// `backpressure.inc` traps when the counter would reach this.
const BACKPRESSURE_LIMIT: u32 = 1 << 16;
/// The event `waitable-set.poll` reports for a set with nothing ready.
const EVENT_NONE: i32 = 0;

/// The task state of every runtime component instance of one component instance.
#[derive(Debug, Default)]
pub(crate) struct TaskState {
    /// The running task's context slots, per runtime component instance; they count only
    /// while the instance's [`FLAG_CONTEXT_LIVE`] bit is set (a new task clears it).
    context: Vec<[u64; CONTEXT_SLOTS]>,
    /// `backpressure.inc` minus `backpressure.dec`, per runtime component instance.
    backpressure: Vec<u32>,
    /// The tasks running whose function type is `async` or that were lifted `async`, innermost
    /// last (other tasks never block and never call `task.return`, so they need no record).
    pub(crate) async_tasks: Vec<AsyncTask>,
    /// How many `async` lowers are running their callee: a caller that could go on if its
    /// callee blocked.
    pub(crate) async_lowers: u32,
}

/// A running task of a function whose type is `async` or that was lifted `async`: whether it
/// may block, what `task.return` checks and where its result goes.
#[derive(Debug)]
pub(crate) struct AsyncTask {
    /// The runtime component instance running it.
    pub(crate) instance: u32,
    /// Lifted with the `async` option: its result comes through `task.return`.
    pub(crate) lifted_async: bool,
    /// Its result type.
    pub(crate) result: Option<ValueType>,
    /// The lift's options (`task.return` must use the same memory and string encoding).
    pub(crate) options: ResolvedOptions,
    /// The result, once `task.return` has given it.
    pub(crate) returned: Option<Option<Val>>,
    /// How many times it has yielded (see [`MAX_ASYNC_YIELDS`]).
    pub(crate) yields: u32,
}

/// An `async` task yields so that other tasks can run; kiln runs none meanwhile, so a task that
/// keeps yielding is waiting for something that cannot happen. After this many yields it fails,
/// naming the feature, instead of spinning forever.
pub(crate) const MAX_ASYNC_YIELDS: u32 = 10_000;

impl TaskState {
    pub(crate) fn new(num_instances: u32) -> TaskState {
        TaskState {
            context: vec![[0; CONTEXT_SLOTS]; num_instances as usize],
            backpressure: vec![0; num_instances as usize],
            async_tasks: Vec::new(),
            async_lowers: 0,
        }
    }

    /// The running task of runtime component instance `instance`, if it needs a record (see
    /// [`TaskState::async_tasks`]).
    fn current(&self, instance: u32) -> Option<&AsyncTask> {
        self.async_tasks.last().filter(|t| t.instance == instance)
    }

    /// Whether the running task of `instance` may block: its function type is `async`, or it
    /// was lifted `async`.
    pub(crate) fn may_block(&self, instance: u32) -> bool {
        self.current(instance).is_some()
    }

    /// Fails, naming the feature, if runtime component instance `instance` has backpressure
    /// set: a new task would have to wait for it to be lifted, and kiln cannot suspend the
    /// caller meanwhile.
    pub(crate) fn check_backpressure(&self, instance: u32) -> Result<()> {
        if self.backpressure[instance as usize] > 0 {
            bail!(
                "unsupported feature: async canonical ABI (a call to an instance with backpressure set waits, \
                 and kiln cannot suspend its caller)"
            );
        }
        Ok(())
    }

    /// The innermost task blocks, waiting for an event kiln can never deliver (it makes no
    /// waitables that complete later). If every caller is waiting for it too, that is a
    /// deadlock; if an `async` lower is running it, that caller could go on meanwhile, which
    /// kiln cannot do: it fails naming the feature.
    pub(crate) fn blocked(&self) -> anyhow::Error {
        if self.async_lowers > 0 {
            return anyhow::anyhow!(
                "unsupported feature: async canonical ABI (a subtask blocked while its caller could go on; \
                 kiln runs every subtask to completion and cannot suspend one)"
            );
        }
        anyhow::Error::new(Trap::Deadlock)
    }

    /// The innermost task yields (`thread.yield`, or its callback returned `YIELD`).
    pub(crate) fn yielded(&mut self) -> Result<()> {
        if self.async_lowers > 0 {
            bail!(
                "unsupported feature: async canonical ABI (a subtask yielded while its caller could go on; \
                 kiln runs every subtask to completion and cannot suspend one)"
            );
        }
        if let Some(task) = self.async_tasks.last_mut() {
            task.yields += 1;
            if task.yields > MAX_ASYNC_YIELDS {
                bail!(
                    "unsupported feature: async canonical ABI (a task yielded {MAX_ASYNC_YIELDS} times: it waits \
                     for other tasks, and kiln runs no other task while one is running)"
                );
            }
        }
        Ok(())
    }
}

/// The built-in as a host function of component instance `index`.
pub(crate) fn task_builtin<T: 'static>(store: &mut StoreInner<T>, index: usize, builtin: &TaskBuiltin) -> crate::Func {
    let ty = FuncType::new(builtin.params.iter().map(|t| core_type(*t)), builtin.results.iter().map(|t| core_type(*t)));
    let builtin = builtin.clone();
    crate::Func::new_raw(store, ty, move |caller: Caller<'_, T>, raw: &mut [ValRaw]| {
        run(caller.store, index, &builtin, raw)
    })
}

fn run<T: 'static>(store: &mut StoreInner<T>, index: usize, builtin: &TaskBuiltin, raw: &mut [ValRaw]) -> Result<()> {
    let instance = builtin.instance as usize;
    let flags_global = state_mut(store, index).flags[instance];
    // SAFETY: the flags global is owned by this store and lives as long as it.
    let flags_global = unsafe { &*flags_global.runtime_ptr(&store.opaque) };
    let flags = flags_global.get().get_i32();
    if builtin.op.checks_may_leave() && flags & FLAG_MAY_LEAVE == 0 {
        return Err(anyhow::Error::new(Trap::CannotLeaveComponent));
    }
    let arg = |i: usize| raw[i].get_i32() as u32;
    let state = state_mut(store, index);
    match &builtin.op {
        // Slots are `i32`, or `i64` with `cm64` (validation makes one component use one type).
        TaskOp::ContextGet(slot) => {
            let slot = *slot as usize;
            let value = if flags & FLAG_CONTEXT_LIVE == 0 { 0 } else { state.tasks.context[instance][slot] };
            raw[0] = match builtin.results.first() {
                Some(FlatType::I64) => ValRaw::i64(value as i64),
                _ => ValRaw::i32(value as u32 as i32),
            };
        }
        TaskOp::ContextSet(slot) => {
            let value = match builtin.params.first() {
                Some(FlatType::I64) => raw[0].get_i64() as u64,
                _ => u64::from(arg(0)),
            };
            let slots = &mut state.tasks.context[instance];
            if flags & FLAG_CONTEXT_LIVE == 0 {
                // The first write of a new task: its other slots start at 0.
                *slots = [0; CONTEXT_SLOTS];
                flags_global.set(ValRaw::i32(flags | FLAG_CONTEXT_LIVE));
            }
            slots[*slot as usize] = value;
        }
        TaskOp::BackpressureInc => {
            let counter = &mut state.tasks.backpressure[instance];
            if *counter + 1 >= BACKPRESSURE_LIMIT {
                return Err(anyhow::Error::new(Trap::BackpressureOutOfRange));
            }
            *counter += 1;
        }
        TaskOp::BackpressureDec => {
            let counter = &mut state.tasks.backpressure[instance];
            *counter = counter.checked_sub(1).ok_or_else(|| anyhow::Error::new(Trap::BackpressureOutOfRange))?;
        }
        // A synchronous task cannot be suspended: yielding simply continues.
        TaskOp::ThreadYield => {
            // A task that may not block continues at once.
            if state.tasks.may_block(builtin.instance) {
                state.tasks.yielded()?;
            }
            raw[0] = ValRaw::i32(0)
        }
        // Only a task lifted `async` may call it, and only once its caller asked to cancel it,
        // which no caller can do here (every subtask runs to completion first).
        TaskOp::NotAsync if state.tasks.current(builtin.instance).is_some_and(|t| t.lifted_async) => {
            return Err(anyhow::Error::new(Trap::TaskNotCancelled));
        }
        TaskOp::NotAsync => return Err(anyhow::Error::new(Trap::TaskNotAsync)),
        TaskOp::Return { result, string_encoding } => {
            if !state.tasks.current(builtin.instance).is_some_and(|t| t.lifted_async) {
                return Err(anyhow::Error::new(Trap::TaskNotAsync));
            }
            let memory = match &builtin.memory {
                Some(def) => Some(
                    resolve_core(&mut store.opaque, index, def)?
                        .into_memory()
                        .context("the `memory` option of `task.return` is not a memory")?,
                ),
                None => None,
            };
            let state = state_mut(store, index);
            let task = state.tasks.async_tasks.last().expect("checked above");
            let options = task.options;
            // The lift's options and `task.return`'s must agree on what they share (`LiftOptions`).
            let same_options =
                options.string_encoding == *string_encoding && (memory.is_none() || memory == options.memory);
            if task.result != *result || !same_options {
                return Err(anyhow::Error::new(Trap::TaskReturnMismatch));
            }
            if task.returned.is_some() {
                return Err(anyhow::Error::new(Trap::TaskReturnCount));
            }
            let flat: Vec<_> = builtin.params.iter().zip(raw.iter()).map(|(t, v)| raw_to_flat(*t, *v)).collect();
            let value = {
                let cx = HostAbi { store: &mut *store, options };
                abi::lift_task_return(&cx, result.as_ref(), &flat)?
            };
            let task = state_mut(store, index).tasks.async_tasks.last_mut().expect("checked above");
            task.returned = Some(value);
        }
        // An `async` task could wait, but nothing would ever wake it: kiln makes no waitables
        // that complete later.
        TaskOp::Blocks if state.tasks.may_block(builtin.instance) => return Err(state.tasks.blocked()),
        TaskOp::Blocks => return Err(anyhow::Error::new(Trap::CannotBlockSyncTask)),
        TaskOp::WaitableSetNew => {
            let handle = state.resources.get_mut().new_waitable_set(builtin.instance)?;
            raw[0] = ValRaw::i32(handle as i32);
        }
        TaskOp::WaitableSetDrop => state.resources.get_mut().waitable_set(builtin.instance, arg(0), true)?,
        TaskOp::WaitableJoin => state.resources.get_mut().join_waitable(builtin.instance, arg(0))?,
        TaskOp::WaitableSetPoll => {
            // The event pointer is an `i64` into a 64-bit memory.
            let ptr = match builtin.params.get(1) {
                Some(FlatType::I64) => raw[1].get_i64() as u64,
                _ => u64::from(arg(1)),
            };
            let set = arg(0);
            state.resources.get_mut().waitable_set(builtin.instance, set, false)?;
            // Nothing is ever ready: the event is "none", with both payload words 0.
            let memory = builtin.memory.as_ref().context("`waitable-set.poll` without a memory")?;
            let memory = resolve_core(&mut store.opaque, index, memory)?
                .into_memory()
                .context("the `memory` option of `waitable-set.poll` is not a memory")?;
            let bytes = memory.raw_data_mut(&store.opaque);
            let event = usize::try_from(ptr)
                .ok()
                .and_then(|start| bytes.get_mut(start..start.checked_add(8)?))
                .ok_or_else(|| anyhow::Error::new(Trap::PointerOutOfBounds))?;
            event.fill(0);
            raw[0] = ValRaw::i32(EVENT_NONE);
        }
        TaskOp::Unsupported { name, feature } => bail!("unsupported feature: {feature} (`{name}`)"),
    }
    Ok(())
}
