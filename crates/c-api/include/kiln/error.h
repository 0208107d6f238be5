/* kiln_error_t, trap codes and exit statuses, kiln_wat2wasm. */
#ifndef KILN_ERROR_H
#define KILN_ERROR_H

#include <wasm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* wasm.h has no value kind for v128: kiln reports v128 types with this kind. Values of it
 * cannot be passed through wasm_val_t (calls with them return a trap). */
#define KILN_V128 4
/* A reference of the GC proposal's `any` hierarchy (see kiln/gc.h). */
#define KILN_ANYREF 130
/* An exception reference: kiln reports exnref types with this kind; values of it cannot be
 * passed through wasm_val_t. */
#define KILN_EXNREF 131

/* An error: a message, the wasm frames it unwound through, and for a WASI program's
 * proc_exit its exit status. NULL kiln_error_t* results mean success. */
typedef struct kiln_error_t kiln_error_t;

/* A new error with a NUL-terminated message (for host functions). */
WASM_API_EXTERN kiln_error_t *kiln_error_new(const char *message);
WASM_API_EXTERN void kiln_error_delete(kiln_error_t *error);
/* The message (not NUL-terminated) into *out, which the caller owns. */
WASM_API_EXTERN void kiln_error_message(const kiln_error_t *error, wasm_name_t *out);
/* The wasm frames, innermost first, into *out, which the caller owns. */
WASM_API_EXTERN void kiln_error_wasm_trace(const kiln_error_t *error, wasm_frame_vec_t *out);
/* Whether the error is a WASI exit; the status into *status. */
WASM_API_EXTERN bool kiln_error_exit_status(const kiln_error_t *error, int *status);

/* Trap codes (kiln's numbering). */
enum kiln_trap_code_enum {
  KILN_TRAP_STACK_OVERFLOW = 0,
  KILN_TRAP_MEMORY_OUT_OF_BOUNDS = 1,
  KILN_TRAP_TABLE_OUT_OF_BOUNDS = 2,
  KILN_TRAP_INDIRECT_CALL_OUT_OF_BOUNDS = 3,
  KILN_TRAP_INDIRECT_CALL_TO_NULL = 4,
  KILN_TRAP_BAD_SIGNATURE = 5,
  KILN_TRAP_INTEGER_OVERFLOW = 6,
  KILN_TRAP_INTEGER_DIVISION_BY_ZERO = 7,
  KILN_TRAP_BAD_CONVERSION_TO_INTEGER = 8,
  KILN_TRAP_UNREACHABLE_CODE_REACHED = 9,
  KILN_TRAP_INTERRUPT = 10,
  KILN_TRAP_OUT_OF_FUEL = 11,
  KILN_TRAP_NULL_REFERENCE = 12,
  /* GC (numbers as kiln's Rust `Trap`). */
  KILN_TRAP_NULL_I31_REFERENCE = 51,
  KILN_TRAP_CAST_FAILURE = 52,
  KILN_TRAP_NULL_STRUCT_REFERENCE = 53,
  KILN_TRAP_NULL_ARRAY_REFERENCE = 54,
  KILN_TRAP_ARRAY_OUT_OF_BOUNDS = 55,
  KILN_TRAP_ALLOCATION_TOO_LARGE = 56,
  KILN_TRAP_GC_HEAP_OUT_OF_MEMORY = 57,
  KILN_TRAP_NULL_DESCRIPTOR_REFERENCE = 58,
  KILN_TRAP_DESCRIPTOR_CAST_FAILURE = 59,
};
typedef uint8_t kiln_trap_code_t;

/* For a trap raised by wasm: true and its code in *code. False for traps made by the host. */
WASM_API_EXTERN bool kiln_trap_code(const wasm_trap_t *trap, kiln_trap_code_t *code);
/* Whether the trap is a WASI program's exit; the status into *status. */
WASM_API_EXTERN bool kiln_trap_exit_status(const wasm_trap_t *trap, int *status);

/* The WebAssembly text format (`len` bytes of UTF-8 at `wat`) to a binary module in *out
 * (caller-owned). Returns NULL or an error (caller-owned). */
WASM_API_EXTERN kiln_error_t *kiln_wat2wasm(const char *wat, size_t len, wasm_byte_vec_t *out);

#ifdef __cplusplus
}
#endif

#endif
