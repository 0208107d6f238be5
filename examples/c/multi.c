/* multi: functions with several results, in both directions. */
#include "common.h"

/* swap3(a: i32, b: i64, c: f64) -> (f64, i64, i32) */
static wasm_trap_t *swap_callback(const wasm_val_vec_t *args, wasm_val_vec_t *results) {
  CHECK(args->size == 3 && results->size == 3);
  results->data[0].kind = WASM_F64;
  results->data[0].of.f64 = args->data[2].of.f64;
  results->data[1].kind = WASM_I64;
  results->data[1].of.i64 = args->data[1].of.i64;
  results->data[2].kind = WASM_I32;
  results->data[2].of.i32 = args->data[0].of.i32;
  return NULL;
}

int main(void) {
  wasm_engine_t *engine = wasm_engine_new();
  wasm_store_t *store = wasm_store_new(engine);
  wasm_module_t *module = compile_wat(store,
      "(module"
      "  (import \"\" \"swap\" (func $swap (param i32 i64 f64) (result f64 i64 i32)))"
      "  (func (export \"roundtrip\") (param i32 i64 f64) (result i32 i64 f64 i32)"
      "    (local $a f64) (local $b i64) (local $c i32)"
      "    (call $swap (local.get 0) (local.get 1) (local.get 2))"
      "    (local.set $c) (local.set $b) (local.set $a)"
      "    (local.get $c) (local.get $b) (local.get $a) (i32.const 99)))");

  wasm_valtype_t *ps[3] = {wasm_valtype_new_i32(), wasm_valtype_new_i64(), wasm_valtype_new_f64()};
  wasm_valtype_t *rs[3] = {wasm_valtype_new_f64(), wasm_valtype_new_i64(), wasm_valtype_new_i32()};
  wasm_valtype_vec_t params, res_types;
  wasm_valtype_vec_new(&params, 3, ps);
  wasm_valtype_vec_new(&res_types, 3, rs);
  wasm_functype_t *ty = wasm_functype_new(&params, &res_types);
  CHECK(wasm_functype_params(ty)->size == 3 && wasm_functype_results(ty)->size == 3);
  wasm_func_t *swap = wasm_func_new(store, ty, swap_callback);
  wasm_functype_delete(ty);

  wasm_extern_t *externs[] = {wasm_func_as_extern(swap)};
  wasm_extern_vec_t imports = WASM_ARRAY_VEC(externs);
  wasm_instance_t *instance = instantiate(store, module, &imports);
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);

  wasm_val_t a[3] = {WASM_I32_VAL(1), WASM_I64_VAL(2), WASM_F64_VAL(3.5)};
  wasm_val_t r[4] = {WASM_INIT_VAL, WASM_INIT_VAL, WASM_INIT_VAL, WASM_INIT_VAL};
  wasm_val_vec_t args = WASM_ARRAY_VEC(a), results = WASM_ARRAY_VEC(r);
  check_trap(wasm_func_call(export_func(&exports, 0), &args, &results), "roundtrip");
  printf("results: %d %lld %g %d\n", r[0].of.i32, (long long)r[1].of.i64, r[2].of.f64, r[3].of.i32);
  CHECK(r[0].kind == WASM_I32 && r[0].of.i32 == 1);
  CHECK(r[1].kind == WASM_I64 && r[1].of.i64 == 2);
  CHECK(r[2].kind == WASM_F64 && r[2].of.f64 == 3.5);
  CHECK(r[3].kind == WASM_I32 && r[3].of.i32 == 99);

  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_func_delete(swap);
  wasm_module_delete(module);
  wasm_store_delete(store);
  wasm_engine_delete(engine);
  printf("multi: ok\n");
  return 0;
}
