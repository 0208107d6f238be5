/* linking: two modules linked by name through kiln_linker_t, with a host function defined in
 * the linker; a missing import is an error that names it. */
#include "common.h"

static int logged = 0;

static wasm_trap_t *log_callback(void *env, const wasm_val_vec_t *args, wasm_val_vec_t *results) {
  (void)results;
  int *sink = env;
  *sink += args->data[0].of.i32;
  return NULL;
}

int main(void) {
  wasm_engine_t *engine = wasm_engine_new();
  wasm_store_t *store = wasm_store_new(engine);
  kiln_linker_t *linker = kiln_linker_new(engine);

  wasm_functype_t *log_type = wasm_functype_new_1_0(wasm_valtype_new_i32());
  check_error(kiln_linker_define_func(linker, "host", 4, "log", 3, log_type, log_callback, &logged, NULL), "define log");
  wasm_functype_delete(log_type);

  wasm_module_t *lib = NULL, *app = NULL;
  const char *lib_wat =
      "(module (import \"host\" \"log\" (func $log (param i32)))"
      "  (memory (export \"memory\") 1)"
      "  (func (export \"triple\") (param i32) (result i32)"
      "    (call $log (local.get 0)) (i32.mul (local.get 0) (i32.const 3))))";
  const char *app_wat =
      "(module (import \"lib\" \"triple\" (func $triple (param i32) (result i32)))"
      "  (import \"lib\" \"memory\" (memory 1))"
      "  (func (export \"run\") (result i32)"
      "    (i32.store (i32.const 8) (call $triple (i32.const 14)))"
      "    (i32.load (i32.const 8))))";
  check_error(kiln_module_new(engine, (const uint8_t *)lib_wat, strlen(lib_wat), &lib), "compile lib");
  check_error(kiln_module_new(engine, (const uint8_t *)app_wat, strlen(app_wat), &app), "compile app");

  /* Before lib is linked, app's imports are missing. */
  wasm_instance_t *instance = NULL;
  wasm_trap_t *trap = NULL;
  kiln_error_t *error = kiln_linker_instantiate(linker, store, app, &instance, &trap);
  CHECK(error != NULL && instance == NULL && trap == NULL);
  wasm_name_t msg;
  kiln_error_message(error, &msg);
  printf("missing import: %.*s\n", (int)msg.size, msg.data);
  wasm_name_delete(&msg);
  kiln_error_delete(error);

  check_error(kiln_linker_module(linker, store, "lib", 3, lib), "link lib");
  check_error(kiln_linker_instantiate(linker, store, app, &instance, &trap), "instantiate app");
  CHECK(instance != NULL && trap == NULL);

  wasm_extern_t *run_ext = NULL;
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  wasm_val_t r[1] = {WASM_INIT_VAL};
  wasm_val_vec_t none = WASM_EMPTY_VEC, results = WASM_ARRAY_VEC(r);
  check_trap(wasm_func_call(export_func(&exports, 0), &none, &results), "run");
  CHECK(r[0].of.i32 == 42 && logged == 14);
  printf("run() = %d, logged %d\n", r[0].of.i32, logged);

  /* The linker hands out what it defines. */
  CHECK(kiln_linker_get(linker, store, "lib", 3, "memory", 6, &run_ext));
  CHECK(wasm_extern_kind(run_ext) == WASM_EXTERN_MEMORY);
  uint32_t stored;
  CHECK(kiln_memory_read(wasm_extern_as_memory(run_ext), 8, (uint8_t *)&stored, 4) && stored == 42);
  wasm_extern_delete(run_ext);
  CHECK(!kiln_linker_get(linker, store, "lib", 3, "nothing", 7, &run_ext));

  /* A whole instance can be defined under a name too. */
  check_error(kiln_linker_define_instance(linker, store, "app", 3, instance), "define instance");
  CHECK(kiln_linker_get(linker, store, "app", 3, "run", 3, &run_ext));
  wasm_extern_delete(run_ext);

  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_module_delete(lib);
  wasm_module_delete(app);
  kiln_linker_delete(linker);
  wasm_store_delete(store);
  wasm_engine_delete(engine);
  printf("linking: ok\n");
  return 0;
}
