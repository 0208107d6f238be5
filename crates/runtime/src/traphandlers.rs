//! Trap handling: running wasm under a setjmp point, turning faults inside compiled code into traps,
//! and unwinding host errors and panics across wasm frames.
//!
//! `catch_traps` records a jump buffer in a thread-local `CallThreadState` and runs the call. A fault
//! whose PC has a trap record in registered code is caught by the signal handler, which records the
//! trap and a backtrace (walking frame pointers, without allocating) and longjmps back. Traps raised
//! on purpose (`unreachable`), host errors and host panics take the same longjmp without a signal.
//! No Rust frame with a pending destructor may lie between the jump buffer and the place that jumps.

use crate::code::{CodeLookup, with_code_at};
use crate::vmcontext::VMStoreContext;
use kiln_environ::Trap;
use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::Once;

use crate::setjmp::{kiln_longjmp, kiln_resume_at, kiln_setjmp_call};

/// Why a call into wasm did not return normally.
#[derive(Debug)]
pub enum UnwindReason {
    /// A wasm trap.
    Trap(Trap),
    /// A host function returned an error.
    Host(anyhow::Error),
    /// A host function panicked; the payload is resumed by the embedder.
    Panic(Box<dyn Any + Send>),
    /// An exception (the address of its object) that no wasm handler caught.
    Exception(usize),
}

/// A frame of a wasm backtrace.
#[derive(Debug, Clone)]
pub struct RawFrame {
    /// Program counter (for frames after the first, a return address).
    pub pc: usize,
    /// For the first frame of a trap raised on purpose: the exact wasm offset.
    pub wasm_offset: Option<u32>,
}

/// A trap or unwind, with the wasm frames it crossed (innermost first).
#[derive(Debug)]
pub struct UnwindReport {
    /// Why.
    pub reason: UnwindReason,
    /// Program counters of the wasm frames.
    pub frames: Vec<RawFrame>,
}

const MAX_FRAMES: usize = 256;

struct CallThreadState {
    jmp_buf: Cell<*const c_void>,
    reason: UnsafeCell<Option<UnwindReason>>,
    /// Only the first `num_pcs` entries are initialised: zeroing 2 KiB per call would cost more
    /// than the call itself.
    pcs: UnsafeCell<MaybeUninit<[usize; MAX_FRAMES]>>,
    num_pcs: Cell<usize>,
    first_wasm_offset: Cell<Option<u32>>,
    /// An address in the host frame that entered wasm: wasm frames lie below it.
    stack_top: usize,
    prev: *const CallThreadState,
    /// The store this activation runs wasm of.
    store_ctx: *const VMStoreContext,
    /// The store's last wasm exit when this activation began: where the wasm frames of the
    /// activation that called the host (which called in here) resume (`fp`, `pc`, `sp`; zero if
    /// the host entered directly).
    outer_exit: (usize, usize, usize),
}

impl CallThreadState {
    /// Records the wasm frames starting at (`pc`, `fp`). Signal-safe: no allocation.
    fn capture_frames(&self, pc: usize, mut fp: usize, pc_is_return_address: bool) {
        // Writes go through a raw pointer: the array is uninitialised beyond `num_pcs`.
        let pcs = self.pcs.get().cast::<usize>();
        let mut n = 0;
        let lookup = |pc: usize, ret: bool| {
            // A zero PC is the empty exit record of an activation no wasm frame left yet.
            if pc == 0 {
                return false;
            }
            let pc = if ret { pc - 1 } else { pc };
            with_code_at(pc, |info, off| info.defined_func_at(off).is_some()).unwrap_or(false)
        };
        if lookup(pc, pc_is_return_address) {
            // SAFETY: n < MAX_FRAMES; only this thread touches its state.
            unsafe { pcs.add(n).write(pc) };
            n += 1;
        }
        // Each wasm frame keeps a frame pointer: [fp] = caller's fp, [fp + 8] = return address.
        while n < MAX_FRAMES && fp != 0 && fp < self.stack_top && fp.is_multiple_of(8) {
            // SAFETY: `fp` lies between the current stack pointer and the entry frame and is part
            // of the frame-pointer chain of compiled code, which keeps frame pointers.
            let (next_fp, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
            if !lookup(ret, true) {
                break;
            }
            // SAFETY: n < MAX_FRAMES, checked by the loop condition.
            unsafe { pcs.add(n).write(ret) };
            n += 1;
            if next_fp <= fp {
                break;
            }
            fp = next_fp;
        }
        self.num_pcs.set(n);
    }

    fn set_reason(&self, reason: UnwindReason) {
        // SAFETY: only this thread touches its state.
        unsafe { *self.reason.get() = Some(reason) };
    }

    fn take_report(&self) -> UnwindReport {
        // SAFETY: only this thread touches its state; the call has ended.
        let reason = unsafe { (*self.reason.get()).take() }.unwrap_or(UnwindReason::Trap(Trap::UnreachableCodeReached));
        // SAFETY: the first `num_pcs` entries were written by `capture_frames`.
        let pcs = unsafe { std::slice::from_raw_parts(self.pcs.get().cast::<usize>(), self.num_pcs.get()) };
        let frames = pcs
            .iter()
            .enumerate()
            .map(|(i, pc)| RawFrame { pc: *pc, wasm_offset: if i == 0 { self.first_wasm_offset.get() } else { None } })
            .collect();
        UnwindReport { reason, frames }
    }
}

thread_local! {
    static CURRENT: Cell<*const CallThreadState> = const { Cell::new(ptr::null()) };
}

fn current() -> Option<&'static CallThreadState> {
    let state = CURRENT.with(|c| c.get());
    // SAFETY: the state lives in the frame of `catch_traps`, which outlives the call.
    unsafe { state.as_ref() }
}

unsafe extern "C" fn call_closure<F: FnMut()>(payload: *mut c_void) {
    // SAFETY: `payload` is the `&mut F` passed by `catch_traps`.
    unsafe { (*payload.cast::<F>())() }
}

/// Runs `f` (which calls into compiled code) and catches traps, host errors and panics raised
/// inside it.
///
/// Sets the store's stack limit `max_wasm_stack` bytes below the current stack pointer if no outer
/// call has set it.
///
/// # Safety
///
/// `store_ctx` must be valid. `f` must not hold values with destructors across calls into wasm:
/// a trap skips its frames.
pub unsafe fn catch_traps<F: FnMut()>(
    store_ctx: *mut VMStoreContext,
    max_wasm_stack: usize,
    mut f: F,
) -> Result<(), Box<UnwindReport>> {
    // Signal handlers are installed when an engine is created; only the per-thread alternate
    // stack needs checking here, once per thread.
    if !ALT_STACK_READY.with(Cell::get) {
        init_traps();
        ensure_alt_stack();
        ALT_STACK_READY.with(|ready| ready.set(true));
    }
    let marker = 0u8;
    let stack_top = ptr::addr_of!(marker) as usize;
    // SAFETY: the caller guarantees `store_ctx` is valid.
    let limit_slot = unsafe { (*store_ctx).stack_limit.get() };
    // SAFETY: as above.
    let old_limit = unsafe { *limit_slot };
    // A host function that calls back into wasm must still find its own caller's exit frame when
    // it returns (a host function that throws resumes from it): save it across this call.
    // SAFETY: as above.
    let old_exit = unsafe {
        (
            *(*store_ctx).last_wasm_exit_fp.get(),
            *(*store_ctx).last_wasm_exit_pc.get(),
            *(*store_ctx).last_wasm_exit_sp.get(),
        )
    };
    // No wasm frame of this activation has called the host yet.
    // SAFETY: as above.
    unsafe {
        *(*store_ctx).last_wasm_exit_fp.get() = 0;
        *(*store_ctx).last_wasm_exit_pc.get() = 0;
        *(*store_ctx).last_wasm_exit_sp.get() = 0;
    }
    if old_limit == usize::MAX {
        // SAFETY: as above.
        unsafe { *limit_slot = stack_top.saturating_sub(max_wasm_stack) };
    }
    let state = CallThreadState {
        jmp_buf: Cell::new(ptr::null()),
        reason: UnsafeCell::new(None),
        pcs: UnsafeCell::new(MaybeUninit::uninit()),
        num_pcs: Cell::new(0),
        first_wasm_offset: Cell::new(None),
        stack_top,
        prev: CURRENT.with(|c| c.get()),
        store_ctx,
        outer_exit: old_exit,
    };
    CURRENT.with(|c| c.set(&state));
    // SAFETY: `call_closure::<F>` matches the payload; the jump buffer slot lives in `state`.
    let ok = unsafe { kiln_setjmp_call(state.jmp_buf.as_ptr(), call_closure::<F>, (&mut f as *mut F).cast()) };
    CURRENT.with(|c| c.set(state.prev));
    // SAFETY: as above.
    unsafe {
        *limit_slot = old_limit;
        *(*store_ctx).last_wasm_exit_fp.get() = old_exit.0;
        *(*store_ctx).last_wasm_exit_pc.get() = old_exit.1;
        *(*store_ctx).last_wasm_exit_sp.get() = old_exit.2;
    }
    if ok != 0 { Ok(()) } else { Err(Box::new(state.take_report())) }
}

/// Raises a trap whose first frame is known exactly: function code at `func_pc`, wasm offset
/// `wasm_offset`, frame pointer `fp`.
///
/// # Safety
///
/// Must be called inside `catch_traps`, from a frame with no pending destructors.
pub unsafe fn raise_trap_at(trap: Trap, func_pc: usize, wasm_offset: u32, fp: usize) -> ! {
    let state = current().expect("raise_trap_at outside of wasm");
    state.capture_frames(func_pc, fp, false);
    state.first_wasm_offset.set(Some(wasm_offset));
    state.set_reason(UnwindReason::Trap(trap));
    // SAFETY: the jump buffer belongs to the active `catch_traps` frame.
    unsafe { kiln_longjmp(state.jmp_buf.get()) }
}

/// Unwinds out of a host function called by wasm with an error or a panic payload.
///
/// # Safety
///
/// Must be called from a host shim called by compiled code inside `catch_traps`, with no pending
/// destructors in its frame; `store_ctx` must be the calling store's.
pub unsafe fn raise_from_host(store_ctx: *const VMStoreContext, reason: UnwindReason) -> ! {
    let state = current().expect("host unwind outside of wasm");
    // SAFETY: the caller guarantees `store_ctx` is valid.
    let (fp, pc) = unsafe { (*(*store_ctx).last_wasm_exit_fp.get(), *(*store_ctx).last_wasm_exit_pc.get()) };
    state.capture_frames(pc, fp, true);
    state.set_reason(reason);
    // SAFETY: the jump buffer belongs to the active `catch_traps` frame.
    unsafe { kiln_longjmp(state.jmp_buf.get()) }
}

/// Throws exception object `exception` from the wasm function whose frame pointer is `thrower_fp`
/// (it has no handler of its own for it): unwinds to the nearest caller with a handler.
///
/// # Safety
///
/// Must be called by compiled code inside `catch_traps`, through a builtin with no pending
/// destructors; `exception` must be a live exception object of the calling store.
pub unsafe fn throw_from_wasm(exception: usize, thrower: ThrowSite) -> ! {
    // SAFETY: compiled code keeps frame pointers: [fp] = caller's fp, [fp + 8] = return address.
    let (pc, fp) = unsafe { (*((thrower.fp + 8) as *const usize), *(thrower.fp as *const usize)) };
    // SAFETY: forwarded from the caller.
    unsafe { unwind_exception(exception, pc, fp, Some(thrower)) }
}

/// Where compiled code threw: for an uncaught exception's backtrace, which starts there.
#[derive(Debug, Clone, Copy)]
pub struct ThrowSite {
    /// Start of the throwing function's code.
    pub func_pc: usize,
    /// Offset of the `throw` (or of the end of the `try_table` none of whose clauses matched).
    pub wasm_offset: u32,
    /// The throwing function's frame pointer.
    pub fp: usize,
}

/// Throws `exception` into the wasm frame that called the current host function.
///
/// # Safety
///
/// As [`raise_from_host`]; `exception` must be a live exception object of that store.
pub unsafe fn throw_from_host(store_ctx: *const VMStoreContext, exception: usize) -> ! {
    // SAFETY: the caller guarantees `store_ctx` is valid.
    let (fp, pc) = unsafe { (*(*store_ctx).last_wasm_exit_fp.get(), *(*store_ctx).last_wasm_exit_pc.get()) };
    // SAFETY: forwarded from the caller.
    unsafe { unwind_exception(exception, pc, fp, None) }
}

/// Walks the wasm frames from (`pc`, `fp`) — a return address and the frame pointer of the frame
/// it returns into — to the first call made inside a `try_table`, and resumes at its landing
/// block with the exception in the first payload register. Without one, unwinds to the host entry
/// with [`UnwindReason::Exception`].
///
/// # Safety
///
/// As [`throw_from_wasm`].
unsafe fn unwind_exception(exception: usize, start_pc: usize, start_fp: usize, thrower: Option<ThrowSite>) -> ! {
    let state = current().expect("exception thrown outside of wasm");
    // The handler's landing block and frame pointer, found under one lock of the code registry,
    // which is released before jumping.
    let handler = {
        let code = CodeLookup::new();
        let (mut pc, mut fp) = (start_pc, start_fp);
        let mut found = None;
        while fp != 0 && fp < state.stack_top && fp.is_multiple_of(8) {
            // Look the call up by its return address (`pc - 1` lies inside the call instruction).
            let Some((info, offset)) = code.find(pc - 1) else { break };
            // Not wasm code (the entry trampoline or a host frame), or a component boundary.
            if info.defined_func_at(offset).is_none()
                || info.exception_barrier.load(std::sync::atomic::Ordering::Relaxed)
            {
                break;
            }
            if let Some((landing, frame_offset)) = info.handler_at(offset + 1) {
                let code_start = pc - 1 - offset as usize;
                found = Some((code_start + landing as usize, fp - frame_offset as usize, fp));
                break;
            }
            // SAFETY: `fp` is a wasm frame below the entry frame, which keeps a frame pointer.
            let (next_fp, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
            if next_fp <= fp {
                break;
            }
            (pc, fp) = (ret, next_fp);
        }
        found
    };
    if let Some((landing, sp, fp)) = handler {
        // SAFETY: the landing block expects the frame's own stack and frame pointers, and the
        // exception in the first payload register; no Rust frame between here and there has a
        // pending destructor (the builtins and host shims guarantee it; the registry lock above
        // is released).
        unsafe { kiln_resume_at(landing, sp, fp, exception) }
    }
    match thrower {
        Some(site) => {
            state.capture_frames(site.func_pc, site.fp, false);
            state.first_wasm_offset.set(Some(site.wasm_offset));
        }
        None => state.capture_frames(start_pc, start_fp, true),
    }
    state.set_reason(UnwindReason::Exception(exception));
    // SAFETY: the jump buffer belongs to the active `catch_traps` frame.
    unsafe { kiln_longjmp(state.jmp_buf.get()) }
}

/// Calls `visit` with the address of every stack slot that holds a garbage-collectable reference
/// (what `WasmValType::is_gc_ref` names) live in a wasm frame of the store, innermost first,
/// while a host function or an allocating builtin called from wasm runs: the frames of the
/// current activation from the exit the wasm-to-host trampoline (or the builtin's entry)
/// recorded, then those of each outer activation of the same store, from the exit that was
/// current when the inner one began. Each call's stack map is found by its return address; a
/// frame's stack pointer at its call is its callee's frame pointer + 16.
///
/// # Safety
///
/// Must be called from a host function or builtin called by wasm of the store whose context is
/// `store_ctx` (or from the host outside wasm, where it finds nothing), inside `catch_traps`.
pub unsafe fn visit_stack_roots(store_ctx: *const VMStoreContext, mut visit: impl FnMut(*mut usize)) {
    let Some(mut state) = current() else { return };
    // SAFETY: the caller guarantees `store_ctx` is valid.
    let mut exit = unsafe {
        (
            *(*store_ctx).last_wasm_exit_fp.get(),
            *(*store_ctx).last_wasm_exit_pc.get(),
            *(*store_ctx).last_wasm_exit_sp.get(),
        )
    };
    loop {
        if std::ptr::eq(state.store_ctx, store_ctx) && exit.0 != 0 {
            // SAFETY: the exit was recorded by this activation's wasm, whose frames are live.
            unsafe { visit_activation(state.stack_top, exit, &mut visit) };
        }
        if std::ptr::eq(state.store_ctx, store_ctx) {
            exit = state.outer_exit;
        }
        if state.prev.is_null() {
            break;
        }
        // SAFETY: outer states live in the frames of `catch_traps` calls further up the stack.
        state = unsafe { &*state.prev };
    }
}

/// Visits the stack-map slots of the wasm frames from `exit` up to the host frame at `stack_top`.
///
/// # Safety
///
/// `exit` must be a wasm exit of a live activation below `stack_top`.
unsafe fn visit_activation(stack_top: usize, exit: (usize, usize, usize), visit: &mut impl FnMut(*mut usize)) {
    let (mut fp, mut pc, mut sp) = exit;
    while fp != 0 && fp < stack_top && fp.is_multiple_of(8) {
        let found = with_code_at(pc - 1, |info, offset| {
            info.defined_func_at(offset)?;
            Some(info.stack_map_at(offset + 1).unwrap_or_default())
        })
        .flatten();
        let Some(slots) = found else { break };
        for slot in slots {
            visit((sp + slot as usize) as *mut usize);
        }
        // SAFETY: `fp` is a wasm frame below the entry frame, which keeps a frame pointer.
        let (next_fp, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        if next_fp <= fp {
            break;
        }
        (pc, sp, fp) = (ret, fp + 16, next_fp);
    }
}

/// Whether the current thread is inside a call to wasm.
pub fn in_wasm_call() -> bool {
    current().is_some()
}

// ---- signal handling ----

const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

struct PreviousActions([UnsafeCell<libc::sigaction>; 4]);
// SAFETY: written once inside `Once` before any handler can read it, then only read.
unsafe impl Sync for PreviousActions {}

static PREVIOUS: PreviousActions = PreviousActions([const { UnsafeCell::new(unsafe { std::mem::zeroed() }) }; 4]);
static INIT: Once = Once::new();

/// Installs kiln's signal handlers (once per process). Faults that are not wasm traps go to the
/// handlers that were installed before.
pub fn init_traps() {
    INIT.call_once(|| {
        for (i, signal) in SIGNALS.iter().enumerate() {
            // SAFETY: installing a handler with a zeroed, filled-in sigaction; the previous action
            // is stored before the new handler can observe it (both happen inside sigaction).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handle_signal as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(*signal, &action, PREVIOUS.0[i].get()) != 0 {
                    panic!("failed to install the handler for signal {signal}");
                }
            }
        }
    });
}

unsafe extern "C" fn handle_signal(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // The first touch of a chunk of lazily checked code (running or reading it): check it and
    // retry the access. A corrupt chunk run by wasm is a trap (the host gets an error and the
    // code stays unrunnable); touched anywhere else it stops the process with a message.
    if signal == libc::SIGSEGV || signal == libc::SIGBUS {
        // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
        let addr = unsafe { (*info).si_addr() } as usize;
        match crate::code::check_on_fault(addr) {
            crate::code::FaultCheck::NotLazy => {}
            crate::code::FaultCheck::Retry => return,
            crate::code::FaultCheck::Corrupt => {
                // SAFETY: the kernel passes a valid ucontext for SA_SIGINFO handlers.
                let (pc, _) = unsafe { context_pc_fp(context) };
                match current() {
                    // Executing the corrupt chunk itself: no frame of it can be walked.
                    Some(state) if pc == addr => {
                        state.set_reason(UnwindReason::Trap(kiln_environ::Trap::CorruptCode));
                        // SAFETY: as for the traps below.
                        unsafe { kiln_longjmp(state.jmp_buf.get()) }
                    }
                    _ => crate::code::abort_corrupt(addr),
                }
            }
        }
    }
    if let Some(state) = current() {
        // SAFETY: the kernel passes a valid ucontext for SA_SIGINFO handlers.
        let (pc, fp) = unsafe { context_pc_fp(context) };
        if let Some(Some(trap)) = with_code_at(pc, |info, offset| info.trap_at(offset)) {
            state.capture_frames(pc, fp, false);
            state.set_reason(UnwindReason::Trap(trap));
            // SAFETY: SA_NODEFER leaves the signal mask alone, so jumping out of the handler to the
            // active `catch_traps` frame is sound.
            unsafe { kiln_longjmp(state.jmp_buf.get()) }
        }
    }
    // Not a wasm trap: hand it to whoever handled this signal before us.
    let index = SIGNALS.iter().position(|s| *s == signal).unwrap_or(0);
    // SAFETY: PREVIOUS was filled before our handler was installed.
    let previous = unsafe { &*PREVIOUS.0[index].get() };
    // SAFETY: calling or restoring the previous disposition, as the process had it.
    unsafe {
        if previous.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) =
                std::mem::transmute(previous.sa_sigaction);
            f(signal, info, context);
        } else if previous.sa_sigaction == libc::SIG_DFL || previous.sa_sigaction == libc::SIG_IGN {
            // Restore the previous disposition and return: the fault repeats and takes it.
            libc::sigaction(signal, previous, ptr::null_mut());
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(previous.sa_sigaction);
            f(signal);
        }
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
unsafe fn context_pc_fp(context: *mut c_void) -> (usize, usize) {
    let context = context.cast::<libc::ucontext_t>();
    // SAFETY: the caller passes the kernel's ucontext.
    unsafe {
        let gregs = &(*context).uc_mcontext.gregs;
        (gregs[libc::REG_RIP as usize] as usize, gregs[libc::REG_RBP as usize] as usize)
    }
}

#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
unsafe fn context_pc_fp(context: *mut c_void) -> (usize, usize) {
    let context = context.cast::<libc::ucontext_t>();
    // SAFETY: the caller passes the kernel's ucontext.
    unsafe { ((*context).uc_mcontext.pc as usize, (*context).uc_mcontext.regs[29] as usize) }
}

// ---- alternate signal stacks ----

const ALT_STACK_SIZE: usize = 64 * 1024;

struct AltStack {
    mmap: Option<crate::mmap::Mmap>,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        if let Some(mmap) = &self.mmap {
            // SAFETY: disabling the alternate stack if it is still ours, before unmapping it.
            unsafe {
                let mut current: libc::stack_t = std::mem::zeroed();
                libc::sigaltstack(ptr::null(), &mut current);
                if current.ss_sp as usize == mmap.as_ptr() as usize + crate::mmap::page_size() {
                    let disable = libc::stack_t { ss_sp: ptr::null_mut(), ss_flags: libc::SS_DISABLE, ss_size: 0 };
                    libc::sigaltstack(&disable, ptr::null_mut());
                }
            }
        }
    }
}

thread_local! {
    static ALT_STACK: UnsafeCell<AltStack> = const { UnsafeCell::new(AltStack { mmap: None }) };
    /// Whether this thread's alternate signal stack has been checked (and installed if needed).
    static ALT_STACK_READY: Cell<bool> = const { Cell::new(false) };
}

/// Every thread that runs wasm needs an alternate signal stack large enough for the handler.
fn ensure_alt_stack() {
    ALT_STACK.with(|slot| {
        // SAFETY: only this thread touches its slot, and not re-entrantly.
        let slot = unsafe { &mut *slot.get() };
        if slot.mmap.is_some() {
            return;
        }
        // SAFETY: querying the current alternate stack.
        let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
        unsafe { libc::sigaltstack(ptr::null(), &mut current) };
        if current.ss_flags & libc::SS_DISABLE == 0 && current.ss_size >= ALT_STACK_SIZE {
            return;
        }
        let page = crate::mmap::page_size();
        let Ok(mut mmap) = crate::mmap::Mmap::reserve(ALT_STACK_SIZE + page) else { return };
        // The first page stays inaccessible as a guard.
        if mmap.make_accessible(page, ALT_STACK_SIZE).is_err() {
            return;
        }
        let stack = libc::stack_t {
            // SAFETY: within the mapping.
            ss_sp: unsafe { mmap.as_mut_ptr().add(page) }.cast(),
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        // SAFETY: the stack stays mapped until this thread's slot is dropped.
        if unsafe { libc::sigaltstack(&stack, ptr::null_mut()) } == 0 {
            slot.mmap = Some(mmap);
        }
    });
}
