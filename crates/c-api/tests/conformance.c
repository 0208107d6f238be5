/* Calls every function of wasm.h and checks what it does. The test `capi::conformance_covers_wasm_h`
 * checks that every function the header declares is named here. */
#include "common.h"

/* Everything after this marker is checked for calls of every wasm.h function (after the
 * preprocessor, so calls made through the macros below count). */
static const char conformance_marker[] = "kiln-conformance-calls-begin";

static int finalized_info = 0;
static void info_finalizer(void *p) {
  CHECK(p != NULL);
  finalized_info++;
}

static int env_finalized = 0;
static void env_finalizer(void *p) {
  (void)p;
  env_finalized++;
}

static wasm_trap_t *id_callback(const wasm_val_vec_t *args, wasm_val_vec_t *results) {
  wasm_val_copy(&results->data[0], &args->data[0]);
  return NULL;
}

static wasm_trap_t *env_callback(void *env, const wasm_val_vec_t *args, wasm_val_vec_t *results) {
  (void)args;
  results->data[0].kind = WASM_I32;
  results->data[0].of.i32 = *(int *)env;
  return NULL;
}

/* Returns a result of the wrong kind: the call must fail with a trap, not crash. */
static wasm_trap_t *bad_result_callback(const wasm_val_vec_t *args, wasm_val_vec_t *results) {
  (void)args;
  results->data[0].kind = WASM_F64;
  results->data[0].of.f64 = 1.0;
  return NULL;
}

static void test_vectors(void) {
  wasm_byte_vec_t b, c;
  wasm_byte_vec_new_empty(&b);
  CHECK(b.size == 0);
  wasm_byte_vec_delete(&b);
  wasm_byte_vec_new_uninitialized(&b, 5);
  CHECK(b.size == 5 && b.data != NULL);
  memcpy(b.data, "abcde", 5);
  wasm_byte_vec_copy(&c, &b);
  CHECK(c.size == 5 && memcmp(c.data, "abcde", 5) == 0 && c.data != b.data);
  wasm_byte_vec_delete(&b);
  wasm_byte_vec_delete(&c);
  wasm_byte_vec_new(&b, 3, "xyz");
  CHECK(b.size == 3 && memcmp(b.data, "xyz", 3) == 0);
  wasm_byte_vec_delete(&b);
  wasm_name_t n;
  wasm_name_new_from_string(&n, "name");
  CHECK(n.size == 4);
  wasm_name_delete(&n);
  wasm_name_new_from_string_nt(&n, "name");
  CHECK(n.size == 5 && n.data[4] == 0);
  wasm_name_delete(&n);

  wasm_val_vec_t vv, vc;
  wasm_val_vec_new_empty(&vv);
  wasm_val_vec_delete(&vv);
  wasm_val_vec_new_uninitialized(&vv, 2);
  CHECK(vv.size == 2);
  vv.data[0].kind = WASM_I64;
  vv.data[0].of.i64 = 7;
  vv.data[1].kind = WASM_I32;
  vv.data[1].of.i32 = 1;
  wasm_val_vec_copy(&vc, &vv);
  CHECK(vc.size == 2 && vc.data[0].of.i64 == 7);
  wasm_val_vec_delete(&vc);
  wasm_val_vec_delete(&vv);
  wasm_val_t vals[2] = {WASM_I32_VAL(1), WASM_F32_VAL(2.0f)};
  wasm_val_vec_new(&vv, 2, vals);
  CHECK(vv.size == 2 && vv.data[1].of.f32 == 2.0f);
  wasm_val_vec_delete(&vv);
  wasm_val_t pv;
  wasm_val_init_ptr(&pv, &vv);
  CHECK(wasm_val_ptr(&pv) == &vv);

#define POINTER_VEC(name, make)                                   \
  do {                                                            \
    wasm_##name##_vec_t v, w;                                     \
    wasm_##name##_vec_new_empty(&v);                              \
    CHECK(v.size == 0);                                           \
    wasm_##name##_vec_delete(&v);                                 \
    wasm_##name##_vec_new_uninitialized(&v, 2);                   \
    CHECK(v.size == 2 && v.data[0] == NULL);                      \
    wasm_##name##_vec_delete(&v);                                 \
    wasm_##name##_t *items[2] = {make, make};                     \
    wasm_##name##_vec_new(&v, 2, items);                          \
    wasm_##name##_vec_copy(&w, &v);                               \
    CHECK(w.size == 2 && w.data[0] != NULL && w.data[0] != v.data[0]); \
    wasm_##name##_vec_delete(&w);                                 \
    wasm_##name##_vec_delete(&v);                                 \
  } while (0)

  wasm_limits_t limits = {1, 2};
  POINTER_VEC(valtype, wasm_valtype_new_i32());
  POINTER_VEC(functype, wasm_functype_new_0_0());
  POINTER_VEC(globaltype, wasm_globaltype_new(wasm_valtype_new_i32(), WASM_CONST));
  POINTER_VEC(tabletype, wasm_tabletype_new(wasm_valtype_new_funcref(), &limits));
  POINTER_VEC(memorytype, wasm_memorytype_new(&limits));
  POINTER_VEC(externtype, wasm_memorytype_as_externtype(wasm_memorytype_new(&limits)));
}

static wasm_name_t name_of(const char *s) {
  wasm_name_t n;
  wasm_name_new_from_string(&n, s);
  return n;
}

static void test_types(void) {
  wasm_valkind_t kinds[] = {WASM_I32, WASM_I64, WASM_F32, WASM_F64, WASM_EXTERNREF, WASM_FUNCREF};
  for (size_t i = 0; i < sizeof kinds; i++) {
    wasm_valtype_t *t = wasm_valtype_new(kinds[i]);
    CHECK(t && wasm_valtype_kind(t) == kinds[i]);
    wasm_valtype_t *c = wasm_valtype_copy(t);
    CHECK(wasm_valtype_kind(c) == kinds[i]);
    CHECK(wasm_valtype_is_num(t) == wasm_valkind_is_num(kinds[i]));
    CHECK(wasm_valtype_is_ref(t) == wasm_valkind_is_ref(kinds[i]));
    wasm_valtype_delete(c);
    wasm_valtype_delete(t);
  }
  CHECK(wasm_valtype_new(77) == NULL);
  wasm_valtype_delete(wasm_valtype_new_i64());
  wasm_valtype_delete(wasm_valtype_new_f32());
  wasm_valtype_delete(wasm_valtype_new_f64());
  wasm_valtype_delete(wasm_valtype_new_externref());

  /* The functype helpers of every shape. */
  wasm_functype_t *fts[] = {
      wasm_functype_new_0_0(),
      wasm_functype_new_1_0(wasm_valtype_new_i32()),
      wasm_functype_new_2_0(wasm_valtype_new_i32(), wasm_valtype_new_i32()),
      wasm_functype_new_3_0(wasm_valtype_new_i32(), wasm_valtype_new_i32(), wasm_valtype_new_i32()),
      wasm_functype_new_0_1(wasm_valtype_new_i64()),
      wasm_functype_new_1_1(wasm_valtype_new_i32(), wasm_valtype_new_i64()),
      wasm_functype_new_2_1(wasm_valtype_new_i32(), wasm_valtype_new_i32(), wasm_valtype_new_i64()),
      wasm_functype_new_3_1(wasm_valtype_new_i32(), wasm_valtype_new_i32(), wasm_valtype_new_i32(), wasm_valtype_new_i64()),
      wasm_functype_new_0_2(wasm_valtype_new_f32(), wasm_valtype_new_f64()),
      wasm_functype_new_1_2(wasm_valtype_new_i32(), wasm_valtype_new_f32(), wasm_valtype_new_f64()),
      wasm_functype_new_2_2(wasm_valtype_new_i32(), wasm_valtype_new_i32(), wasm_valtype_new_f32(), wasm_valtype_new_f64()),
      wasm_functype_new_3_2(wasm_valtype_new_i32(), wasm_valtype_new_i32(), wasm_valtype_new_i32(), wasm_valtype_new_f32(),
                            wasm_valtype_new_f64()),
  };
  size_t shapes[][2] = {{0, 0}, {1, 0}, {2, 0}, {3, 0}, {0, 1}, {1, 1}, {2, 1}, {3, 1}, {0, 2}, {1, 2}, {2, 2}, {3, 2}};
  for (size_t i = 0; i < 12; i++) {
    CHECK(wasm_functype_params(fts[i])->size == shapes[i][0]);
    CHECK(wasm_functype_results(fts[i])->size == shapes[i][1]);
    wasm_functype_t *c = wasm_functype_copy(fts[i]);
    CHECK(wasm_functype_params(c)->size == shapes[i][0]);
    wasm_externtype_t *et = wasm_functype_as_externtype(c);
    CHECK(wasm_externtype_kind(et) == WASM_EXTERN_FUNC);
    CHECK(wasm_externtype_as_functype(et) == c && wasm_externtype_as_globaltype(et) == NULL);
    CHECK(wasm_externtype_as_functype_const(wasm_functype_as_externtype_const(c)) == c);
    wasm_functype_delete(c);
    wasm_functype_delete(fts[i]);
  }
  wasm_valtype_vec_t ps, rs;
  wasm_valtype_t *p1[1] = {wasm_valtype_new_i64()};
  wasm_valtype_vec_new(&ps, 1, p1);
  wasm_valtype_vec_new_empty(&rs);
  wasm_functype_t *explicit_ft = wasm_functype_new(&ps, &rs);
  CHECK(ps.size == 0 && wasm_functype_params(explicit_ft)->size == 1 && wasm_functype_results(explicit_ft)->size == 0);
  wasm_functype_delete(explicit_ft);
  wasm_functype_t *ft = wasm_functype_new_1_2(wasm_valtype_new_i32(), wasm_valtype_new_f32(), wasm_valtype_new_f64());
  CHECK(wasm_valtype_kind(wasm_functype_results(ft)->data[1]) == WASM_F64);
  wasm_functype_delete(ft);

  wasm_globaltype_t *gt = wasm_globaltype_new(wasm_valtype_new_f64(), WASM_VAR);
  CHECK(wasm_valtype_kind(wasm_globaltype_content(gt)) == WASM_F64 && wasm_globaltype_mutability(gt) == WASM_VAR);
  wasm_globaltype_t *gc = wasm_globaltype_copy(gt);
  CHECK(wasm_globaltype_mutability(gc) == WASM_VAR);
  wasm_externtype_t *get = wasm_globaltype_as_externtype(gc);
  CHECK(wasm_externtype_kind(get) == WASM_EXTERN_GLOBAL && wasm_externtype_as_globaltype(get) == gc);
  CHECK(wasm_externtype_as_globaltype_const(wasm_globaltype_as_externtype_const(gc)) == gc);
  wasm_externtype_t *getc = wasm_externtype_copy(get);
  CHECK(wasm_externtype_kind(getc) == WASM_EXTERN_GLOBAL);
  wasm_externtype_delete(getc);
  wasm_globaltype_delete(gc);
  wasm_globaltype_delete(gt);

  wasm_limits_t tl = {2, 9};
  wasm_tabletype_t *tt = wasm_tabletype_new(wasm_valtype_new_externref(), &tl);
  CHECK(wasm_valtype_kind(wasm_tabletype_element(tt)) == WASM_EXTERNREF);
  CHECK(wasm_tabletype_limits(tt)->min == 2 && wasm_tabletype_limits(tt)->max == 9);
  wasm_tabletype_t *tc = wasm_tabletype_copy(tt);
  CHECK(wasm_externtype_kind(wasm_tabletype_as_externtype(tc)) == WASM_EXTERN_TABLE);
  CHECK(wasm_externtype_as_tabletype(wasm_tabletype_as_externtype(tc)) == tc);
  CHECK(wasm_externtype_as_tabletype_const(wasm_tabletype_as_externtype_const(tc)) == tc);
  CHECK(wasm_externtype_as_memorytype_const(wasm_tabletype_as_externtype_const(tc)) == NULL);
  wasm_tabletype_delete(tc);
  wasm_tabletype_delete(tt);
  CHECK(wasm_tabletype_new(wasm_valtype_new_i32(), &tl) == NULL); /* not a reference type */

  wasm_limits_t ml = {1, wasm_limits_max_default};
  wasm_memorytype_t *mt = wasm_memorytype_new(&ml);
  CHECK(wasm_memorytype_limits(mt)->min == 1 && wasm_memorytype_limits(mt)->max == wasm_limits_max_default);
  wasm_memorytype_t *mc = wasm_memorytype_copy(mt);
  CHECK(wasm_externtype_as_memorytype(wasm_memorytype_as_externtype(mc)) == mc);
  CHECK(wasm_externtype_as_memorytype_const(wasm_memorytype_as_externtype_const(mc)) == mc);
  CHECK(wasm_externtype_kind(wasm_memorytype_as_externtype_const(mc)) == WASM_EXTERN_MEMORY);
  wasm_memorytype_delete(mc);
  wasm_memorytype_delete(mt);
  wasm_limits_t bad = {5, 2};
  CHECK(wasm_memorytype_new(&bad) == NULL);

  wasm_name_t module = name_of("mod"), name = name_of("field");
  wasm_importtype_t *it = wasm_importtype_new(&module, &name, wasm_functype_as_externtype(wasm_functype_new_0_0()));
  CHECK(wasm_importtype_module(it)->size == 3 && memcmp(wasm_importtype_module(it)->data, "mod", 3) == 0);
  CHECK(wasm_importtype_name(it)->size == 5);
  CHECK(wasm_externtype_kind(wasm_importtype_type(it)) == WASM_EXTERN_FUNC);
  wasm_importtype_t *ic = wasm_importtype_copy(it);
  CHECK(wasm_importtype_name(ic)->size == 5);
  wasm_importtype_vec_t iv;
  wasm_importtype_t *its[1] = {ic};
  wasm_importtype_vec_new(&iv, 1, its);
  wasm_importtype_vec_t iw;
  wasm_importtype_vec_copy(&iw, &iv);
  wasm_importtype_vec_delete(&iw);
  wasm_importtype_vec_delete(&iv);
  wasm_importtype_vec_new_empty(&iv);
  wasm_importtype_vec_delete(&iv);
  wasm_importtype_vec_new_uninitialized(&iv, 1);
  wasm_importtype_vec_delete(&iv);
  wasm_importtype_delete(it);

  wasm_name_t ename = name_of("out");
  wasm_exporttype_t *xt = wasm_exporttype_new(&ename, wasm_memorytype_as_externtype(wasm_memorytype_new(&ml)));
  CHECK(wasm_exporttype_name(xt)->size == 3 && wasm_externtype_kind(wasm_exporttype_type(xt)) == WASM_EXTERN_MEMORY);
  wasm_exporttype_t *xc = wasm_exporttype_copy(xt);
  wasm_exporttype_vec_t xv, xw;
  wasm_exporttype_t *xts[1] = {xc};
  wasm_exporttype_vec_new(&xv, 1, xts);
  wasm_exporttype_vec_copy(&xw, &xv);
  CHECK(xw.size == 1);
  wasm_exporttype_vec_delete(&xw);
  wasm_exporttype_vec_delete(&xv);
  wasm_exporttype_vec_new_empty(&xv);
  wasm_exporttype_vec_delete(&xv);
  wasm_exporttype_vec_new_uninitialized(&xv, 1);
  wasm_exporttype_vec_delete(&xv);
  wasm_exporttype_delete(xt);
}

/* The reference functions every kind has: copy, same, host info (with and without finalizer),
 * as_ref / ref_as (and their const forms). */
#define CHECK_REF_KIND(kind, obj)                                               \
  do {                                                                          \
    wasm_##kind##_t *copy = wasm_##kind##_copy(obj);                            \
    CHECK(copy && wasm_##kind##_same(copy, obj));                               \
    static int info_##kind;                                                     \
    wasm_##kind##_set_host_info(obj, &info_##kind);                             \
    CHECK(wasm_##kind##_get_host_info(copy) == &info_##kind);                   \
    int before = finalized_info;                                                \
    wasm_##kind##_set_host_info_with_finalizer(copy, &info_##kind, info_finalizer); \
    wasm_##kind##_set_host_info(obj, NULL);                                     \
    CHECK(finalized_info == before + 1);                                        \
    CHECK(wasm_##kind##_get_host_info(obj) == NULL);                            \
    wasm_ref_t *r = wasm_##kind##_as_ref(copy);                                 \
    CHECK(wasm_ref_as_##kind(r) == copy);                                       \
    CHECK(wasm_ref_as_##kind##_const(wasm_##kind##_as_ref_const(copy)) == copy); \
    wasm_ref_t *rc = wasm_ref_copy(r);                                          \
    CHECK(wasm_ref_same(rc, r));                                                \
    wasm_ref_set_host_info(rc, &info_##kind);                                   \
    CHECK(wasm_ref_get_host_info(r) == &info_##kind);                           \
    wasm_ref_set_host_info_with_finalizer(rc, NULL, NULL);                      \
    wasm_ref_delete(rc);                                                        \
    wasm_##kind##_delete(copy);                                                 \
  } while (0)

static void test_store_objects(wasm_engine_t *engine) {
  wasm_store_t *store = wasm_store_new(engine);
  wasm_module_t *module = compile_wat(store,
      "(module"
      "  (import \"\" \"f\" (func $f (param i32) (result i32)))"
      "  (import \"\" \"g\" (global $g i32))"
      "  (import \"\" \"t\" (table 1 funcref))"
      "  (import \"\" \"m\" (memory 1))"
      "  (global (export \"g2\") (mut externref) (ref.null extern))"
      "  (func (export \"id_ref\") (param externref) (result externref) (local.get 0))"
      "  (func (export \"call_f\") (param i32) (result i32) (call $f (local.get 0)))"
      "  (func (export \"get_g\") (result i32) (global.get $g)))");

  wasm_importtype_vec_t imports;
  wasm_module_imports(module, &imports);
  CHECK(imports.size == 4);
  CHECK(wasm_externtype_kind(wasm_importtype_type(imports.data[3])) == WASM_EXTERN_MEMORY);
  wasm_importtype_vec_delete(&imports);
  wasm_exporttype_vec_t exports_t;
  wasm_module_exports(module, &exports_t);
  CHECK(exports_t.size == 4);
  wasm_exporttype_vec_delete(&exports_t);

  wasm_functype_t *ft = wasm_functype_new_1_1(wasm_valtype_new_i32(), wasm_valtype_new_i32());
  wasm_func_t *f = wasm_func_new(store, ft, id_callback);
  static int env_value = 5;
  wasm_func_t *fe = wasm_func_new_with_env(store, ft, env_callback, &env_value, env_finalizer);
  wasm_func_t *fbad = wasm_func_new(store, ft, bad_result_callback);
  wasm_functype_t *fty = wasm_func_type(fe);
  CHECK(wasm_functype_params(fty)->size == 1);
  wasm_functype_delete(fty);
  wasm_functype_delete(ft);
  wasm_globaltype_t *gt = wasm_globaltype_new(wasm_valtype_new_i32(), WASM_CONST);
  wasm_val_t gv = WASM_I32_VAL(9);
  wasm_global_t *g = wasm_global_new(store, gt, &gv);
  wasm_globaltype_delete(gt);
  wasm_limits_t tl = {1, 4};
  wasm_tabletype_t *tt = wasm_tabletype_new(wasm_valtype_new_funcref(), &tl);
  wasm_table_t *t = wasm_table_new(store, tt, NULL);
  wasm_tabletype_delete(tt);
  wasm_limits_t ml = {1, 2};
  wasm_memorytype_t *mt = wasm_memorytype_new(&ml);
  wasm_memory_t *m = wasm_memory_new(store, mt);
  wasm_memorytype_delete(mt);
  CHECK(f && fe && g && t && m);

  wasm_extern_t *externs[] = {wasm_func_as_extern(fe), wasm_global_as_extern(g), wasm_table_as_extern(t),
                              wasm_memory_as_extern(m)};
  wasm_extern_vec_t import_vec = WASM_ARRAY_VEC(externs);
  /* A wrong import list is reported as a trap. */
  wasm_extern_vec_t too_few = {1, externs};
  wasm_trap_t *trap = NULL;
  CHECK(wasm_instance_new(store, module, &too_few, &trap) == NULL && trap != NULL);
  wasm_trap_delete(trap);
  wasm_instance_t *instance = instantiate(store, module, &import_vec);

  /* Extern conversions and types. */
  CHECK(wasm_extern_kind(externs[0]) == WASM_EXTERN_FUNC && wasm_extern_kind(externs[3]) == WASM_EXTERN_MEMORY);
  CHECK(wasm_extern_as_func(externs[0]) == fe && wasm_extern_as_global(externs[0]) == NULL);
  CHECK(wasm_extern_as_global(externs[1]) == g && wasm_extern_as_table(externs[2]) == t);
  CHECK(wasm_extern_as_memory(externs[3]) == m);
  CHECK(wasm_extern_as_func_const(wasm_func_as_extern_const(fe)) == fe);
  CHECK(wasm_extern_as_global_const(wasm_global_as_extern_const(g)) == g);
  CHECK(wasm_extern_as_table_const(wasm_table_as_extern_const(t)) == t);
  CHECK(wasm_extern_as_memory_const(wasm_memory_as_extern_const(m)) == m);
  for (size_t i = 0; i < 4; i++) {
    wasm_externtype_t *et = wasm_extern_type(externs[i]);
    CHECK(wasm_externtype_kind(et) == wasm_extern_kind(externs[i]));
    wasm_externtype_delete(et);
  }
  wasm_extern_vec_t ev, ew;
  wasm_extern_t *copies[2] = {wasm_extern_copy(externs[0]), wasm_extern_copy(externs[1])};
  wasm_extern_vec_new(&ev, 2, copies);
  wasm_extern_vec_copy(&ew, &ev);
  CHECK(wasm_extern_same(ew.data[0], externs[0]) && !wasm_extern_same(ew.data[0], externs[1]));
  wasm_extern_vec_delete(&ew);
  wasm_extern_vec_delete(&ev);
  wasm_extern_vec_new_empty(&ev);
  wasm_extern_vec_delete(&ev);
  wasm_extern_vec_new_uninitialized(&ev, 3);
  wasm_extern_vec_delete(&ev);

  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  CHECK(exports.size == 4);
  wasm_global_t *g2 = wasm_extern_as_global(exports.data[0]);
  wasm_func_t *id_ref = wasm_extern_as_func(exports.data[1]);
  wasm_func_t *call_f = wasm_extern_as_func(exports.data[2]);
  wasm_func_t *get_g = wasm_extern_as_func(exports.data[3]);
  CHECK(g2 && id_ref && call_f && get_g);
  CHECK(wasm_func_param_arity(call_f) == 1 && wasm_func_result_arity(call_f) == 1);

  wasm_val_t a[1] = {WASM_I32_VAL(1)};
  wasm_val_t r[1] = {WASM_INIT_VAL};
  wasm_val_vec_t args = WASM_ARRAY_VEC(a), results = WASM_ARRAY_VEC(r);
  check_trap(wasm_func_call(call_f, &args, &results), "call_f");
  CHECK(r[0].kind == WASM_I32 && r[0].of.i32 == 5);
  wasm_val_vec_t none = WASM_EMPTY_VEC;
  check_trap(wasm_func_call(get_g, &none, &results), "get_g");
  CHECK(r[0].of.i32 == 9);
  check_trap(wasm_func_call(f, &args, &results), "id");
  CHECK(r[0].of.i32 == 1);
  /* Arity and kind mismatches are traps. */
  trap = wasm_func_call(call_f, &none, &results);
  CHECK(trap != NULL);
  wasm_trap_delete(trap);
  wasm_val_t wrong[1] = {WASM_I64_VAL(1)};
  wasm_val_vec_t wrong_args = WASM_ARRAY_VEC(wrong);
  trap = wasm_func_call(call_f, &wrong_args, &results);
  CHECK(trap != NULL);
  wasm_trap_delete(trap);
  trap = wasm_func_call(fbad, &args, &results);
  CHECK(trap != NULL);
  wasm_trap_delete(trap);

  /* Foreign objects through wasm as externrefs keep their identity. */
  wasm_foreign_t *foreign = wasm_foreign_new(store);
  CHECK(foreign != NULL);
  wasm_val_t fa[1] = {WASM_REF_VAL(wasm_foreign_as_ref(foreign))};
  wasm_val_vec_t fargs = WASM_ARRAY_VEC(fa);
  wasm_val_t fr[1] = {WASM_INIT_VAL};
  wasm_val_vec_t fresults = WASM_ARRAY_VEC(fr);
  check_trap(wasm_func_call(id_ref, &fargs, &fresults), "id_ref");
  CHECK(fr[0].kind == WASM_EXTERNREF && fr[0].of.ref != NULL);
  CHECK(wasm_ref_same(fr[0].of.ref, wasm_foreign_as_ref(foreign)));
  CHECK(wasm_ref_as_foreign(fr[0].of.ref) != NULL && wasm_ref_as_func(fr[0].of.ref) == NULL);
  wasm_val_t copy;
  wasm_val_copy(&copy, &fr[0]);
  CHECK(wasm_ref_same(copy.of.ref, fr[0].of.ref));
  wasm_val_delete(&copy);
  wasm_val_delete(&fr[0]);
  /* A null externref. */
  fa[0].of.ref = NULL;
  check_trap(wasm_func_call(id_ref, &fargs, &fresults), "id_ref null");
  CHECK(fr[0].kind == WASM_EXTERNREF && fr[0].of.ref == NULL);
  /* An externref global holding a function reference object. */
  wasm_val_t gval = WASM_REF_VAL(wasm_func_as_ref(f));
  wasm_global_set(g2, &gval);
  wasm_val_t gout;
  wasm_global_get(g2, &gout);
  CHECK(gout.kind == WASM_EXTERNREF && wasm_ref_same(gout.of.ref, wasm_func_as_ref(f)));
  wasm_val_delete(&gout);
  wasm_globaltype_t *g2t = wasm_global_type(g2);
  CHECK(wasm_valtype_kind(wasm_globaltype_content(g2t)) == WASM_EXTERNREF);
  wasm_globaltype_delete(g2t);

  /* Tables and memories. */
  CHECK(wasm_table_size(t) == 1 && wasm_table_get(t, 0) == NULL);
  CHECK(wasm_table_set(t, 0, wasm_func_as_ref(f)) && wasm_table_grow(t, 1, NULL) && wasm_table_size(t) == 2);
  wasm_ref_t *tr = wasm_table_get(t, 0);
  CHECK(tr && wasm_func_same(wasm_ref_as_func(tr), f) && wasm_ref_as_func_const(tr) != NULL);
  wasm_ref_delete(tr);
  CHECK(!wasm_table_set(t, 0, wasm_foreign_as_ref(foreign))); /* not a function */
  wasm_tabletype_t *ttt = wasm_table_type(t);
  CHECK(wasm_tabletype_limits(ttt)->min == 2);
  wasm_tabletype_delete(ttt);
  CHECK(wasm_memory_size(m) == 1 && wasm_memory_data_size(m) == 65536 && wasm_memory_data(m) != NULL);
  CHECK(wasm_memory_grow(m, 1) && !wasm_memory_grow(m, 1));
  wasm_memorytype_t *mtt = wasm_memory_type(m);
  CHECK(wasm_memorytype_limits(mtt)->max == 2);
  wasm_memorytype_delete(mtt);
  wasm_val_t gget;
  wasm_global_get(g, &gget);
  CHECK(gget.of.i32 == 9);

  /* Reference functions of every kind. */
  CHECK_REF_KIND(func, f);
  CHECK_REF_KIND(global, g);
  CHECK_REF_KIND(table, t);
  CHECK_REF_KIND(memory, m);
  CHECK_REF_KIND(extern, externs[0]);
  CHECK_REF_KIND(instance, instance);
  CHECK_REF_KIND(foreign, foreign);
  CHECK_REF_KIND(module, module);
  wasm_message_t msg;
  wasm_name_new_from_string_nt(&msg, "made by the host");
  wasm_trap_t *host_trap = wasm_trap_new(store, &msg);
  wasm_name_delete(&msg);
  CHECK_REF_KIND(trap, host_trap);
  wasm_trap_message(host_trap, &msg);
  CHECK(strcmp(msg.data, "made by the host") == 0);
  wasm_byte_vec_delete(&msg);
  CHECK(wasm_trap_origin(host_trap) == NULL);
  wasm_frame_vec_t frames;
  wasm_trap_trace(host_trap, &frames);
  CHECK(frames.size == 0);
  wasm_frame_vec_delete(&frames);
  wasm_frame_vec_new_empty(&frames);
  wasm_frame_vec_delete(&frames);
  wasm_frame_vec_new_uninitialized(&frames, 1);
  wasm_frame_vec_t frames2;
  wasm_frame_vec_copy(&frames2, &frames);
  wasm_frame_vec_delete(&frames2);
  wasm_frame_vec_delete(&frames);
  wasm_frame_t *no_frames[1] = {NULL};
  wasm_frame_vec_new(&frames, 1, no_frames);
  wasm_frame_vec_delete(&frames);
  CHECK(wasm_ref_as_trap(wasm_trap_as_ref(host_trap)) == host_trap);
  CHECK(wasm_ref_as_trap_const(wasm_foreign_as_ref_const(foreign)) == NULL);
  CHECK(wasm_ref_as_extern(wasm_func_as_ref(f)) != NULL && wasm_ref_as_extern(wasm_foreign_as_ref(foreign)) == NULL);
  CHECK(wasm_ref_as_extern_const(wasm_extern_as_ref_const(externs[0])) == externs[0]);
  CHECK(wasm_ref_as_global_const(wasm_global_as_ref_const(g)) == g);
  CHECK(wasm_ref_as_table_const(wasm_table_as_ref_const(t)) == t);
  CHECK(wasm_ref_as_memory_const(wasm_memory_as_ref_const(m)) == m);
  CHECK(wasm_ref_as_instance_const(wasm_instance_as_ref_const(instance)) == instance);
  CHECK(wasm_ref_as_module_const(wasm_module_as_ref_const(module)) == module);
  CHECK(wasm_ref_as_foreign_const(wasm_foreign_as_ref_const(foreign)) == foreign);
  CHECK(wasm_ref_as_func_const(wasm_func_as_ref_const(f)) == f);
  CHECK(!wasm_func_same(f, fe) && !wasm_global_same(g, g2) && !wasm_module_same(module, NULL));
  CHECK(!wasm_trap_same(host_trap, NULL) && !wasm_foreign_same(foreign, NULL) && !wasm_table_same(t, NULL));
  CHECK(!wasm_memory_same(m, NULL) && !wasm_instance_same(instance, NULL) && !wasm_ref_same(NULL, wasm_func_as_ref(f)));
  /* Host info with a finalizer runs it when the store goes. */
  static int keep;
  wasm_foreign_set_host_info_with_finalizer(foreign, &keep, info_finalizer);
  wasm_trap_delete(host_trap);

  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_foreign_delete(foreign);
  wasm_func_delete(f);
  wasm_func_delete(fe);
  wasm_func_delete(fbad);
  wasm_global_delete(g);
  wasm_table_delete(t);
  wasm_memory_delete(m);
  wasm_module_delete(module);
  int before = finalized_info;
  CHECK(env_finalized == 0);
  wasm_store_delete(store);
  CHECK(env_finalized == 1);
  CHECK(finalized_info == before + 1);
}

static void test_modules(wasm_engine_t *engine) {
  wasm_store_t *store = wasm_store_new(engine);
  wasm_byte_vec_t binary;
  wat_to_binary("(module (func (export \"f\") (result i32) (i32.const 3)))", &binary);
  CHECK(wasm_module_validate(store, &binary));
  wasm_module_t *module = wasm_module_new(store, &binary);
  CHECK(module);
  wasm_byte_vec_t garbage;
  wasm_byte_vec_new(&garbage, 4, "\0asn");
  CHECK(!wasm_module_validate(store, &garbage) && wasm_module_new(store, &garbage) == NULL);
  CHECK(wasm_module_deserialize(store, &garbage) == NULL);
  wasm_byte_vec_delete(&garbage);
  wasm_byte_vec_delete(&binary);

  wasm_byte_vec_t serialized;
  wasm_module_serialize(module, &serialized);
  wasm_module_t *again = wasm_module_deserialize(store, &serialized);
  CHECK(again != NULL);
  wasm_byte_vec_delete(&serialized);
  wasm_shared_module_t *shared = wasm_module_share(again);
  wasm_module_t *obtained = wasm_module_obtain(store, shared);
  CHECK(obtained);
  wasm_shared_module_delete(shared);
  wasm_instance_t *instance = instantiate(store, obtained, NULL);
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  wasm_val_t r[1] = {WASM_INIT_VAL};
  wasm_val_vec_t none = WASM_EMPTY_VEC, results = WASM_ARRAY_VEC(r);
  check_trap(wasm_func_call(export_func(&exports, 0), &none, &results), "f");
  CHECK(r[0].of.i32 == 3);

  /* A trap from wasm has frames. */
  wasm_module_t *trapping = compile_wat(store, "(module (func (export \"u\") unreachable))");
  wasm_instance_t *ti = instantiate(store, trapping, NULL);
  wasm_extern_vec_t texports;
  wasm_instance_exports(ti, &texports);
  wasm_trap_t *trap = wasm_func_call(export_func(&texports, 0), &none, &none);
  CHECK(trap);
  wasm_frame_t *origin = wasm_trap_origin(trap);
  CHECK(origin && wasm_frame_func_index(origin) == 0 && wasm_frame_module_offset(origin) > 0);
  CHECK(wasm_instance_same(wasm_frame_instance(origin), ti));
  wasm_frame_t *fc = wasm_frame_copy(origin);
  CHECK(wasm_frame_func_offset(fc) == wasm_frame_func_offset(origin));
  wasm_frame_delete(fc);
  wasm_frame_delete(origin);
  wasm_trap_delete(trap);

  wasm_extern_vec_delete(&texports);
  wasm_instance_delete(ti);
  wasm_module_delete(trapping);
  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_module_delete(obtained);
  wasm_module_delete(again);
  wasm_module_delete(module);
  wasm_store_delete(store);
}

static void test_misuse(wasm_engine_t *engine) {
  /* NULL arguments give NULL / false / a trap, never a crash. */
  CHECK(wasm_store_new(NULL) == NULL);
  CHECK(wasm_module_new(NULL, NULL) == NULL);
  CHECK(wasm_func_new(NULL, NULL, NULL) == NULL);
  CHECK(wasm_engine_new_with_config(NULL) == NULL);
  wasm_trap_t *trap = wasm_func_call(NULL, NULL, NULL);
  CHECK(trap != NULL);
  wasm_trap_delete(trap);
  CHECK(wasm_table_size(NULL) == 0 && wasm_memory_data(NULL) == NULL && !wasm_memory_grow(NULL, 1));
  CHECK(wasm_extern_as_func(NULL) == NULL && wasm_ref_as_func(NULL) == NULL);
  /* A function of one store used with another store's function as argument fails cleanly. */
  wasm_store_t *s1 = wasm_store_new(engine), *s2 = wasm_store_new(engine);
  wasm_module_t *m1 = compile_wat(s1, "(module (table (export \"t\") 1 funcref))");
  wasm_instance_t *i1 = instantiate(s1, m1, NULL);
  wasm_extern_vec_t e1;
  wasm_instance_exports(i1, &e1);
  wasm_functype_t *ft = wasm_functype_new_1_1(wasm_valtype_new_i32(), wasm_valtype_new_i32());
  wasm_func_t *f2 = wasm_func_new(s2, ft, id_callback);
  wasm_functype_delete(ft);
  CHECK(!wasm_table_set(wasm_extern_as_table(e1.data[0]), 0, wasm_func_as_ref(f2)));
  wasm_func_delete(f2);
  wasm_extern_vec_delete(&e1);
  wasm_instance_delete(i1);
  wasm_module_delete(m1);
  wasm_store_delete(s1);
  wasm_store_delete(s2);
}

int main(void) {
  CHECK(conformance_marker[0] == 'k');
  wasm_config_t *config = wasm_config_new();
  wasm_config_delete(config);
  config = wasm_config_new();
  wasm_engine_t *engine = wasm_engine_new_with_config(config);
  CHECK(engine != NULL);
  wasm_engine_t *engine2 = wasm_engine_new();
  test_vectors();
  test_types();
  test_store_objects(engine);
  test_modules(engine2);
  test_misuse(engine);
  wasm_engine_delete(engine2);
  wasm_engine_delete(engine);
  printf("conformance: ok\n");
  return 0;
}
