/* table: an exported funcref table read, written and grown from the host; a standalone table. */
#include "common.h"

static wasm_trap_t *neg_callback(const wasm_val_vec_t *args, wasm_val_vec_t *results) {
  results->data[0].kind = WASM_I32;
  results->data[0].of.i32 = -args->data[0].of.i32;
  return NULL;
}

static int32_t call_indirect(wasm_func_t *f, int32_t arg, int32_t index, bool *trapped) {
  wasm_val_t a[2] = {WASM_I32_VAL(arg), WASM_I32_VAL(index)};
  wasm_val_t r[1] = {WASM_INIT_VAL};
  wasm_val_vec_t args = WASM_ARRAY_VEC(a), results = WASM_ARRAY_VEC(r);
  wasm_trap_t *trap = wasm_func_call(f, &args, &results);
  *trapped = trap != NULL;
  if (trap) wasm_trap_delete(trap);
  return r[0].of.i32;
}

int main(void) {
  wasm_engine_t *engine = wasm_engine_new();
  wasm_store_t *store = wasm_store_new(engine);
  wasm_module_t *module = compile_wat(store,
      "(module"
      "  (type $t (func (param i32) (result i32)))"
      "  (table (export \"table\") 2 10 funcref)"
      "  (func $double (export \"double\") (type $t) (i32.mul (local.get 0) (i32.const 2)))"
      "  (func (export \"call\") (param i32 i32) (result i32)"
      "    (call_indirect (type $t) (local.get 0) (local.get 1)))"
      "  (elem (i32.const 1) $double))");
  wasm_instance_t *instance = instantiate(store, module, NULL);
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  wasm_table_t *table = wasm_extern_as_table(exports.data[0]);
  wasm_func_t *dbl = export_func(&exports, 1), *call = export_func(&exports, 2);
  bool trapped;

  CHECK(wasm_table_size(table) == 2);
  CHECK(wasm_table_get(table, 0) == NULL); /* null element */
  CHECK(wasm_table_get(table, 5) == NULL); /* out of bounds */
  wasm_ref_t *r1 = wasm_table_get(table, 1);
  CHECK(r1 != NULL);
  wasm_func_t *f1 = wasm_ref_as_func(r1);
  CHECK(f1 && wasm_func_same(f1, dbl));
  wasm_ref_delete(r1);
  CHECK(call_indirect(call, 7, 1, &trapped) == 14 && !trapped);
  call_indirect(call, 7, 0, &trapped);
  CHECK(trapped);

  wasm_functype_t *ty = wasm_functype_new_1_1(wasm_valtype_new_i32(), wasm_valtype_new_i32());
  wasm_func_t *neg = wasm_func_new(store, ty, neg_callback);
  wasm_functype_delete(ty);
  CHECK(wasm_table_set(table, 0, wasm_func_as_ref(neg)));
  CHECK(call_indirect(call, 7, 0, &trapped) == -7 && !trapped);
  CHECK(!wasm_table_set(table, 2, wasm_func_as_ref(neg)));
  CHECK(wasm_table_grow(table, 3, wasm_func_as_ref(neg)));
  CHECK(wasm_table_size(table) == 5);
  CHECK(call_indirect(call, 8, 4, &trapped) == -8 && !trapped);
  CHECK(!wasm_table_grow(table, 10, NULL));
  CHECK(wasm_table_set(table, 4, NULL));
  call_indirect(call, 8, 4, &trapped);
  CHECK(trapped);

  /* A standalone table. */
  wasm_limits_t limits = {3, wasm_limits_max_default};
  wasm_tabletype_t *tt = wasm_tabletype_new(wasm_valtype_new_funcref(), &limits);
  wasm_table_t *standalone = wasm_table_new(store, tt, wasm_func_as_ref(neg));
  wasm_tabletype_delete(tt);
  CHECK(standalone && wasm_table_size(standalone) == 3);
  wasm_ref_t *r2 = wasm_table_get(standalone, 2);
  CHECK(r2 && wasm_ref_same(r2, wasm_func_as_ref(neg)));
  wasm_ref_delete(r2);
  wasm_tabletype_t *t2 = wasm_table_type(standalone);
  CHECK(wasm_tabletype_limits(t2)->min == 3 && wasm_valtype_kind(wasm_tabletype_element(t2)) == WASM_FUNCREF);
  wasm_tabletype_delete(t2);

  wasm_table_delete(standalone);
  wasm_func_delete(neg);
  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_module_delete(module);
  wasm_store_delete(store);
  wasm_engine_delete(engine);
  printf("table: ok\n");
  return 0;
}
