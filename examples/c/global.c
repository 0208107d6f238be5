/* global: imported and exported globals, constant and mutable, read and written from both sides. */
#include "common.h"

static wasm_val_t call0(wasm_func_t *f) {
  wasm_val_t r[1] = {WASM_INIT_VAL};
  wasm_val_vec_t args = WASM_EMPTY_VEC, results = WASM_ARRAY_VEC(r);
  check_trap(wasm_func_call(f, &args, &results), "call");
  return r[0];
}

int main(void) {
  wasm_engine_t *engine = wasm_engine_new();
  wasm_store_t *store = wasm_store_new(engine);
  wasm_module_t *module = compile_wat(store,
      "(module"
      "  (import \"\" \"const\" (global $c f32))"
      "  (import \"\" \"var\" (global $v (mut i64)))"
      "  (global (export \"own\") (mut i32) (i32.const 5))"
      "  (func (export \"get_c\") (result f32) (global.get $c))"
      "  (func (export \"get_v\") (result i64) (global.get $v))"
      "  (func (export \"bump_v\") (global.set $v (i64.add (global.get $v) (i64.const 1)))))");

  wasm_globaltype_t *ct = wasm_globaltype_new(wasm_valtype_new_f32(), WASM_CONST);
  wasm_val_t cv = WASM_F32_VAL(1.5f);
  wasm_global_t *c = wasm_global_new(store, ct, &cv);
  wasm_globaltype_delete(ct);
  wasm_globaltype_t *vt = wasm_globaltype_new(wasm_valtype_new_i64(), WASM_VAR);
  wasm_val_t vv = WASM_I64_VAL(40);
  wasm_global_t *v = wasm_global_new(store, vt, &vv);
  wasm_globaltype_delete(vt);
  CHECK(c && v);

  /* A value of the wrong kind is refused. */
  wasm_globaltype_t *bad_t = wasm_globaltype_new(wasm_valtype_new_i32(), WASM_CONST);
  CHECK(wasm_global_new(store, bad_t, &vv) == NULL);
  wasm_globaltype_delete(bad_t);

  wasm_extern_t *externs[] = {wasm_global_as_extern(c), wasm_global_as_extern(v)};
  wasm_extern_vec_t imports = WASM_ARRAY_VEC(externs);
  wasm_instance_t *instance = instantiate(store, module, &imports);
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  wasm_global_t *own = wasm_extern_as_global(exports.data[0]);
  CHECK(own);

  CHECK(call0(export_func(&exports, 1)).of.f32 == 1.5f);
  CHECK(call0(export_func(&exports, 2)).of.i64 == 40);
  wasm_val_t b = WASM_INIT_VAL;
  wasm_val_vec_t none = WASM_EMPTY_VEC, none2 = WASM_EMPTY_VEC;
  check_trap(wasm_func_call(export_func(&exports, 3), &none, &none2), "bump");
  (void)b;
  wasm_val_t out;
  wasm_global_get(v, &out);
  CHECK(out.kind == WASM_I64 && out.of.i64 == 41);
  wasm_val_t set = WASM_I64_VAL(100);
  wasm_global_set(v, &set);
  CHECK(call0(export_func(&exports, 2)).of.i64 == 100);

  wasm_global_get(own, &out);
  CHECK(out.kind == WASM_I32 && out.of.i32 == 5);
  wasm_val_t seven = WASM_I32_VAL(7);
  wasm_global_set(own, &seven);
  wasm_global_get(own, &out);
  CHECK(out.of.i32 == 7);

  /* Setting a constant global leaves it unchanged. */
  wasm_val_t two = WASM_F32_VAL(2.0f);
  wasm_global_set(c, &two);
  wasm_global_get(c, &out);
  CHECK(out.of.f32 == 1.5f);

  wasm_globaltype_t *gt = wasm_global_type(own);
  CHECK(wasm_globaltype_mutability(gt) == WASM_VAR && wasm_valtype_kind(wasm_globaltype_content(gt)) == WASM_I32);
  wasm_globaltype_delete(gt);

  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_global_delete(c);
  wasm_global_delete(v);
  wasm_module_delete(module);
  wasm_store_delete(store);
  wasm_engine_delete(engine);
  printf("global: ok\n");
  return 0;
}
