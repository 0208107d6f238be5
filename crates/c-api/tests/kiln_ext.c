/* Calls the kiln.h and wasi.h functions the examples do not, and checks what they do. */
#include "common.h"
#include <unistd.h>

static wasm_trap_t *exit_callback(void *env, const wasm_val_vec_t *args, wasm_val_vec_t *results) {
  (void)env;
  (void)args;
  (void)results;
  return NULL;
}

static int32_t call_i32(wasm_func_t *f, int32_t arg, wasm_trap_t **trap) {
  wasm_val_t a[1] = {WASM_I32_VAL(arg)};
  wasm_val_t r[1] = {WASM_INIT_VAL};
  wasm_val_vec_t args = WASM_ARRAY_VEC(a), results = WASM_ARRAY_VEC(r);
  *trap = wasm_func_call(f, &args, &results);
  return r[0].of.i32;
}

static void test_config(void) {
  char dir[] = "/tmp/kiln-c-cache-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  wasm_config_t *config = wasm_config_new();
  kiln_config_cranelift_opt_level_set(config, KILN_OPT_NONE);
  kiln_config_max_wasm_stack_set(config, 64 * 1024);
  kiln_config_max_memory_size_set(config, 2 * 65536);
  kiln_config_gc_heap_limit_set(config, 1 << 20);
  kiln_config_wasm_simd_set(config, true);
  kiln_config_wasm_relaxed_simd_set(config, true);
  kiln_config_wasm_multi_memory_set(config, true);
  kiln_config_wasm_tail_call_set(config, true);
  kiln_config_wasm_memory64_set(config, false);
  kiln_config_wasm_threads_set(config, true);
  kiln_config_wasm_exceptions_set(config, true);
  kiln_config_wasm_legacy_exceptions_set(config, true);
  kiln_config_wasm_compact_imports_set(config, true);
  kiln_config_wasm_gc_set(config, true);
  kiln_config_wasm_function_references_set(config, true);
  kiln_config_wasm_extended_const_set(config, true);
  kiln_config_wasm_wide_arithmetic_set(config, false);
  kiln_config_wasm_custom_page_sizes_set(config, false);
  check_error(kiln_config_cache_set(config, dir), "cache");
  wasm_engine_t *engine = wasm_engine_new_with_config(config);
  CHECK(engine != NULL);
  wasm_store_t *store = wasm_store_new(engine);

  /* memory64 is off: a 64-bit memory does not validate. */
  wasm_byte_vec_t binary;
  wat_to_binary("(module (memory i64 1))", &binary);
  CHECK(!wasm_module_validate(store, &binary));
  wasm_byte_vec_delete(&binary);
  /* Legacy exceptions and GC are on: a legacy `try` and an i31 validate. */
  wat_to_binary("(module (tag) (func try call 1 catch 0 end) (func throw 0)"
                "  (func (result i32) (i31.get_s (ref.i31 (i32.const 1)))))", &binary);
  CHECK(wasm_module_validate(store, &binary));
  wasm_byte_vec_delete(&binary);
  kiln_store_gc(store);

  /* The stack limit: deep recursion traps with a stack overflow. */
  wasm_module_t *module = compile_wat(store,
      "(module (func $r (export \"r\") (param i32) (result i32)"
      "  (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))"
      "    (else (i32.add (i32.const 1) (call $r (i32.sub (local.get 0) (i32.const 1)))))))"
      "  (memory (export \"m\") 1))");
  wasm_instance_t *instance = instantiate(store, module, NULL);
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  wasm_trap_t *trap;
  CHECK(call_i32(export_func(&exports, 0), 10, &trap) == 10 && trap == NULL);
  call_i32(export_func(&exports, 0), 1000000, &trap);
  CHECK(trap != NULL);
  kiln_trap_code_t code;
  CHECK(kiln_trap_code(trap, &code) && code == KILN_TRAP_STACK_OVERFLOW);
  wasm_trap_delete(trap);
  /* The memory limit: growing past 2 pages fails. */
  wasm_memory_t *memory = wasm_extern_as_memory(exports.data[1]);
  CHECK(wasm_memory_grow(memory, 1) && !wasm_memory_grow(memory, 1));

  /* The GC heap limit (1 MiB): 100,000 short-lived structs (2.4 MB) are collected as they go;
   * a list kept in a global traps with the GC heap's own code, and the store still works. */
  wasm_module_t *gc_module = compile_wat(store,
      "(module (type $n (struct (field i32) (field (ref null $n))))"
      "  (global $g (mut (ref null $n)) (ref.null $n))"
      "  (func (export \"churn\") (param i32) (result i32) (local $s i32)"
      "    (loop $l (local.set $s (i32.add (local.get $s)"
      "        (struct.get $n 0 (struct.new $n (local.get 0) (ref.null $n)))))"
      "      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))"
      "    (local.get $s))"
      "  (func (export \"hoard\") (param i32) (result i32)"
      "    (loop $l (global.set $g (struct.new $n (local.get 0) (global.get $g))) (br $l))"
      "    (i32.const 0))"
      "  (func (export \"release\") (param i32) (result i32) (global.set $g (ref.null $n)) (local.get 0)))");
  wasm_instance_t *gc_instance = instantiate(store, gc_module, NULL);
  wasm_extern_vec_t gc_exports;
  wasm_instance_exports(gc_instance, &gc_exports);
  /* 1 + 2 + ... + 100000 = 5000050000, modulo 2^32. */
  CHECK(call_i32(export_func(&gc_exports, 0), 100000, &trap) == 705082704 && trap == NULL);
  call_i32(export_func(&gc_exports, 1), 1, &trap);
  CHECK(trap != NULL);
  CHECK(kiln_trap_code(trap, &code) && code == KILN_TRAP_GC_HEAP_OUT_OF_MEMORY);
  wasm_trap_delete(trap);
  /* The hoard is in the global: the heap stays full until wasm lets go of it. */
  call_i32(export_func(&gc_exports, 0), 10, &trap);
  CHECK(trap != NULL && kiln_trap_code(trap, &code) && code == KILN_TRAP_GC_HEAP_OUT_OF_MEMORY);
  wasm_trap_delete(trap);
  CHECK(call_i32(export_func(&gc_exports, 2), 7, &trap) == 7 && trap == NULL);
  kiln_store_gc(store);
  CHECK(call_i32(export_func(&gc_exports, 0), 10, &trap) == 55 && trap == NULL);
  wasm_extern_vec_delete(&gc_exports);
  wasm_instance_delete(gc_instance);
  wasm_module_delete(gc_module);

  /* kiln_module_serialize and the compile cache. */
  wasm_byte_vec_t bytes;
  check_error(kiln_module_serialize(module, &bytes), "serialize");
  CHECK(bytes.size > 0);
  wasm_module_t *again = NULL;
  check_error(kiln_module_deserialize(engine, (const uint8_t *)bytes.data, bytes.size, &again), "deserialize");
  wasm_module_delete(again);
  wasm_byte_vec_delete(&bytes);
  kiln_error_t *error = kiln_module_new(engine, (const uint8_t *)"(module", 7, &again);
  CHECK(error != NULL);
  wasm_frame_vec_t frames;
  kiln_error_wasm_trace(error, &frames);
  CHECK(frames.size == 0);
  wasm_frame_vec_delete(&frames);
  int status;
  CHECK(!kiln_error_exit_status(error, &status));
  kiln_error_delete(error);

  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_module_delete(module);
  wasm_store_delete(store);
  wasm_engine_delete(engine);
  char rm[64];
  snprintf(rm, sizeof rm, "rm -rf %s", dir);
  CHECK(system(rm) == 0);
  wasm_config_t *bad = wasm_config_new();
  error = kiln_config_cache_set(bad, NULL);
  if (error) kiln_error_delete(error); /* no default directory is allowed: either answer is fine */
  wasm_config_delete(bad);
}

static void test_errors_and_linker(void) {
  kiln_error_t *error = kiln_error_new("made in C");
  wasm_name_t msg;
  kiln_error_message(error, &msg);
  CHECK(msg.size == 9 && memcmp(msg.data, "made in C", 9) == 0);
  wasm_name_delete(&msg);
  kiln_error_delete(error);

  wasm_byte_vec_t out;
  error = kiln_wat2wasm("(module (func", 13, &out);
  CHECK(error != NULL);
  kiln_error_delete(error);

  wasm_engine_t *engine = wasm_engine_new();
  wasm_store_t *store = wasm_store_new(engine);
  kiln_linker_t *linker = kiln_linker_new(engine);
  wasm_functype_t *ty = wasm_functype_new_0_0();
  check_error(kiln_linker_define_func(linker, "m", 1, "f", 1, ty, exit_callback, NULL, NULL), "define");
  /* Defining the same name twice is an error, unless shadowing is allowed. */
  error = kiln_linker_define_func(linker, "m", 1, "f", 1, ty, exit_callback, NULL, NULL);
  CHECK(error != NULL);
  kiln_error_delete(error);
  kiln_linker_allow_shadowing(linker, true);
  check_error(kiln_linker_define_func(linker, "m", 1, "f", 1, ty, exit_callback, NULL, NULL), "shadow");
  wasm_functype_delete(ty);

  /* A trap in a start function goes to trap_out, with its wasm frames. */
  wasm_module_t *module = NULL;
  const char *wat = "(module (import \"m\" \"f\" (func)) (func $s unreachable) (start $s))";
  check_error(kiln_module_new(engine, (const uint8_t *)wat, strlen(wat), &module), "compile");
  wasm_instance_t *instance = NULL;
  wasm_trap_t *trap = NULL;
  check_error(kiln_linker_instantiate(linker, store, module, &instance, &trap), "instantiate");
  CHECK(instance == NULL && trap != NULL);
  wasm_frame_vec_t frames;
  wasm_trap_trace(trap, &frames);
  CHECK(frames.size == 1 && wasm_frame_func_index(frames.data[0]) == 1);
  wasm_frame_vec_delete(&frames);
  wasm_trap_delete(trap);
  /* Without trap_out the trap comes back as an error with the same trace. */
  error = kiln_linker_instantiate(linker, store, module, &instance, NULL);
  CHECK(error != NULL && instance == NULL);
  kiln_error_wasm_trace(error, &frames);
  CHECK(frames.size == 1);
  wasm_frame_vec_delete(&frames);
  kiln_error_delete(error);
  wasm_module_delete(module);
  kiln_linker_delete(linker);
  wasm_store_delete(store);
  wasm_engine_delete(engine);
}

static void test_wasi_streams(void) {
  const char *wat =
      "(module"
      "  (import \"wasi_snapshot_preview1\" \"fd_read\" (func $fd_read (param i32 i32 i32 i32) (result i32)))"
      "  (import \"wasi_snapshot_preview1\" \"fd_write\" (func $fd_write (param i32 i32 i32 i32) (result i32)))"
      "  (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $exit (param i32)))"
      "  (memory (export \"memory\") 1)"
      "  (func (export \"_start\")"
      "    (i32.store (i32.const 0) (i32.const 100))"
      "    (i32.store (i32.const 4) (i32.const 64))"
      "    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))"
      "    (i32.store (i32.const 4) (i32.load (i32.const 8)))"
      "    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))"
      "    (call $exit (i32.const 7))))";
  const char *in_path = "kiln-c-ext-stdin.txt", *err_path = "kiln-c-ext-stderr.txt";
  FILE *f = fopen(in_path, "w");
  CHECK(f != NULL);
  fputs("from stdin", f);
  fclose(f);

  for (int mode = 0; mode < 2; mode++) {
    wasm_engine_t *engine = wasm_engine_new();
    wasm_store_t *store = wasm_store_new(engine);
    wasi_config_t *wasi = wasi_config_new();
    wasi_config_inherit_argv(wasi);
    wasi_config_inherit_env(wasi);
    wasi_config_inherit_stdout(wasi);
    CHECK(wasi_config_set_stdin_file(wasi, in_path));
    if (mode == 0) {
      CHECK(wasi_config_set_stderr_file(wasi, err_path));
    } else {
      wasi_config_capture_stderr(wasi);
    }
    check_error(kiln_store_set_wasi(store, wasi), "set wasi");
    kiln_linker_t *linker = kiln_linker_new(engine);
    check_error(kiln_linker_define_wasi(linker), "define wasi");
    wasm_module_t *module = NULL;
    check_error(kiln_module_new(engine, (const uint8_t *)wat, strlen(wat), &module), "compile");
    wasm_instance_t *instance = NULL;
    wasm_trap_t *trap = NULL;
    check_error(kiln_linker_instantiate(linker, store, module, &instance, &trap), "instantiate");
    wasm_extern_vec_t exports;
    wasm_instance_exports(instance, &exports);
    wasm_val_vec_t none = WASM_EMPTY_VEC, none2 = WASM_EMPTY_VEC;
    trap = wasm_func_call(export_func(&exports, 1), &none, &none2);
    int status = 0;
    CHECK(trap != NULL && kiln_trap_exit_status(trap, &status) && status == 7);
    wasm_trap_delete(trap);
    if (mode == 1) {
      wasm_byte_vec_t err;
      CHECK(kiln_store_wasi_stderr(store, &err));
      CHECK(err.size == 10 && memcmp(err.data, "from stdin", 10) == 0);
      wasm_byte_vec_delete(&err);
      CHECK(!kiln_store_wasi_stdout(store, &err)); /* inherited, not captured */
    }
    wasm_extern_vec_delete(&exports);
    wasm_instance_delete(instance);
    wasm_module_delete(module);
    kiln_linker_delete(linker);
    wasm_store_delete(store);
    wasm_engine_delete(engine);
  }
  f = fopen(err_path, "r");
  CHECK(f != NULL);
  char line[32] = {0};
  CHECK(fgets(line, sizeof line, f) != NULL && strcmp(line, "from stdin") == 0);
  fclose(f);
  remove(err_path);
  remove(in_path);
}

/* kiln_func_call_unchecked: numbers in and out through the raw buffer, a trap through *trap,
 * and misuse (a short buffer, a signature with references) as errors. The numeric fast paths of
 * wasm_func_call and of host callbacks give the same values. */
static wasm_trap_t *add_callback(const wasm_val_vec_t *args, wasm_val_vec_t *results) {
  results->data[0].kind = WASM_I64;
  results->data[0].of.i64 = (int64_t)args->data[0].of.i32 + (int64_t)args->data[1].of.f64;
  results->data[1].kind = WASM_F32;
  results->data[1].of.f32 = 0.5f;
  return NULL;
}

static void test_unchecked_calls(void) {
  wasm_engine_t *engine = wasm_engine_new();
  wasm_store_t *store = wasm_store_new(engine);
  wasm_module_t *module = compile_wat(store,
      "(module (import \"\" \"add\" (func $add (param i32 f64) (result i64 f32)))"
      "  (func (export \"mix\") (param i32 i64 f32 f64) (result f64 i32)"
      "    (f64.add (f64.convert_i64_s (local.get 1)) (local.get 3))"
      "    (i32.add (local.get 0) (i32.trunc_f32_s (local.get 2))))"
      "  (func (export \"host\") (param i32) (result i64)"
      "    (call $add (local.get 0) (f64.const 2)) (drop))"
      "  (func (export \"boom\") unreachable)"
      "  (func (export \"refs\") (param externref)))");
  wasm_valtype_t *add_params[2] = {wasm_valtype_new_i32(), wasm_valtype_new_f64()};
  wasm_valtype_t *add_results[2] = {wasm_valtype_new_i64(), wasm_valtype_new_f32()};
  wasm_valtype_vec_t params, results;
  wasm_valtype_vec_new(&params, 2, add_params);
  wasm_valtype_vec_new(&results, 2, add_results);
  wasm_functype_t *add_type = wasm_functype_new(&params, &results);
  wasm_func_t *add = wasm_func_new(store, add_type, add_callback);
  wasm_functype_delete(add_type);
  wasm_extern_t *import_data[1] = {wasm_func_as_extern(add)};
  wasm_extern_vec_t imports = WASM_ARRAY_VEC(import_data);
  wasm_instance_t *instance = instantiate(store, module, &imports);
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  const wasm_func_t *mix = export_func(&exports, 0), *host = export_func(&exports, 1);
  const wasm_func_t *boom = export_func(&exports, 2), *refs = export_func(&exports, 3);

  kiln_val_raw_t raw[4];
  memset(raw, 0, sizeof raw);
  raw[0].i32 = 40;
  raw[1].i64 = 5;
  raw[2].f32 = 2.75f;
  raw[3].f64 = 0.25;
  wasm_trap_t *trap = NULL;
  CHECK(kiln_func_call_unchecked(mix, raw, 4, &trap) == NULL && trap == NULL);
  CHECK(raw[0].f64 == 5.25 && raw[1].i32 == 42);

  /* The same through wasm_func_call. */
  wasm_val_t a[4] = {WASM_I32_VAL(40), WASM_I64_VAL(5), WASM_F32_VAL(2.75f), WASM_F64_VAL(0.25)};
  wasm_val_t r[2] = {WASM_INIT_VAL, WASM_INIT_VAL};
  wasm_val_vec_t args = WASM_ARRAY_VEC(a), outs = WASM_ARRAY_VEC(r);
  CHECK(wasm_func_call(mix, &args, &outs) == NULL);
  CHECK(r[0].kind == WASM_F64 && r[0].of.f64 == 5.25 && r[1].kind == WASM_I32 && r[1].of.i32 == 42);
  /* A wrongly typed argument is a trap, not a call. */
  a[1].kind = WASM_I32;
  a[1].of.i32 = 5;
  trap = wasm_func_call(mix, &args, &outs);
  CHECK(trap != NULL);
  wasm_trap_delete(trap);

  /* Through the host callback (numbers both ways). */
  memset(raw, 0, sizeof raw);
  raw[0].i32 = 7;
  CHECK(kiln_func_call_unchecked(host, raw, 1, &trap) == NULL && trap == NULL && raw[0].i64 == 9);

  /* A trap comes back through *trap; with trap == NULL, as an error. */
  CHECK(kiln_func_call_unchecked(boom, raw, 0, &trap) == NULL && trap != NULL);
  wasm_trap_delete(trap);
  kiln_error_t *error = kiln_func_call_unchecked(boom, raw, 0, NULL);
  CHECK(error != NULL);
  kiln_error_delete(error);

  /* Misuse: a buffer shorter than the signature, a signature with references. */
  error = kiln_func_call_unchecked(mix, raw, 3, &trap);
  CHECK(error != NULL);
  kiln_error_delete(error);
  error = kiln_func_call_unchecked(refs, raw, 1, &trap);
  CHECK(error != NULL);
  kiln_error_delete(error);

  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_func_delete(add);
  wasm_module_delete(module);
  wasm_store_delete(store);
  wasm_engine_delete(engine);
}

/* One call with a single argument (or none) and a single result (or none). */
static wasm_trap_t *call1(wasm_func_t *f, const wasm_val_t *arg, wasm_val_t *result) {
  wasm_val_t a[1], r[1] = {WASM_INIT_VAL};
  if (arg) a[0] = *arg;
  wasm_val_vec_t args = {arg ? 1 : 0, a}, results = {result ? 1 : 0, r};
  wasm_trap_t *trap = wasm_func_call(f, &args, &results);
  if (result) *result = r[0];
  return trap;
}

/* A host function (anyref) -> (anyref) that gives its argument back. */
static wasm_trap_t *anyref_identity(const wasm_val_vec_t *args, wasm_val_vec_t *results) {
  wasm_val_copy(&results->data[0], &args->data[0]);
  return NULL;
}

/* GC references in C (kiln/gc.h): i31s, structs and arrays made in C and in wasm, passed both
 * ways, read and written, kept alive by their handles across collections and freed with them. */
static void test_gc_refs(void) {
  wasm_config_t *config = wasm_config_new();
  kiln_config_gc_heap_limit_set(config, 4 << 20);
  wasm_engine_t *engine = wasm_engine_new_with_config(config);
  wasm_store_t *store = wasm_store_new(engine);
  kiln_error_t *error;

  /* i31s keep 31 bits, read back zero- and sign-extended. */
  wasm_val_t i31;
  CHECK(kiln_anyref_from_i31(store, (uint32_t)-5, &i31) && i31.kind == KILN_ANYREF);
  uint32_t u = 0;
  int32_t s = 0;
  CHECK(kiln_anyref_i31_get(i31.of.ref, &u, &s) && u == 0x7ffffffb && s == -5);
  CHECK(!kiln_anyref_is(i31.of.ref, false) && !kiln_anyref_is(i31.of.ref, true));

  /* A struct type made in C is the module's $pair: wasm casts C's struct to it. */
  kiln_field_type_t fields[3] = {{WASM_I32, true}, {KILN_STORAGE_I8, true}, {KILN_ANYREF, false}};
  kiln_struct_type_t *pair_ty = kiln_struct_type_new(engine, fields, 3);
  CHECK(pair_ty != NULL);
  kiln_field_type_t unknown = {77, false};
  CHECK(kiln_struct_type_new(engine, &unknown, 1) == NULL);
  wasm_module_t *module = compile_wat(store,
      "(module (type $pair (struct (field (mut i32)) (field (mut i8)) (field anyref)))"
      "  (type $bytes (array (mut i8)))"
      "  (global $kept (export \"kept\") (mut anyref) (ref.null any))"
      "  (func (export \"sum\") (param anyref) (result i32) (local $p (ref $pair))"
      "    (local.set $p (ref.cast (ref $pair) (local.get 0)))"
      "    (i32.add (i32.add (struct.get $pair 0 (local.get $p)) (struct.get_u $pair 1 (local.get $p)))"
      "      (i31.get_s (ref.cast (ref i31) (struct.get $pair 2 (local.get $p))))))"
      "  (func (export \"bytes\") (param i32) (result anyref) (array.new $bytes (local.get 0) (i32.const 3)))"
      "  (func (export \"keep\") (param anyref) (global.set $kept (local.get 0)))"
      "  (func (export \"churn\") (param i32) (result i32)"
      "    (loop $l (drop (array.new $bytes (i32.const 0) (i32.const 1000)))"
      "      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))"
      "    (i32.const 0)))");
  wasm_instance_t *instance = instantiate(store, module, NULL);
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  wasm_global_t *kept = wasm_extern_as_global(exports.data[0]);
  wasm_func_t *sum = export_func(&exports, 1), *bytes = export_func(&exports, 2);
  wasm_func_t *keep = export_func(&exports, 3), *churn = export_func(&exports, 4);

  /* {40, 0x1ff truncated to 0xff, i31 -5}: 40 + 255 - 5. */
  wasm_val_t values[3] = {WASM_I32_VAL(40), WASM_I32_VAL(0x1ff), i31};
  wasm_val_t pair, result;
  check_error(kiln_structref_new(store, pair_ty, values, 3, &pair), "kiln_structref_new");
  CHECK(pair.kind == KILN_ANYREF && kiln_anyref_is(pair.of.ref, false));
  check_trap(call1(sum, &pair, &result), "sum");
  CHECK(result.kind == WASM_I32 && result.of.i32 == 290);
  check_error(kiln_structref_field(pair.of.ref, 1, &result), "field 1");
  CHECK(result.kind == WASM_I32 && result.of.i32 == 255);
  wasm_val_t one = WASM_I32_VAL(1);
  check_error(kiln_structref_set_field(pair.of.ref, 0, &one), "set field 0");
  check_trap(call1(sum, &pair, &result), "sum");
  CHECK(result.of.i32 == 251);
  /* Misuse: a field out of bounds, an immutable field, a value of the wrong kind. */
  error = kiln_structref_field(pair.of.ref, 3, &result);
  CHECK(error != NULL);
  kiln_error_delete(error);
  error = kiln_structref_set_field(pair.of.ref, 2, &i31);
  CHECK(error != NULL);
  kiln_error_delete(error);
  wasm_val_t wrong = WASM_I64_VAL(1);
  error = kiln_structref_set_field(pair.of.ref, 0, &wrong);
  CHECK(error != NULL);
  kiln_error_delete(error);
  error = kiln_structref_new(store, pair_ty, values, 2, &result);
  CHECK(error != NULL);
  kiln_error_delete(error);

  /* An array made by wasm, read and written from C. */
  wasm_val_t seven = WASM_I32_VAL(7), arr;
  check_trap(call1(bytes, &seven, &arr), "bytes");
  CHECK(arr.kind == KILN_ANYREF && kiln_anyref_is(arr.of.ref, true));
  uint32_t len = 0;
  check_error(kiln_arrayref_len(arr.of.ref, &len), "len");
  CHECK(len == 3);
  wasm_val_t v300 = WASM_I32_VAL(300);
  check_error(kiln_arrayref_set(arr.of.ref, 1, &v300), "set");
  check_error(kiln_arrayref_get(arr.of.ref, 1, &result), "get");
  CHECK(result.of.i32 == 44); /* 300 & 0xff */
  check_error(kiln_arrayref_get(arr.of.ref, 0, &result), "get");
  CHECK(result.of.i32 == 7);
  error = kiln_arrayref_get(arr.of.ref, 3, &result);
  CHECK(error != NULL);
  kiln_error_delete(error);
  error = kiln_arrayref_len(pair.of.ref, &len);
  CHECK(error != NULL);
  kiln_error_delete(error);

  /* An array made in C: 10,000 of them, each deleted, are collected; the handles C keeps hold
   * their objects across collections started by wasm and by kiln_store_gc. */
  kiln_field_type_t elem = {WASM_I64, true};
  kiln_array_type_t *longs = kiln_array_type_new(engine, &elem);
  CHECK(longs != NULL);
  wasm_val_t fill = WASM_I64_VAL(-2);
  for (int i = 0; i < 10000; i++) {
    wasm_val_t tmp;
    check_error(kiln_arrayref_new(store, longs, &fill, 100, &tmp), "kiln_arrayref_new");
    wasm_val_delete(&tmp);
  }
  wasm_val_t a1000 = WASM_I32_VAL(1000);
  check_trap(call1(churn, &a1000, &result), "churn");
  kiln_store_gc(store);
  check_trap(call1(sum, &pair, &result), "sum after collections");
  CHECK(result.of.i32 == 251);
  check_error(kiln_arrayref_get(arr.of.ref, 0, &result), "get after collections");
  CHECK(result.of.i32 == 7);

  /* Through a global: the value read back is the same object. */
  check_trap(call1(keep, &pair, NULL), "keep");
  wasm_val_delete(&pair);
  kiln_store_gc(store);
  wasm_val_t got;
  wasm_global_get(kept, &got);
  CHECK(got.kind == KILN_ANYREF && got.of.ref != NULL);
  check_error(kiln_structref_field(got.of.ref, 0, &result), "kept field 0");
  CHECK(result.of.i32 == 1);
  wasm_val_delete(&got);

  /* Through a host function: a struct wasm made goes to C and back, 1000 times, while wasm
   * allocates; each round's handles are freed with the callback's vectors. */
  wasm_valtype_t *anyref_param = wasm_valtype_new(KILN_ANYREF), *anyref_result = wasm_valtype_new(KILN_ANYREF);
  wasm_functype_t *id_ty = wasm_functype_new_1_1(anyref_param, anyref_result);
  wasm_func_t *id = wasm_func_new(store, id_ty, anyref_identity);
  wasm_functype_delete(id_ty);
  wasm_module_t *host_module = compile_wat(store,
      "(module (type $pair (struct (field (mut i32)) (field (mut i8)) (field anyref)))"
      "  (import \"\" \"id\" (func $id (param anyref) (result anyref)))"
      "  (func (export \"roundtrip\") (param $n i32) (result i32) (local $s i32)"
      "    (loop $l"
      "      (local.set $s (i32.add (local.get $s) (struct.get $pair 0 (ref.cast (ref $pair)"
      "        (call $id (struct.new $pair (local.get $n) (i32.const 0) (ref.i31 (i32.const 0))))))))"
      "      (drop (array.new_default $bytes_unused (i32.const 0)))"
      "      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))"
      "    (local.get $s))"
      "  (type $bytes_unused (array i8)))");
  wasm_extern_t *host_import_array[1] = {wasm_func_as_extern(id)};
  wasm_extern_vec_t host_imports = WASM_ARRAY_VEC(host_import_array);
  wasm_instance_t *host_instance = instantiate(store, host_module, &host_imports);
  wasm_extern_vec_t host_exports;
  wasm_instance_exports(host_instance, &host_exports);
  wasm_val_t n1000 = WASM_I32_VAL(1000);
  check_trap(call1(export_func(&host_exports, 0), &n1000, &result), "roundtrip");
  CHECK(result.of.i32 == 500500);
  wasm_extern_vec_delete(&host_exports);
  wasm_instance_delete(host_instance);
  wasm_module_delete(host_module);
  wasm_func_delete(id);

  wasm_val_delete(&arr);
  wasm_val_delete(&i31);
  kiln_array_type_delete(longs);
  kiln_struct_type_delete(pair_ty);
  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_module_delete(module);
  wasm_store_delete(store);
  wasm_engine_delete(engine);
}

int main(void) {
  test_config();
  test_errors_and_linker();
  test_wasi_streams();
  test_unchecked_calls();
  test_gc_refs();
  printf("kiln_ext: ok\n");
  return 0;
}
