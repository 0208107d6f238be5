/* component: a component's exported function called from C, with a host function it imports.
 * The component's `greet(name: string) -> string` builds "Hello, <name>", logs it through the
 * host's `log`, and returns it. */
#include "common.h"

static const char GREETER_WAT[] =
    "(component\n"
    "  (import \"example:greeter/host\" (instance $host (export \"log\" (func (param \"msg\" string)))))\n"
    "  (core module $libc\n"
    "    (memory (export \"memory\") 1)\n"
    "    (global $next (mut i32) (i32.const 1024))\n"
    "    (func (export \"realloc\") (param i32 i32 i32 i32) (result i32)\n"
    "      (local $p i32)\n"
    "      (local.set $p (global.get $next))\n"
    "      (global.set $next (i32.add (local.get $p) (local.get 3)))\n"
    "      (local.get $p)))\n"
    "  (core instance $libc (instantiate $libc))\n"
    "  (core func $log (canon lower (func $host \"log\") (memory (core memory $libc \"memory\"))))\n"
    "  (core module $greeter\n"
    "    (import \"libc\" \"memory\" (memory 1))\n"
    "    (import \"libc\" \"realloc\" (func $realloc (param i32 i32 i32 i32) (result i32)))\n"
    "    (import \"host\" \"log\" (func $log (param i32 i32)))\n"
    "    (data (i32.const 0) \"Hello, \")\n"
    "    ;; greet(name) = \"Hello, \" ++ name, logged through the host, returned at 16 as (ptr, len).\n"
    "    (func (export \"greet\") (param $name i32) (param $len i32) (result i32)\n"
    "      (local $out i32)\n"
    "      (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.add (local.get $len) (i32.const 7))))\n"
    "      (memory.copy (local.get $out) (i32.const 0) (i32.const 7))\n"
    "      (memory.copy (i32.add (local.get $out) (i32.const 7)) (local.get $name) (local.get $len))\n"
    "      (call $log (local.get $out) (i32.add (local.get $len) (i32.const 7)))\n"
    "      (i32.store (i32.const 16) (local.get $out))\n"
    "      (i32.store (i32.const 20) (i32.add (local.get $len) (i32.const 7)))\n"
    "      (i32.const 16)))\n"
    "  (core instance $greeter (instantiate $greeter\n"
    "    (with \"libc\" (instance $libc))\n"
    "    (with \"host\" (instance (export \"log\" (func $log))))))\n"
    "  (func (export \"greet\") (param \"name\" string) (result string)\n"
    "    (canon lift (core func $greeter \"greet\") (memory (core memory $libc \"memory\"))\n"
    "      (realloc (core func $libc \"realloc\"))))\n"
    ")\n";

static int logged = 0;

/* The host's `log(msg: string)`: args are borrowed for the call; there is no result. */
static kiln_error_t *host_log(void *env, const kiln_component_val_t *args, size_t nargs, kiln_component_val_t *results,
                              size_t nresults) {
  (void)env;
  (void)results;
  if (nargs != 1 || nresults != 0 || args[0].kind != KILN_COMPONENT_STRING) {
    return kiln_error_new("log: unexpected arguments");
  }
  printf("host log: %.*s\n", (int)args[0].of.string.size, args[0].of.string.data);
  logged++;
  return NULL;
}

int main(void) {
  wasm_engine_t *engine = wasm_engine_new();
  kiln_component_t *component = NULL;
  check_error(kiln_component_new(engine, (const uint8_t *)GREETER_WAT, strlen(GREETER_WAT), &component), "compile");

  kiln_component_linker_t *linker = kiln_component_linker_new(engine);
  const char *iface = "example:greeter/host";
  check_error(kiln_component_linker_define_func(linker, iface, strlen(iface), "log", 3, host_log, NULL, NULL), "define");

  wasm_store_t *store = wasm_store_new(engine);
  kiln_component_instance_t *instance = NULL;
  wasm_trap_t *trap = NULL;
  check_error(kiln_component_linker_instantiate(linker, store, component, &instance, &trap), "instantiate");
  check_trap(trap, "instantiate");

  kiln_component_func_t *greet = NULL;
  check_error(kiln_component_instance_get_func(store, instance, NULL, 0, "greet", 5, &greet), "get greet");

  /* Arguments are borrowed: a string pointing at a literal is fine. */
  kiln_component_val_t arg = {.kind = KILN_COMPONENT_STRING, .of.string = {1, (wasm_byte_t *)"C"}};
  kiln_component_val_t result;
  check_error(kiln_component_func_call(store, greet, &arg, 1, &result, 1, &trap), "call greet");
  check_trap(trap, "greet");
  CHECK(result.kind == KILN_COMPONENT_STRING);
  printf("greet returned: %.*s\n", (int)result.of.string.size, result.of.string.data);
  CHECK(result.of.string.size == 8 && memcmp(result.of.string.data, "Hello, C", 8) == 0);
  CHECK(logged == 1);
  kiln_component_val_delete(&result);

  kiln_component_func_delete(greet);
  kiln_component_instance_delete(instance);
  wasm_store_delete(store);
  kiln_component_linker_delete(linker);
  kiln_component_delete(component);
  wasm_engine_delete(engine);
  printf("component: ok\n");
  return 0;
}
