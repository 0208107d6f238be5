/* epoch: an endless loop interrupted by another thread advancing the engine's epoch. */
#include "common.h"
#include <pthread.h>
#include <unistd.h>

static wasm_engine_t *engine;

static void *ticker(void *arg) {
  (void)arg;
  usleep(50 * 1000);
  kiln_engine_increment_epoch(engine);
  return NULL;
}

int main(void) {
  wasm_config_t *config = wasm_config_new();
  kiln_config_epoch_interruption_set(config, true);
  engine = wasm_engine_new_with_config(config);
  wasm_store_t *store = wasm_store_new(engine);
  wasm_module_t *module = compile_wat(store, "(module (func (export \"spin\") (loop $l (br $l))))");
  wasm_instance_t *instance = instantiate(store, module, NULL);
  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);

  kiln_store_set_epoch_deadline(store, 1);
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, ticker, NULL) == 0);
  wasm_val_vec_t none = WASM_EMPTY_VEC, none2 = WASM_EMPTY_VEC;
  wasm_trap_t *trap = wasm_func_call(export_func(&exports, 0), &none, &none2);
  pthread_join(thread, NULL);
  CHECK(trap != NULL);
  kiln_trap_code_t code;
  CHECK(kiln_trap_code(trap, &code) && code == KILN_TRAP_INTERRUPT);
  wasm_message_t msg;
  wasm_trap_message(trap, &msg);
  printf("interrupted: %s\n", msg.data);
  wasm_byte_vec_delete(&msg);
  wasm_trap_delete(trap);

  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_module_delete(module);
  wasm_store_delete(store);
  wasm_engine_delete(engine);
  printf("epoch: ok\n");
  return 0;
}
