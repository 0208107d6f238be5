/* trap: a wasm trap with its message, code and trace (function indices, offsets, instance);
 * a trap raised by a host function and seen by the caller with its message. */
#include "common.h"

static wasm_trap_t *fail_callback(void *env, const wasm_val_vec_t *args, wasm_val_vec_t *results) {
  (void)args;
  (void)results;
  wasm_message_t msg;
  wasm_name_new_from_string_nt(&msg, "host says no");
  wasm_trap_t *trap = wasm_trap_new((wasm_store_t *)env, &msg);
  wasm_name_delete(&msg);
  return trap;
}

int main(void) {
  wasm_engine_t *engine = wasm_engine_new();
  wasm_store_t *store = wasm_store_new(engine);
  wasm_module_t *module = compile_wat(store,
      "(module"
      "  (import \"\" \"fail\" (func $fail))"
      "  (func $inner (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))"
      "  (func (export \"div\") (param i32) (result i32) (call $inner (local.get 0)))"
      "  (func (export \"host\") (call $fail)))");

  wasm_functype_t *ty = wasm_functype_new_0_0();
  wasm_func_t *fail = wasm_func_new_with_env(store, ty, fail_callback, store, NULL);
  wasm_functype_delete(ty);
  wasm_extern_t *externs[] = {wasm_func_as_extern(fail)};
  wasm_extern_vec_t imports = WASM_ARRAY_VEC(externs);
  wasm_instance_t *instance = instantiate(store, module, &imports);
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);

  wasm_val_t a[1] = {WASM_I32_VAL(0)};
  wasm_val_t r[1] = {WASM_INIT_VAL};
  wasm_val_vec_t args = WASM_ARRAY_VEC(a), results = WASM_ARRAY_VEC(r);
  wasm_trap_t *trap = wasm_func_call(export_func(&exports, 0), &args, &results);
  CHECK(trap != NULL);
  wasm_message_t msg;
  wasm_trap_message(trap, &msg);
  printf("trap message: %s\n", msg.data);
  CHECK(strstr(msg.data, "divide by zero") != NULL || strstr(msg.data, "division by zero") != NULL);
  CHECK(msg.data[msg.size - 1] == '\0');
  wasm_byte_vec_delete(&msg);
  kiln_trap_code_t code;
  CHECK(kiln_trap_code(trap, &code) && code == KILN_TRAP_INTEGER_DIVISION_BY_ZERO);

  wasm_frame_vec_t trace;
  wasm_trap_trace(trap, &trace);
  CHECK(trace.size == 2);
  printf("trace: %zu frames\n", trace.size);
  for (size_t i = 0; i < trace.size; i++) {
    printf("  #%zu func %u func_offset %zu module_offset %#zx\n", i, wasm_frame_func_index(trace.data[i]),
           wasm_frame_func_offset(trace.data[i]), wasm_frame_module_offset(trace.data[i]));
  }
  CHECK(wasm_frame_func_index(trace.data[0]) == 1); /* $inner (after the import) */
  CHECK(wasm_frame_func_index(trace.data[1]) == 2); /* div */
  CHECK(wasm_frame_module_offset(trace.data[0]) > wasm_frame_func_offset(trace.data[0]));
  CHECK(wasm_frame_func_offset(trace.data[0]) > 0);
  wasm_instance_t *frame_instance = wasm_frame_instance(trace.data[0]);
  CHECK(frame_instance && wasm_instance_same(frame_instance, instance));
  wasm_frame_t *origin = wasm_trap_origin(trap);
  CHECK(origin && wasm_frame_func_index(origin) == 1 &&
        wasm_frame_module_offset(origin) == wasm_frame_module_offset(trace.data[0]));
  wasm_frame_t *copy = wasm_frame_copy(origin);
  CHECK(wasm_frame_func_offset(copy) == wasm_frame_func_offset(origin));
  wasm_frame_delete(copy);
  wasm_frame_delete(origin);
  wasm_frame_vec_delete(&trace);
  wasm_trap_delete(trap);

  /* A host trap comes out with its message. */
  wasm_val_vec_t none = WASM_EMPTY_VEC, none2 = WASM_EMPTY_VEC;
  trap = wasm_func_call(export_func(&exports, 1), &none, &none2);
  CHECK(trap != NULL);
  wasm_trap_message(trap, &msg);
  printf("host trap message: %s\n", msg.data);
  CHECK(strcmp(msg.data, "host says no") == 0);
  wasm_byte_vec_delete(&msg);
  CHECK(!kiln_trap_code(trap, &code));
  wasm_trap_trace(trap, &trace);
  printf("host trap trace: %zu frames\n", trace.size);
  CHECK(trace.size == 1 && wasm_frame_func_index(trace.data[0]) == 3);
  wasm_frame_vec_delete(&trace);
  wasm_trap_delete(trap);

  /* Wrong arity is a trap, not a crash. */
  trap = wasm_func_call(export_func(&exports, 0), &none, &results);
  CHECK(trap != NULL);
  wasm_trap_delete(trap);

  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_func_delete(fail);
  wasm_module_delete(module);
  wasm_store_delete(store);
  wasm_engine_delete(engine);
  printf("trap: ok\n");
  return 0;
}
