//! The jump point that traps unwind to: `kiln_setjmp_call(slot, body, payload)` calls
//! `body(payload)` after storing in `*slot` a token that `kiln_longjmp(token)` uses to return
//! from `kiln_setjmp_call` with 0 (a normal return gives 1), restoring the callee-saved registers
//! and the stack pointer.
//!
//! On x86-64 this is a few instructions of assembly: the token is the stack pointer after the
//! callee-saved registers were pushed. The signal mask is not saved (kiln's handlers use
//! SA_NODEFER), which is what makes it cheaper than `sigsetjmp`. Other architectures use the C
//! helper built by `build.rs` (`sigsetjmp(buf, 0)` / `siglongjmp`).
//!
//! `kiln_resume_at(pc, sp, fp, payload)` transfers control to an exception landing block in a
//! wasm frame: it sets the stack and frame pointers to that frame's, puts the exception in the
//! first payload register of Cranelift's `tail` convention, and jumps. Compiled code treats every
//! register as clobbered on that edge, so nothing else needs restoring.

use std::ffi::c_void;

#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".text",
    ".globl kiln_setjmp_call",
    ".p2align 4",
    "kiln_setjmp_call:",
    // rdi = slot, rsi = body, rdx = payload
    "push rbp",
    "mov rbp, rsp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    // Keep the stack 16-byte aligned for the call below.
    "sub rsp, 8",
    "mov [rdi], rsp",
    "mov rdi, rdx",
    "call rsi",
    "mov eax, 1",
    "2:",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".globl kiln_longjmp",
    ".p2align 4",
    "kiln_longjmp:",
    // rdi = token (the stack pointer saved above)
    "mov rsp, rdi",
    "xor eax, eax",
    "jmp 2b",
);

#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".text",
    ".globl kiln_resume_at",
    ".p2align 4",
    "kiln_resume_at:",
    // rdi = pc, rsi = sp, rdx = fp, rcx = payload (rax in the landing block)
    "mov rsp, rsi",
    "mov rbp, rdx",
    "mov rax, rcx",
    "jmp rdi",
);

#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(
    ".text",
    ".globl kiln_resume_at",
    ".p2align 4",
    "kiln_resume_at:",
    // x0 = pc, x1 = sp, x2 = fp, x3 = payload (x0 in the landing block)
    "mov sp, x1",
    "mov x29, x2",
    "mov x16, x0",
    "mov x0, x3",
    "br x16",
);

unsafe extern "C" {
    /// See the module documentation.
    pub(crate) fn kiln_resume_at(pc: usize, sp: usize, fp: usize, payload: usize) -> !;
    /// See the module documentation.
    pub(crate) fn kiln_setjmp_call(
        jmp_buf_slot: *mut *const c_void,
        body: unsafe extern "C" fn(*mut c_void),
        payload: *mut c_void,
    ) -> i32;
    /// See the module documentation.
    pub(crate) fn kiln_longjmp(jmp_buf: *const c_void) -> !;
}
