/* kiln_linker_t: resolves imports by name. */
#ifndef KILN_LINKER_H
#define KILN_LINKER_H

#include <kiln/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kiln_linker_t kiln_linker_t;

WASM_API_EXTERN kiln_linker_t *kiln_linker_new(const wasm_engine_t *engine);
WASM_API_EXTERN void kiln_linker_delete(kiln_linker_t *linker);
/* Whether a later definition of the same name replaces an earlier one (default: an error). */
WASM_API_EXTERN void kiln_linker_allow_shadowing(kiln_linker_t *linker, bool allow);

/* Defines module::name (strings of the given lengths) as an extern of `store` (borrowed). */
WASM_API_EXTERN kiln_error_t *kiln_linker_define(kiln_linker_t *linker, wasm_store_t *store,
                                                      const char *module, size_t module_len,
                                                      const char *name, size_t name_len,
                                                      const wasm_extern_t *item);
/* Defines module::name as a host function usable from every store; `finalizer(env)` runs when
 * the linker and every store instantiated with it are gone. The callback is called as for
 * wasm_func_new_with_env. */
WASM_API_EXTERN kiln_error_t *kiln_linker_define_func(kiln_linker_t *linker, const char *module,
                                                           size_t module_len, const char *name,
                                                           size_t name_len, const wasm_functype_t *type,
                                                           wasm_func_callback_with_env_t callback,
                                                           void *env, void (*finalizer)(void *));
/* Defines every export of `instance` under `name`. */
WASM_API_EXTERN kiln_error_t *kiln_linker_define_instance(kiln_linker_t *linker, wasm_store_t *store,
                                                               const char *name, size_t name_len,
                                                               const wasm_instance_t *instance);
/* Defines the wasi_snapshot_preview1 functions, using the store's WASI context
 * (kiln_store_set_wasi). */
WASM_API_EXTERN kiln_error_t *kiln_linker_define_wasi(kiln_linker_t *linker);
/* Instantiates `module` with the linker's definitions. On success *instance_out is set
 * (caller-owned). A trap in the start function sets *trap_out (caller-owned) and returns NULL;
 * other failures (a missing import, say) return an error. */
WASM_API_EXTERN kiln_error_t *kiln_linker_instantiate(kiln_linker_t *linker, wasm_store_t *store,
                                                           const wasm_module_t *module,
                                                           wasm_instance_t **instance_out,
                                                           wasm_trap_t **trap_out);
/* Instantiates `module` and defines its exports under `name`, so later modules can import them. */
WASM_API_EXTERN kiln_error_t *kiln_linker_module(kiln_linker_t *linker, wasm_store_t *store,
                                                      const char *name, size_t name_len,
                                                      const wasm_module_t *module);
/* The definition of module::name as an extern of `store` into *out (caller-owned); false if
 * there is none. */
WASM_API_EXTERN bool kiln_linker_get(kiln_linker_t *linker, wasm_store_t *store, const char *module,
                                     size_t module_len, const char *name, size_t name_len,
                                     wasm_extern_t **out);

#ifdef __cplusplus
}
#endif

#endif
