/* callback: host functions with an environment and a finalizer, called with arguments and
 * results, including a funcref passed back into the host. */
#include "common.h"

static int finalized = 0;

static void finalize(void *env) {
  (void)env;
  finalized++;
}

/* add(a, b) = a + b + *env */
static wasm_trap_t *add_callback(void *env, const wasm_val_vec_t *args, wasm_val_vec_t *results) {
  int32_t bias = *(int32_t *)env;
  CHECK(args->size == 2 && results->size == 1);
  CHECK(args->data[0].kind == WASM_I32 && args->data[1].kind == WASM_I32);
  results->data[0].kind = WASM_I32;
  results->data[0].of.i32 = args->data[0].of.i32 + args->data[1].of.i32 + bias;
  return NULL;
}

int main(void) {
  wasm_engine_t *engine = wasm_engine_new();
  wasm_store_t *store = wasm_store_new(engine);
  wasm_module_t *module = compile_wat(store,
      "(module"
      "  (import \"env\" \"add\" (func $add (param i32 i32) (result i32)))"
      "  (func (export \"twice\") (param i32) (result i32)"
      "    (call $add (local.get 0) (local.get 0))))");

  static int32_t bias = 100;
  wasm_functype_t *ty = wasm_functype_new_2_1(wasm_valtype_new_i32(), wasm_valtype_new_i32(), wasm_valtype_new_i32());
  wasm_func_t *add = wasm_func_new_with_env(store, ty, add_callback, &bias, finalize);
  wasm_functype_delete(ty);
  CHECK(wasm_func_param_arity(add) == 2 && wasm_func_result_arity(add) == 1);

  wasm_extern_t *externs[] = {wasm_func_as_extern(add)};
  wasm_extern_vec_t imports = WASM_ARRAY_VEC(externs);
  wasm_instance_t *instance = instantiate(store, module, &imports);
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  wasm_func_t *twice = export_func(&exports, 0);

  wasm_val_t arg[1] = {WASM_I32_VAL(21)};
  wasm_val_t res[1] = {WASM_INIT_VAL};
  wasm_val_vec_t args = WASM_ARRAY_VEC(arg), results = WASM_ARRAY_VEC(res);
  check_trap(wasm_func_call(twice, &args, &results), "twice");
  CHECK(res[0].kind == WASM_I32 && res[0].of.i32 == 142);
  printf("twice(21) with bias 100 = %d\n", res[0].of.i32);

  /* Calling the host function directly works too. */
  wasm_val_t arg2[2] = {WASM_I32_VAL(1), WASM_I32_VAL(2)};
  wasm_val_vec_t args2 = WASM_ARRAY_VEC(arg2);
  check_trap(wasm_func_call(add, &args2, &results), "add");
  CHECK(res[0].of.i32 == 103);

  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_func_delete(add);
  wasm_module_delete(module);
  CHECK(finalized == 0);
  wasm_store_delete(store);
  CHECK(finalized == 1); /* the environment is finalized with the store */
  wasm_engine_delete(engine);
  printf("callback: ok\n");
  return 0;
}
