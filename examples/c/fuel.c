/* fuel: wasm that consumes fuel stops with an out-of-fuel trap when the store's fuel runs out. */
#include "common.h"

int main(void) {
  wasm_config_t *config = wasm_config_new();
  kiln_config_consume_fuel_set(config, true);
  wasm_engine_t *engine = wasm_engine_new_with_config(config);
  wasm_store_t *store = wasm_store_new(engine);
  wasm_module_t *module = compile_wat(store,
      "(module (func (export \"count\") (param i32) (result i32) (local i32)"
      "  (loop $l (local.set 1 (i32.add (local.get 1) (i32.const 1)))"
      "    (br_if $l (i32.lt_u (local.get 1) (local.get 0))))"
      "  (local.get 1)))");
  wasm_instance_t *instance = instantiate(store, module, NULL);
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  wasm_func_t *count = export_func(&exports, 0);

  check_error(kiln_store_set_fuel(store, 10000), "set fuel");
  wasm_val_t a[1] = {WASM_I32_VAL(100)};
  wasm_val_t r[1] = {WASM_INIT_VAL};
  wasm_val_vec_t args = WASM_ARRAY_VEC(a), results = WASM_ARRAY_VEC(r);
  check_trap(wasm_func_call(count, &args, &results), "count(100)");
  CHECK(r[0].of.i32 == 100);
  uint64_t left;
  check_error(kiln_store_get_fuel(store, &left), "get fuel");
  printf("fuel left after count(100): %llu\n", (unsigned long long)left);
  CHECK(left < 10000 && left > 0);

  a[0].of.i32 = 1000000;
  wasm_trap_t *trap = wasm_func_call(count, &args, &results);
  CHECK(trap != NULL);
  kiln_trap_code_t code;
  CHECK(kiln_trap_code(trap, &code) && code == KILN_TRAP_OUT_OF_FUEL);
  wasm_trap_delete(trap);
  check_error(kiln_store_get_fuel(store, &left), "get fuel");
  CHECK(left == 0);
  printf("out of fuel: ok\n");

  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_module_delete(module);
  wasm_store_delete(store);

  /* Without fuel consumption, fuel cannot be set. */
  wasm_engine_t *plain = wasm_engine_new();
  wasm_store_t *plain_store = wasm_store_new(plain);
  kiln_error_t *error = kiln_store_set_fuel(plain_store, 1);
  CHECK(error != NULL);
  kiln_error_delete(error);
  wasm_store_delete(plain_store);
  wasm_engine_delete(plain);
  wasm_engine_delete(engine);
  printf("fuel: ok\n");
  return 0;
}
