/* serialize: a module compiled once, serialized, and loaded again (also into another engine);
 * corrupted bytes and a mismatched engine are refused with a reason. */
#include "common.h"

static int32_t run(wasm_store_t *store, wasm_module_t *module) {
  wasm_instance_t *instance = instantiate(store, module, NULL);
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  wasm_val_t a[1] = {WASM_I32_VAL(20)};
  wasm_val_t r[1] = {WASM_INIT_VAL};
  wasm_val_vec_t args = WASM_ARRAY_VEC(a), results = WASM_ARRAY_VEC(r);
  check_trap(wasm_func_call(export_func(&exports, 0), &args, &results), "fib");
  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  return r[0].of.i32;
}

int main(void) {
  const char *wat =
      "(module (func $fib (export \"fib\") (param i32) (result i32)"
      "  (if (result i32) (i32.lt_u (local.get 0) (i32.const 2)) (then (local.get 0))"
      "    (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))"
      "                   (call $fib (i32.sub (local.get 0) (i32.const 2))))))))";
  wasm_engine_t *engine = wasm_engine_new();
  wasm_store_t *store = wasm_store_new(engine);
  wasm_module_t *module = compile_wat(store, wat);

  wasm_byte_vec_t bytes;
  wasm_module_serialize(module, &bytes);
  CHECK(bytes.size > 0);
  wasm_module_delete(module);

  wasm_module_t *loaded = wasm_module_deserialize(store, &bytes);
  CHECK(loaded != NULL);
  CHECK(run(store, loaded) == 6765);
  wasm_exporttype_vec_t exports;
  wasm_module_exports(loaded, &exports);
  CHECK(exports.size == 1);
  const wasm_name_t *name = wasm_exporttype_name(exports.data[0]);
  CHECK(name->size == 3 && memcmp(name->data, "fib", 3) == 0);
  wasm_exporttype_vec_delete(&exports);
  wasm_module_delete(loaded);

  /* Another engine with the same settings accepts the bytes (kiln_module_deserialize). */
  wasm_engine_t *engine2 = wasm_engine_new();
  wasm_module_t *loaded2 = NULL;
  check_error(kiln_module_deserialize(engine2, (const uint8_t *)bytes.data, bytes.size, &loaded2), "deserialize");
  wasm_store_t *store2 = wasm_store_new(engine2);
  CHECK(run(store2, loaded2) == 6765);
  wasm_module_delete(loaded2);
  wasm_store_delete(store2);

  /* An engine with other settings refuses them, saying why. */
  wasm_config_t *config = wasm_config_new();
  kiln_config_consume_fuel_set(config, true);
  wasm_engine_t *engine3 = wasm_engine_new_with_config(config);
  wasm_module_t *loaded3 = NULL;
  kiln_error_t *error = kiln_module_deserialize(engine3, (const uint8_t *)bytes.data, bytes.size, &loaded3);
  CHECK(error != NULL);
  wasm_name_t msg;
  kiln_error_message(error, &msg);
  printf("other engine settings: %.*s\n", (int)msg.size, msg.data);
  wasm_name_delete(&msg);
  kiln_error_delete(error);
  wasm_engine_delete(engine3);

  /* Corrupted bytes are refused. */
  bytes.data[bytes.size / 2] ^= 0x5a;
  CHECK(wasm_module_deserialize(store, &bytes) == NULL);
  wasm_byte_vec_delete(&bytes);

  wasm_store_delete(store);
  wasm_engine_delete(engine2);
  wasm_engine_delete(engine);
  printf("serialize: ok\n");
  return 0;
}
