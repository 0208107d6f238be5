/* WASI preview 1 configuration for kiln's C API. Build a wasi_config_t, hand it to a store
 * with kiln_store_set_wasi, and define the WASI imports with kiln_linker_define_wasi. */
#ifndef KILN_WASI_H
#define KILN_WASI_H

#include <stdbool.h>
#include <stddef.h>

#ifndef WASM_API_EXTERN
#define WASM_API_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wasi_config_t wasi_config_t;
struct wasm_store_t;
struct kiln_error_t;

/* A configuration with no arguments, environment, files or stdio (reads see end of file,
 * writes are discarded). */
WASM_API_EXTERN wasi_config_t *wasi_config_new(void);
WASM_API_EXTERN void wasi_config_delete(wasi_config_t *config);
/* argv, program name first (strings copied); false if one is not UTF-8. */
WASM_API_EXTERN bool wasi_config_set_argv(wasi_config_t *config, size_t argc, const char *const argv[]);
WASM_API_EXTERN void wasi_config_inherit_argv(wasi_config_t *config);
/* The environment: `n` names and values (copied); false if one is not UTF-8. */
WASM_API_EXTERN bool wasi_config_set_env(wasi_config_t *config, size_t n, const char *const names[],
                                         const char *const values[]);
WASM_API_EXTERN void wasi_config_inherit_env(wasi_config_t *config);
/* Gives the program the host directory `host_path` as `guest_path`; paths cannot escape it.
 * False if the host directory does not exist. */
WASM_API_EXTERN bool wasi_config_preopen_dir(wasi_config_t *config, const char *host_path, const char *guest_path);
/* stdio: the host's own streams, or files (stdin read from one; stdout/stderr captured into
 * one, created or truncated when the config is applied). */
WASM_API_EXTERN void wasi_config_inherit_stdin(wasi_config_t *config);
WASM_API_EXTERN void wasi_config_inherit_stdout(wasi_config_t *config);
WASM_API_EXTERN void wasi_config_inherit_stderr(wasi_config_t *config);
WASM_API_EXTERN bool wasi_config_set_stdin_file(wasi_config_t *config, const char *path);
WASM_API_EXTERN bool wasi_config_set_stdout_file(wasi_config_t *config, const char *path);
WASM_API_EXTERN bool wasi_config_set_stderr_file(wasi_config_t *config, const char *path);
/* Captures stdout / stderr in memory; read it back with kiln_store_wasi_stdout / _stderr. */
WASM_API_EXTERN void wasi_config_capture_stdout(wasi_config_t *config);
WASM_API_EXTERN void wasi_config_capture_stderr(wasi_config_t *config);

/* Gives the store a WASI context built from `config`, which this call takes ownership of. */
WASM_API_EXTERN struct kiln_error_t *kiln_store_set_wasi(struct wasm_store_t *store, wasi_config_t *config);

struct wasm_byte_vec_t;
/* What the store's WASI program wrote so far to a captured stdout / stderr, into *out
 * (caller-owned, no terminator); false if that stream is not captured. */
WASM_API_EXTERN bool kiln_store_wasi_stdout(struct wasm_store_t *store, struct wasm_byte_vec_t *out);
WASM_API_EXTERN bool kiln_store_wasi_stderr(struct wasm_store_t *store, struct wasm_byte_vec_t *out);

#ifdef __cplusplus
}
#endif

#endif
