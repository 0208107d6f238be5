/* memory: an exported memory read, written and grown from the host and from wasm; a standalone
 * memory imported by a module; bounds-checked access through kiln_memory_read/write. */
#include "common.h"

static int32_t call_i32(wasm_func_t *f, int32_t a, int32_t b, size_t nargs, bool *trapped) {
  wasm_val_t arg[2] = {WASM_I32_VAL(a), WASM_I32_VAL(b)};
  wasm_val_t res[1] = {WASM_INIT_VAL};
  wasm_val_vec_t args = {nargs, arg};
  wasm_val_vec_t results = {wasm_func_result_arity(f), res};
  wasm_trap_t *trap = wasm_func_call(f, &args, &results);
  *trapped = trap != NULL;
  if (trap) wasm_trap_delete(trap);
  return results.size ? res[0].of.i32 : 0;
}

int main(void) {
  wasm_engine_t *engine = wasm_engine_new();
  wasm_store_t *store = wasm_store_new(engine);
  wasm_module_t *module = compile_wat(store,
      "(module"
      "  (memory (export \"memory\") 2 3)"
      "  (func (export \"size\") (result i32) (memory.size))"
      "  (func (export \"load\") (param i32) (result i32) (i32.load8_s (local.get 0)))"
      "  (func (export \"store\") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))"
      "  (data (i32.const 0x1000) \"\\01\\02\\03\\04\"))");
  wasm_instance_t *instance = instantiate(store, module, NULL);
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  wasm_memory_t *memory = wasm_extern_as_memory(exports.data[0]);
  CHECK(memory != NULL);
  wasm_func_t *size = export_func(&exports, 1), *load = export_func(&exports, 2), *store_fn = export_func(&exports, 3);
  bool trapped;

  CHECK(wasm_memory_size(memory) == 2);
  CHECK(wasm_memory_data_size(memory) == 0x20000);
  CHECK(wasm_memory_data(memory)[0x1002] == 3);
  CHECK(call_i32(size, 0, 0, 0, &trapped) == 2 && !trapped);
  CHECK(call_i32(load, 0x1003, 0, 1, &trapped) == 4 && !trapped);
  call_i32(load, 0x20000, 0, 1, &trapped);
  CHECK(trapped); /* out of bounds */

  wasm_memory_data(memory)[0x1003] = 5;
  CHECK(call_i32(load, 0x1003, 0, 1, &trapped) == 5);
  call_i32(store_fn, 0x1002, 6, 2, &trapped);
  CHECK(!trapped && wasm_memory_data(memory)[0x1002] == 6);

  CHECK(wasm_memory_grow(memory, 1));
  CHECK(wasm_memory_size(memory) == 3 && call_i32(size, 0, 0, 0, &trapped) == 3);
  CHECK(!wasm_memory_grow(memory, 1)); /* past the maximum */
  CHECK(call_i32(load, 0x20000, 0, 1, &trapped) == 0 && !trapped);

  uint8_t buf[4];
  CHECK(kiln_memory_read(memory, 0x1000, buf, 4) && buf[2] == 6);
  CHECK(!kiln_memory_read(memory, 0x30000 - 2, buf, 4));
  CHECK(kiln_memory_write(memory, 0x2fffc, (const uint8_t *)"abcd", 4));
  CHECK(call_i32(load, 0x2ffff, 0, 1, &trapped) == 'd');

  /* A standalone memory, imported by another module. */
  wasm_limits_t limits = {1, 5};
  wasm_memorytype_t *mt = wasm_memorytype_new(&limits);
  wasm_memory_t *standalone = wasm_memory_new(store, mt);
  wasm_memorytype_delete(mt);
  CHECK(standalone && wasm_memory_size(standalone) == 1);
  wasm_module_t *importer = compile_wat(store,
      "(module (import \"\" \"m\" (memory 1)) (func (export \"peek\") (param i32) (result i32)"
      "  (i32.load8_u (local.get 0))))");
  wasm_extern_t *externs[] = {wasm_memory_as_extern(standalone)};
  wasm_extern_vec_t imports = WASM_ARRAY_VEC(externs);
  wasm_instance_t *instance2 = instantiate(store, importer, &imports);
  wasm_extern_vec_t exports2;
  wasm_instance_exports(instance2, &exports2);
  wasm_memory_data(standalone)[77] = 0xab;
  CHECK(call_i32(export_func(&exports2, 0), 77, 0, 1, &trapped) == 0xab);
  wasm_memorytype_t *t = wasm_memory_type(standalone);
  CHECK(wasm_memorytype_limits(t)->min == 1 && wasm_memorytype_limits(t)->max == 5);
  wasm_memorytype_delete(t);

  wasm_extern_vec_delete(&exports2);
  wasm_instance_delete(instance2);
  wasm_module_delete(importer);
  wasm_memory_delete(standalone);
  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_module_delete(module);
  wasm_store_delete(store);
  wasm_engine_delete(engine);
  printf("memory: ok\n");
  return 0;
}
