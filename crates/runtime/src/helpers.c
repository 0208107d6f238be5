// setjmp/longjmp for kiln's trap handling. Rust cannot call setjmp itself (it returns twice).
// The signal mask is neither saved nor restored: kiln's signal handlers use SA_NODEFER, so leaving a
// handler by longjmp leaves the mask unchanged, and saving it would cost a syscall per call.
#include <setjmp.h>

typedef void (*kiln_body_fn)(void *payload);

int kiln_setjmp_call(void **jmp_buf_slot, kiln_body_fn body, void *payload) {
    sigjmp_buf buf;
    if (sigsetjmp(buf, 0) != 0) {
        return 0;
    }
    *jmp_buf_slot = &buf;
    body(payload);
    return 1;
}

void kiln_longjmp(void *jmp_buf) {
    siglongjmp(*(sigjmp_buf *)jmp_buf, 1);
}
