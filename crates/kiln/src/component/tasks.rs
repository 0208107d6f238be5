//! The canonical built-ins of the async ABI, the threading proposal and `error-context`
//! (`context.get`, `backpressure.inc`, `waitable-set.new`, `stream.read`, ...) as host functions.
//!
//! kiln runs every task synchronously: it has no async lifts or lowers, no streams, futures or
//! subtasks. A component may still contain these built-ins (a toolchain links them in, or only
//! some exports use them), so each gets the meaning the Canonical ABI gives it in a synchronous
//! task: context slots and backpressure work, `thread.yield` returns "not cancelled", waitable
//! sets can be made, polled (always empty) and dropped, and whatever would block the task traps
//! with the specification's message. Everything else first checks that the instance may leave
//! (as the specification does, so a built-in called from `post-return` traps the same way) and
//! then fails with an error naming the built-in and its feature.

use super::instance::{core_type, resolve_core, state_mut};
use crate::store::StoreInner;
use crate::{Caller, FuncType, Trap};
use anyhow::{Context, Result, bail};
use kiln_environ::component::{TaskBuiltin, TaskOp};
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
    context: Vec<[u32; CONTEXT_SLOTS]>,
    /// `backpressure.inc` minus `backpressure.dec`, per runtime component instance.
    backpressure: Vec<u32>,
}

impl TaskState {
    pub(crate) fn new(num_instances: u32) -> TaskState {
        TaskState {
            context: vec![[0; CONTEXT_SLOTS]; num_instances as usize],
            backpressure: vec![0; num_instances as usize],
        }
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
        TaskOp::ContextGet(slot) => {
            let slot = *slot as usize;
            let value = if flags & FLAG_CONTEXT_LIVE == 0 { 0 } else { state.tasks.context[instance][slot] };
            raw[0] = ValRaw::i32(value as i32);
        }
        TaskOp::ContextSet(slot) => {
            let slots = &mut state.tasks.context[instance];
            if flags & FLAG_CONTEXT_LIVE == 0 {
                // The first write of a new task: its other slots start at 0.
                *slots = [0; CONTEXT_SLOTS];
                flags_global.set(ValRaw::i32(flags | FLAG_CONTEXT_LIVE));
            }
            slots[*slot as usize] = arg(0);
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
        TaskOp::ThreadYield => raw[0] = ValRaw::i32(0),
        TaskOp::NotAsync => return Err(anyhow::Error::new(Trap::TaskNotAsync)),
        TaskOp::Blocks => return Err(anyhow::Error::new(Trap::CannotBlockSyncTask)),
        TaskOp::WaitableSetNew => {
            let handle = state.resources.get_mut().new_waitable_set(builtin.instance)?;
            raw[0] = ValRaw::i32(handle as i32);
        }
        TaskOp::WaitableSetDrop => state.resources.get_mut().waitable_set(builtin.instance, arg(0), true)?,
        TaskOp::WaitableJoin => state.resources.get_mut().join_waitable(builtin.instance, arg(0))?,
        TaskOp::WaitableSetPoll => {
            let (set, ptr) = (arg(0), arg(1));
            state.resources.get_mut().waitable_set(builtin.instance, set, false)?;
            // Nothing is ever ready: the event is "none", with both payload words 0.
            let memory = builtin.memory.as_ref().context("`waitable-set.poll` without a memory")?;
            let memory = resolve_core(&mut store.opaque, index, memory)?
                .into_memory()
                .context("the `memory` option of `waitable-set.poll` is not a memory")?;
            let bytes = memory.raw_data_mut(&store.opaque);
            let event = (ptr as usize)
                .checked_add(8)
                .and_then(|end| bytes.get_mut(ptr as usize..end))
                .ok_or_else(|| anyhow::Error::new(Trap::PointerOutOfBounds))?;
            event.fill(0);
            raw[0] = ValRaw::i32(EVENT_NONE);
        }
        TaskOp::Unsupported { name, feature } => bail!("unsupported feature: {feature} (`{name}`)"),
    }
    Ok(())
}
