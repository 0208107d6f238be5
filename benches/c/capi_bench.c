/* The C API benchmark of scripts/bench-capi: the same program built against kiln's libkiln and
 * against the reference runtime's libwasmtime (both implement the standard wasm.h). It times
 * host -> wasm calls through wasm_func_call, wasm -> host calls through a wasm_func_new callback
 * and, built with -DBENCH_KILN, host -> wasm calls through kiln_func_call_unchecked. Each line
 * printed is "<case> <best ns per call over the rounds>". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef BENCH_KILN
#include <kiln.h>
#else
#include <wasm.h>
#endif

enum { CALLS = 1000000, ROUNDS = 7 };

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void fail(const char *what) {
  fprintf(stderr, "capi_bench: %s\n", what);
  exit(1);
}

static wasm_trap_t *inc(const wasm_val_vec_t *args, wasm_val_vec_t *results) {
  results->data[0].kind = WASM_I32;
  results->data[0].of.i32 = args->data[0].of.i32 + 1;
  return NULL;
}

static void report(const char *name, double best_ns) { printf("%s %.2f\n", name, best_ns / CALLS); }

int main(int argc, char **argv) {
  if (argc != 2) fail("usage: capi_bench MODULE.wasm");
  FILE *file = fopen(argv[1], "rb");
  if (!file) fail("cannot open the module");
  fseek(file, 0, SEEK_END);
  long size = ftell(file);
  fseek(file, 0, SEEK_SET);
  wasm_byte_vec_t binary;
  wasm_byte_vec_new_uninitialized(&binary, (size_t)size);
  if (fread(binary.data, 1, (size_t)size, file) != (size_t)size) fail("cannot read the module");
  fclose(file);

  wasm_engine_t *engine = wasm_engine_new();
  wasm_store_t *store = wasm_store_new(engine);
  wasm_module_t *module = wasm_module_new(store, &binary);
  wasm_byte_vec_delete(&binary);
  if (!module) fail("cannot compile the module");

  wasm_functype_t *inc_type = wasm_functype_new_1_1(wasm_valtype_new_i32(), wasm_valtype_new_i32());
  wasm_func_t *inc_func = wasm_func_new(store, inc_type, inc);
  wasm_functype_delete(inc_type);
  wasm_extern_t *imports_data[] = {wasm_func_as_extern(inc_func)};
  wasm_extern_vec_t imports = WASM_ARRAY_VEC(imports_data);
  wasm_trap_t *trap = NULL;
  wasm_instance_t *instance = wasm_instance_new(store, module, &imports, &trap);
  if (!instance || trap) fail("cannot instantiate the module");
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  if (exports.size != 2) fail("expected two exports");
  const wasm_func_t *add1 = wasm_extern_as_func(exports.data[0]);
  const wasm_func_t *call_host = wasm_extern_as_func(exports.data[1]);

  double best_call = 1e300, best_host = 1e300;
#ifdef BENCH_KILN
  double best_unchecked = 1e300;
#endif
  for (int round = 0; round < ROUNDS; round++) {
    double start = now_ns();
    for (int i = 0; i < CALLS; i++) {
      wasm_val_t args_data[1] = {WASM_I32_VAL(i)};
      wasm_val_t results_data[1] = {WASM_INIT_VAL};
      wasm_val_vec_t args = WASM_ARRAY_VEC(args_data);
      wasm_val_vec_t results = WASM_ARRAY_VEC(results_data);
      wasm_trap_t *t = wasm_func_call(add1, &args, &results);
      if (t || results_data[0].of.i32 != i + 1) fail("wasm_func_call gave a wrong result");
    }
    double elapsed = now_ns() - start;
    if (elapsed < best_call) best_call = elapsed;

    start = now_ns();
    wasm_val_t args_data[1] = {WASM_I32_VAL(CALLS)};
    wasm_val_t results_data[1] = {WASM_INIT_VAL};
    wasm_val_vec_t args = WASM_ARRAY_VEC(args_data);
    wasm_val_vec_t results = WASM_ARRAY_VEC(results_data);
    wasm_trap_t *t = wasm_func_call(call_host, &args, &results);
    if (t || results_data[0].of.i32 != CALLS) fail("call_host gave a wrong result");
    elapsed = now_ns() - start;
    if (elapsed < best_host) best_host = elapsed;

#ifdef BENCH_KILN
    start = now_ns();
    for (int i = 0; i < CALLS; i++) {
      kiln_val_raw_t raw[1];
      raw[0].i64 = 0;
      raw[0].i32 = i;
      wasm_trap_t *t2 = NULL;
      kiln_error_t *error = kiln_func_call_unchecked(add1, raw, 1, &t2);
      if (error || t2 || raw[0].i32 != i + 1) fail("kiln_func_call_unchecked gave a wrong result");
    }
    elapsed = now_ns() - start;
    if (elapsed < best_unchecked) best_unchecked = elapsed;
#endif
  }
  report("call", best_call);
  report("host", best_host);
#ifdef BENCH_KILN
  report("unchecked", best_unchecked);
#endif

  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_func_delete(inc_func);
  wasm_module_delete(module);
  wasm_store_delete(store);
  wasm_engine_delete(engine);
  return 0;
}
