/* kiln's fast call path. */
#ifndef KILN_FUNC_H
#define KILN_FUNC_H

#include <wasm.h>
#include <kiln/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One value of kiln_func_call_unchecked's buffer: 16 bytes, the value little-endian at the
 * start (an i32 in the first 4 bytes, an f64 in the first 8, a v128 in all 16). */
typedef union kiln_val_raw {
  int32_t i32;
  int64_t i64;
  float32_t f32;
  float64_t f64;
  uint8_t v128[16];
} kiln_val_raw_t;

/* Calls `func` with its arguments in `args_and_results` (one value per parameter, in order),
 * which receives its results the same way; `len` must be at least the larger of the parameter
 * and result counts. Nothing is converted or checked beyond that: the fastest call for a caller
 * that knows the signature. Functions taking or returning references are refused (C cannot make
 * their raw values). On a trap, *trap receives it (caller-owned) and NULL is returned; if `trap`
 * is NULL, the trap is returned as an error instead. Returns NULL or a caller-owned error. */
WASM_API_EXTERN kiln_error_t *kiln_func_call_unchecked(const wasm_func_t *func, kiln_val_raw_t *args_and_results,
                                                       size_t len, wasm_trap_t **trap);

#ifdef __cplusplus
}
#endif

#endif
