/* wasi: a WASI preview 1 program (hand-written in the text format) gets arguments, writes to
 * stdout (captured into a file, then in memory) and exits with a status. */
#include "common.h"

int main(void) {
  const char *wat =
      "(module"
      "  (import \"wasi_snapshot_preview1\" \"fd_write\" (func $fd_write (param i32 i32 i32 i32) (result i32)))"
      "  (import \"wasi_snapshot_preview1\" \"args_sizes_get\" (func $args_sizes (param i32 i32) (result i32)))"
      "  (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $exit (param i32)))"
      "  (memory (export \"memory\") 1)"
      "  (data (i32.const 100) \"hello from wasi\\n\")"
      "  (func (export \"_start\")"
      "    (i32.store (i32.const 0) (i32.const 100))"
      "    (i32.store (i32.const 4) (i32.const 16))"
      "    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))"
      "    (drop (call $args_sizes (i32.const 16) (i32.const 20)))"
      "    (call $exit (i32.load (i32.const 16)))))";
  const char *out_path = "kiln-c-example-wasi-stdout.txt";

  wasm_engine_t *engine = wasm_engine_new();
  wasm_store_t *store = wasm_store_new(engine);
  wasi_config_t *wasi = wasi_config_new();
  const char *argv[] = {"prog", "a", "b"};
  CHECK(wasi_config_set_argv(wasi, 3, argv));
  const char *names[] = {"GREETING"}, *values[] = {"hi"};
  CHECK(wasi_config_set_env(wasi, 1, names, values));
  CHECK(wasi_config_set_stdout_file(wasi, out_path));
  wasi_config_inherit_stderr(wasi);
  CHECK(!wasi_config_preopen_dir(wasi, "/nonexistent/kiln/dir", "/data"));
  CHECK(wasi_config_preopen_dir(wasi, ".", "/data"));
  check_error(kiln_store_set_wasi(store, wasi), "set wasi");

  kiln_linker_t *linker = kiln_linker_new(engine);
  check_error(kiln_linker_define_wasi(linker), "define wasi");
  wasm_module_t *module = NULL;
  check_error(kiln_module_new(engine, (const uint8_t *)wat, strlen(wat), &module), "compile");
  wasm_instance_t *instance = NULL;
  wasm_trap_t *trap = NULL;
  check_error(kiln_linker_instantiate(linker, store, module, &instance, &trap), "instantiate");
  check_trap(trap, "instantiate");

  wasm_extern_vec_t exports;
  wasm_instance_exports(instance, &exports);
  wasm_val_vec_t none = WASM_EMPTY_VEC, none2 = WASM_EMPTY_VEC;
  trap = wasm_func_call(export_func(&exports, 1), &none, &none2);
  CHECK(trap != NULL);
  int status = -1;
  CHECK(kiln_trap_exit_status(trap, &status));
  printf("exit status: %d\n", status);
  CHECK(status == 3); /* argc */
  wasm_trap_delete(trap);

  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_module_delete(module);
  kiln_linker_delete(linker);
  wasm_store_delete(store); /* closes the captured stdout */
  wasm_engine_delete(engine);

  /* The same program with stdout captured in memory. */
  engine = wasm_engine_new();
  store = wasm_store_new(engine);
  wasi = wasi_config_new();
  wasi_config_capture_stdout(wasi);
  check_error(kiln_store_set_wasi(store, wasi), "set wasi");
  linker = kiln_linker_new(engine);
  check_error(kiln_linker_define_wasi(linker), "define wasi");
  check_error(kiln_module_new(engine, (const uint8_t *)wat, strlen(wat), &module), "compile");
  check_error(kiln_linker_instantiate(linker, store, module, &instance, &trap), "instantiate");
  wasm_instance_exports(instance, &exports);
  trap = wasm_func_call(export_func(&exports, 1), &none, &none2);
  CHECK(trap != NULL && kiln_trap_exit_status(trap, &status) && status == 0);
  wasm_trap_delete(trap);
  wasm_byte_vec_t captured;
  CHECK(kiln_store_wasi_stdout(store, &captured));
  CHECK(captured.size == 16 && memcmp(captured.data, "hello from wasi\n", 16) == 0);
  wasm_byte_vec_delete(&captured);
  CHECK(!kiln_store_wasi_stderr(store, &captured)); /* not captured */
  printf("captured in memory: %zu bytes\n", (size_t)16);
  wasm_extern_vec_delete(&exports);
  wasm_instance_delete(instance);
  wasm_module_delete(module);
  kiln_linker_delete(linker);
  wasm_store_delete(store);
  wasm_engine_delete(engine);

  FILE *f = fopen(out_path, "r");
  CHECK(f != NULL);
  char line[64] = {0};
  CHECK(fgets(line, sizeof line, f) != NULL);
  fclose(f);
  remove(out_path);
  printf("captured stdout: %s", line);
  CHECK(strcmp(line, "hello from wasi\n") == 0);
  printf("wasi: ok\n");
  return 0;
}
