/* Helpers shared by the C examples: fail loudly, compile text-format modules. */
#ifndef KILN_EXAMPLE_COMMON_H
#define KILN_EXAMPLE_COMMON_H

#include <kiln.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

/* Exits with the error's message if `error` is not NULL. */
static inline void check_error(kiln_error_t *error, const char *what) {
  if (error) {
    wasm_name_t msg;
    kiln_error_message(error, &msg);
    fprintf(stderr, "%s: %.*s\n", what, (int)msg.size, msg.data);
    wasm_name_delete(&msg);
    kiln_error_delete(error);
    exit(1);
  }
}

/* Exits with the trap's message if `trap` is not NULL. */
static inline void check_trap(wasm_trap_t *trap, const char *what) {
  if (trap) {
    wasm_message_t msg;
    wasm_trap_message(trap, &msg);
    fprintf(stderr, "%s: trap: %s\n", what, msg.data);
    wasm_byte_vec_delete(&msg);
    wasm_trap_delete(trap);
    exit(1);
  }
}

/* The binary of a text-format module. */
static inline void wat_to_binary(const char *wat, wasm_byte_vec_t *out) {
  check_error(kiln_wat2wasm(wat, strlen(wat), out), "wat2wasm");
}

/* Compiles a text-format module in `store`. */
static inline wasm_module_t *compile_wat(wasm_store_t *store, const char *wat) {
  wasm_byte_vec_t binary;
  wat_to_binary(wat, &binary);
  wasm_module_t *module = wasm_module_new(store, &binary);
  wasm_byte_vec_delete(&binary);
  CHECK(module != NULL);
  return module;
}

/* Instantiates a module without imports. */
static inline wasm_instance_t *instantiate(wasm_store_t *store, wasm_module_t *module,
                                           const wasm_extern_vec_t *imports) {
  wasm_trap_t *trap = NULL;
  wasm_extern_vec_t none = WASM_EMPTY_VEC;
  wasm_instance_t *instance = wasm_instance_new(store, module, imports ? imports : &none, &trap);
  check_trap(trap, "instantiate");
  CHECK(instance != NULL);
  return instance;
}

/* Export `i` of an export vector as a function. */
static inline wasm_func_t *export_func(const wasm_extern_vec_t *exports, size_t i) {
  CHECK(i < exports->size);
  wasm_func_t *f = wasm_extern_as_func(exports->data[i]);
  CHECK(f != NULL);
  return f;
}

#endif
