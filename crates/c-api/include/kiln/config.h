/* Engine configuration beyond wasm.h: optimization, fuel, epochs, stack, cache, features. */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include <kiln/error.h>

#ifdef __cplusplus
extern "C" {
#endif

enum kiln_opt_level_enum { KILN_OPT_NONE = 0, KILN_OPT_SPEED = 1, KILN_OPT_SPEED_AND_SIZE = 2 };

WASM_API_EXTERN void kiln_config_cranelift_opt_level_set(wasm_config_t *config, uint8_t level);
/* Wasm consumes fuel (see kiln_store_set_fuel); it traps with KILN_TRAP_OUT_OF_FUEL at zero. */
WASM_API_EXTERN void kiln_config_consume_fuel_set(wasm_config_t *config, bool enable);
/* Wasm can be interrupted by kiln_engine_increment_epoch (see kiln_store_set_epoch_deadline). */
WASM_API_EXTERN void kiln_config_epoch_interruption_set(wasm_config_t *config, bool enable);
/* The most stack wasm may use, in bytes; deeper recursion traps with KILN_TRAP_STACK_OVERFLOW. */
WASM_API_EXTERN void kiln_config_max_wasm_stack_set(wasm_config_t *config, size_t bytes);
/* Upper bound on every linear memory's size, in bytes. */
WASM_API_EXTERN void kiln_config_max_memory_size_set(wasm_config_t *config, uint64_t bytes);
/* The most bytes a store's GC objects may take (1 GiB by default); past it, allocations trap
 * with KILN_TRAP_GC_HEAP_OUT_OF_MEMORY. */
WASM_API_EXTERN void kiln_config_gc_heap_limit_set(wasm_config_t *config, uint64_t bytes);
/* Caches compiled code on disk in `dir` (NUL-terminated), or in the default directory if NULL. */
WASM_API_EXTERN kiln_error_t *kiln_config_cache_set(wasm_config_t *config, const char *dir);

/* WebAssembly proposal switches. */
WASM_API_EXTERN void kiln_config_wasm_simd_set(wasm_config_t *config, bool enable);
WASM_API_EXTERN void kiln_config_wasm_relaxed_simd_set(wasm_config_t *config, bool enable);
WASM_API_EXTERN void kiln_config_wasm_multi_memory_set(wasm_config_t *config, bool enable);
WASM_API_EXTERN void kiln_config_wasm_tail_call_set(wasm_config_t *config, bool enable);
WASM_API_EXTERN void kiln_config_wasm_memory64_set(wasm_config_t *config, bool enable);
WASM_API_EXTERN void kiln_config_wasm_threads_set(wasm_config_t *config, bool enable);
WASM_API_EXTERN void kiln_config_wasm_exceptions_set(wasm_config_t *config, bool enable);
/* The legacy exception instructions (try, catch, catch_all, rethrow, delegate); off by default. */
WASM_API_EXTERN void kiln_config_wasm_legacy_exceptions_set(wasm_config_t *config, bool enable);
/* The compact import section encoding; on by default. */
WASM_API_EXTERN void kiln_config_wasm_compact_imports_set(wasm_config_t *config, bool enable);
/* GC: struct and array types, i31, casts and the collector (see kiln_config_gc_heap_limit_set). */
WASM_API_EXTERN void kiln_config_wasm_gc_set(wasm_config_t *config, bool enable);
WASM_API_EXTERN void kiln_config_wasm_function_references_set(wasm_config_t *config, bool enable);
WASM_API_EXTERN void kiln_config_wasm_extended_const_set(wasm_config_t *config, bool enable);
WASM_API_EXTERN void kiln_config_wasm_wide_arithmetic_set(wasm_config_t *config, bool enable);
WASM_API_EXTERN void kiln_config_wasm_custom_page_sizes_set(wasm_config_t *config, bool enable);

/* Advances the engine's epoch by one (thread-safe; e.g. from a timer thread). */
WASM_API_EXTERN void kiln_engine_increment_epoch(const wasm_engine_t *engine);

#ifdef __cplusplus
}
#endif

#endif
