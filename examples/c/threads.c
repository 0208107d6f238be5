/* threads: one module compiled once, shared with wasm_module_share, and run by several threads,
 * each in its own store. */
#include "common.h"
#include <pthread.h>

#define THREADS 4

static wasm_engine_t *engine;
static wasm_shared_module_t *shared;
static int32_t results_by_thread[THREADS];

static void *run_thread(void *arg) {
  int id = (int)(intptr_t)arg;
  wasm_store_t *store = wasm_store_new(engine);
  wasm_module_t *module = wasm_module_obtain(store, shared);
  CHECK(module != NULL);
  wasm_instance_t *instance = instantiate(store, module, NULL);
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  wasm_val_t a[1] = {WASM_I32_VAL(id)};
  wasm_val_t r[1] = {WASM_INIT_VAL};
  wasm_val_vec_t args = WASM_ARRAY_VEC(a), results = WASM_ARRAY_VEC(r);
  for (int i = 0; i < 100; i++) check_trap(wasm_func_call(export_func(&exports, 0), &args, &results), "square");
  results_by_thread[id] = r[0].of.i32;
  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_module_delete(module);
  wasm_store_delete(store);
  return NULL;
}

int main(void) {
  engine = wasm_engine_new();
  wasm_store_t *store = wasm_store_new(engine);
  wasm_module_t *module = compile_wat(store,
      "(module (func (export \"square\") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0))))");
  shared = wasm_module_share(module);
  CHECK(shared != NULL);
  wasm_module_delete(module);

  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&threads[i], NULL, run_thread, (void *)(intptr_t)i) == 0);
  for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
  for (int i = 0; i < THREADS; i++) CHECK(results_by_thread[i] == i * i);

  /* A shared module cannot be obtained in a store of another engine. */
  wasm_engine_t *other = wasm_engine_new();
  wasm_store_t *other_store = wasm_store_new(other);
  CHECK(wasm_module_obtain(other_store, shared) == NULL);
  wasm_store_delete(other_store);
  wasm_engine_delete(other);

  wasm_shared_module_delete(shared);
  wasm_store_delete(store);
  wasm_engine_delete(engine);
  printf("threads: ok\n");
  return 0;
}
