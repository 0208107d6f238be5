/* component_api: kiln/component.h from C. A component whose export passes a record holding
 * every kind of value through a host function (lowered, then lifted: the values cross the
 * Canonical ABI twice), a component with a resource, traps, the errors C misuse gets,
 * serialization, and (given a WASI 0.2 command component as argv[1]) WASI 0.2. */
#define _GNU_SOURCE
#include "common.h"

static const char ECHO_WAT[] =
    "(component\n"
    "  (import \"example:demo/host\" (instance $host\n"
    "    (type $perms' (flags \"read\" \"write\" \"exec\"))\n"
    "    (export \"perms\" (type $perms (eq $perms')))\n"
    "    (type $color' (enum \"red\" \"green\" \"blue\"))\n"
    "    (export \"color\" (type $color (eq $color')))\n"
    "    (type $shape' (variant (case \"circle\" f32) (case \"square\" u32) (case \"none\")))\n"
    "    (export \"shape\" (type $shape (eq $shape')))\n"
    "    (type $everything' (record\n"
    "      (field \"b\" bool) (field \"small\" s8) (field \"half\" u16) (field \"big\" s64)\n"
    "      (field \"single\" f32) (field \"double\" f64) (field \"c\" char) (field \"name\" string)\n"
    "      (field \"tags\" (list string)) (field \"pair\" (tuple s32 u64)) (field \"color\" $color)\n"
    "      (field \"shape\" $shape) (field \"maybe\" (option u32)) (field \"outcome\" (result string (error u8)))\n"
    "      (field \"perms\" $perms)))\n"
    "    (export \"everything\" (type $everything (eq $everything')))\n"
    "    (export \"echo\" (func (param \"v\" $everything) (result $everything)))\n"
    "    (export \"log\" (func (param \"msg\" string)))\n"
    "  ))\n"
    "  (alias export $host \"everything\" (type $everything))\n"
    "  (core module $libc\n"
    "    (memory (export \"memory\") 1)\n"
    "    (global $next (mut i32) (i32.const 4096))\n"
    "    (func (export \"realloc\") (param i32 i32 i32 i32) (result i32)\n"
    "      (local $p i32)\n"
    "      (local.set $p (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))\n"
    "                             (i32.sub (i32.const 0) (local.get 2))))\n"
    "      (global.set $next (i32.add (local.get $p) (local.get 3)))\n"
    "      (local.get $p)))\n"
    "  (core instance $libc (instantiate $libc))\n"
    "  (core func $echo (canon lower (func $host \"echo\") (memory (core memory $libc \"memory\")) (realloc (core func $libc \"realloc\"))))\n"
    "  (core func $log (canon lower (func $host \"log\") (memory (core memory $libc \"memory\"))))\n"
    "  (core module $main\n"
    "    (import \"libc\" \"memory\" (memory 1))\n"
    "    (import \"host\" \"echo\" (func $echo (param i32 i32)))\n"
    "    (import \"host\" \"log\" (func $log (param i32 i32)))\n"
    "    (data (i32.const 16) \"echo called\")\n"
    "    ;; Passes the value on to the host's echo and returns what it answered (at 1024).\n"
    "    (func (export \"echo\") (param $v i32) (result i32)\n"
    "      (call $log (i32.const 16) (i32.const 11))\n"
    "      (call $echo (local.get $v) (i32.const 1024))\n"
    "      (i32.const 1024)))\n"
    "  (core instance $main (instantiate $main\n"
    "    (with \"libc\" (instance $libc))\n"
    "    (with \"host\" (instance (export \"echo\" (func $echo)) (export \"log\" (func $log))))))\n"
    "  (func (export \"echo\") (param \"v\" $everything) (result $everything)\n"
    "    (canon lift (core func $main \"echo\") (memory (core memory $libc \"memory\")) (realloc (core func $libc \"realloc\"))))\n"
    ")\n";

static const char RESOURCE_WAT[] =
    "(component\n"
    "  (import \"example:demo/host\" (instance $host (export \"log\" (func (param \"msg\" string)))))\n"
    "  (core module $libc (memory (export \"memory\") 1))\n"
    "  (core instance $libc (instantiate $libc))\n"
    "  (core func $log (canon lower (func $host \"log\") (memory (core memory $libc \"memory\"))))\n"
    "  (core module $dtor_m\n"
    "    (import \"host\" \"log\" (func $log (param i32 i32)))\n"
    "    (import \"libc\" \"memory\" (memory 1))\n"
    "    (data (i32.const 32) \"counter dropped\")\n"
    "    (func (export \"dtor\") (param i32) (call $log (i32.const 32) (i32.const 15))))\n"
    "  (core instance $dtor_i (instantiate $dtor_m\n"
    "    (with \"host\" (instance (export \"log\" (func $log))))\n"
    "    (with \"libc\" (instance $libc))))\n"
    "  (type $counter (resource (rep i32) (dtor (core func $dtor_i \"dtor\"))))\n"
    "  (core func $new (canon resource.new $counter))\n"
    "  (core module $m\n"
    "    (import \"r\" \"new\" (func $new (param i32) (result i32)))\n"
    "    (func (export \"make\") (param i32) (result i32) (call $new (local.get 0)))\n"
    "    (func (export \"get\") (param i32) (result i32) (local.get 0))\n"
    "    (func (export \"fail\") unreachable))\n"
    "  (core instance $i (instantiate $m (with \"r\" (instance (export \"new\" (func $new))))))\n"
    "  (export $c \"counter\" (type $counter))\n"
    "  (func (export \"[constructor]counter\") (param \"start\" u32) (result (own $c)) (canon lift (core func $i \"make\")))\n"
    "  (func (export \"[method]counter.get\") (param \"self\" (borrow $c)) (result u32) (canon lift (core func $i \"get\")))\n"
    "  (func (export \"fail\") (canon lift (core func $i \"fail\")))\n"
    ")\n";

static const char HOST_RESOURCE_WAT[] =
    "(component\n"
    "  (import \"example:demo/files\" (instance $files\n"
    "    (export \"file\" (type $file (sub resource)))\n"
    "    (export \"[method]file.size\" (func (param \"self\" (borrow $file)) (result u32)))))\n"
    "  (alias export $files \"file\" (type $file))\n"
    "  (core func $size (canon lower (func $files \"[method]file.size\")))\n"
    "  (core func $drop (canon resource.drop $file))\n"
    "  (core module $m\n"
    "    (import \"\" \"size\" (func $size (param i32) (result i32)))\n"
    "    (import \"\" \"drop\" (func $drop (param i32)))\n"
    "    ;; measure(f: own<file>): its size through a borrow, then the handle dropped.\n"
    "    (func (export \"measure\") (param i32) (result i32)\n"
    "      (local $n i32)\n"
    "      (local.set $n (call $size (local.get 0)))\n"
    "      (call $drop (local.get 0))\n"
    "      (local.get $n)))\n"
    "  (core instance $i (instantiate $m\n"
    "    (with \"\" (instance (export \"size\" (func $size)) (export \"drop\" (func $drop))))))\n"
    "  (func (export \"measure\") (param \"f\" (own $file)) (result u32) (canon lift (core func $i \"measure\")))\n"
    ")\n";

static int echo_calls = 0;
static int log_calls = 0;
static char last_log[64];

static kiln_component_t *compile_component(wasm_engine_t *engine, const char *wat) {
  kiln_component_t *component = NULL;
  check_error(kiln_component_new(engine, (const uint8_t *)wat, strlen(wat), &component), "compile component");
  return component;
}

/* The message of an error (freed), for comparisons. */
static void error_text(kiln_error_t *error, char *buf, size_t size) {
  CHECK(error != NULL);
  wasm_name_t msg;
  kiln_error_message(error, &msg);
  snprintf(buf, size, "%.*s", (int)msg.size, msg.data);
  wasm_name_delete(&msg);
  kiln_error_delete(error);
}

/* The message of a call that must fail, by error or by trap (both freed). */
static void failure_text(kiln_error_t *error, wasm_trap_t *trap, char *buf, size_t size) {
  CHECK(error != NULL || trap != NULL);
  if (error) {
    if (trap) wasm_trap_delete(trap);
    error_text(error, buf, size);
    return;
  }
  wasm_message_t msg;
  wasm_trap_message(trap, &msg);
  snprintf(buf, size, "%s", msg.data);
  wasm_byte_vec_delete(&msg);
  wasm_trap_delete(trap);
}

/* Runs a call that must fail (it sets `trap` or returns an error); its message into `buf`. */
#define EXPECT_FAILURE(call, buf)                   \
  do {                                              \
    kiln_error_t *failure_ = (call);                \
    failure_text(failure_, trap, buf, sizeof buf);  \
  } while (0)

static bool name_is(const wasm_name_t *name, const char *s) {
  return name->size == strlen(s) && memcmp(name->data, s, name->size) == 0;
}

static const kiln_component_val_t *field(const kiln_component_val_t *record, const char *name) {
  CHECK(record->kind == KILN_COMPONENT_RECORD);
  for (size_t i = 0; i < record->of.record.size; i++) {
    if (name_is(&record->of.record.data[i].name, name)) return &record->of.record.data[i].val;
  }
  fprintf(stderr, "no field %s\n", name);
  exit(1);
}

/* Host echo: answers a kiln-allocated copy of its argument, with `big` incremented. */
static kiln_error_t *host_echo(void *env, const kiln_component_val_t *args, size_t nargs, kiln_component_val_t *results,
                               size_t nresults) {
  CHECK(env == (void *)&echo_calls);
  CHECK(nargs == 1 && nresults == 1);
  echo_calls++;
  kiln_component_val_copy(&results[0], &args[0]);
  for (size_t i = 0; i < results[0].of.record.size; i++) {
    kiln_component_field_t *f = &results[0].of.record.data[i];
    if (name_is(&f->name, "big")) f->val.of.s64 += 1;
  }
  return NULL;
}

static kiln_error_t *host_log(void *env, const kiln_component_val_t *args, size_t nargs, kiln_component_val_t *results,
                              size_t nresults) {
  (void)env;
  (void)results;
  CHECK(nargs == 1 && nresults == 0 && args[0].kind == KILN_COMPONENT_STRING);
  log_calls++;
  snprintf(last_log, sizeof last_log, "%.*s", (int)args[0].of.string.size, args[0].of.string.data);
  return NULL;
}

static kiln_error_t *host_refuse(void *env, const kiln_component_val_t *args, size_t nargs,
                                 kiln_component_val_t *results, size_t nresults) {
  (void)env;
  (void)args;
  (void)nargs;
  (void)results;
  (void)nresults;
  return kiln_error_new("the host refuses");
}

/* A host function that writes a result of the wrong type (a string for a record). */
static kiln_error_t *host_wrong_result(void *env, const kiln_component_val_t *args, size_t nargs,
                                       kiln_component_val_t *results, size_t nresults) {
  (void)env;
  (void)args;
  (void)nargs;
  CHECK(nresults == 1);
  results[0].kind = KILN_COMPONENT_STRING;
  wasm_name_new_from_string(&results[0].of.string, "not a record");
  return NULL;
}

static int finalized = 0;
static void finalize(void *env) {
  CHECK(env == (void *)&finalized);
  finalized++;
}

#define SCALAR(k, member, value) ((kiln_component_val_t){.kind = (k), .of.member = (value)})
#define STR(s) ((wasm_name_t){strlen(s), (wasm_byte_t *)(s)})

/* The argument: borrowed, built on the stack from static strings. */
static void check_echo(wasm_engine_t *engine, kiln_component_t *component) {
  kiln_component_linker_t *linker = kiln_component_linker_new(engine);
  const char *iface = "example:demo/host";
  check_error(kiln_component_linker_define_func(linker, iface, strlen(iface), "echo", 4, host_echo, &echo_calls, NULL),
              "define echo");
  check_error(kiln_component_linker_define_func(linker, iface, strlen(iface), "log", 3, host_log, NULL, NULL),
              "define log");
  /* Defining a name twice is an error unless shadowing is allowed. */
  char msg[256];
  error_text(kiln_component_linker_define_func(linker, iface, strlen(iface), "log", 3, host_log, NULL, NULL), msg,
             sizeof msg);
  CHECK(strstr(msg, "defined twice") != NULL);

  wasm_store_t *store = wasm_store_new(engine);
  kiln_component_instance_t *instance = NULL;
  wasm_trap_t *trap = NULL;
  check_error(kiln_component_linker_instantiate(linker, store, component, &instance, &trap), "instantiate");
  CHECK(instance != NULL && trap == NULL);

  kiln_component_func_t *echo = NULL;
  check_error(kiln_component_instance_get_func(store, instance, NULL, 0, "echo", 4, &echo), "get echo");
  size_t nparams = 0, nresults = 0;
  kiln_component_func_arity(store, echo, &nparams, &nresults);
  CHECK(nparams == 1 && nresults == 1);

  kiln_component_val_t tag_items[] = {
      {.kind = KILN_COMPONENT_STRING, .of.string = STR("alpha")},
      {.kind = KILN_COMPONENT_STRING, .of.string = STR("βeta")},
  };
  kiln_component_val_t pair_items[] = {SCALAR(KILN_COMPONENT_S32, s32, -7),
                                       SCALAR(KILN_COMPONENT_U64, u64, 18446744073709551615ull)};
  kiln_component_val_t circle = SCALAR(KILN_COMPONENT_F32, f32, 2.5f);
  kiln_component_val_t maybe = SCALAR(KILN_COMPONENT_U32, u32, 99);
  kiln_component_val_t error_code = SCALAR(KILN_COMPONENT_U8, u8, 42);
  wasm_name_t perms[] = {STR("read"), STR("exec")};
  kiln_component_field_t fields[] = {
      {STR("b"), SCALAR(KILN_COMPONENT_BOOL, boolean, true)},
      {STR("small"), SCALAR(KILN_COMPONENT_S8, s8, -128)},
      {STR("half"), SCALAR(KILN_COMPONENT_U16, u16, 65535)},
      {STR("big"), SCALAR(KILN_COMPONENT_S64, s64, -5000000000ll)},
      {STR("single"), SCALAR(KILN_COMPONENT_F32, f32, 1.5f)},
      {STR("double"), SCALAR(KILN_COMPONENT_F64, f64, -0.25)},
      {STR("c"), SCALAR(KILN_COMPONENT_CHAR, character, 0x1F980)},
      {STR("name"), {.kind = KILN_COMPONENT_STRING, .of.string = STR("kiln")}},
      {STR("tags"), {.kind = KILN_COMPONENT_LIST, .of.list = {2, tag_items}}},
      {STR("pair"), {.kind = KILN_COMPONENT_TUPLE, .of.list = {2, pair_items}}},
      {STR("color"), {.kind = KILN_COMPONENT_ENUM, .of.enumeration = STR("blue")}},
      {STR("shape"), {.kind = KILN_COMPONENT_VARIANT, .of.variant = {STR("circle"), &circle}}},
      {STR("maybe"), {.kind = KILN_COMPONENT_OPTION, .of.option = &maybe}},
      {STR("outcome"), {.kind = KILN_COMPONENT_RESULT, .of.result = {false, &error_code}}},
      {STR("perms"), {.kind = KILN_COMPONENT_FLAGS, .of.flags = {2, perms}}},
  };
  kiln_component_val_t arg = {.kind = KILN_COMPONENT_RECORD, .of.record = {sizeof fields / sizeof fields[0], fields}};
  kiln_component_val_t result;
  check_error(kiln_component_func_call(store, echo, &arg, 1, &result, 1, &trap), "call echo");
  CHECK(trap == NULL);
  CHECK(echo_calls == 1 && log_calls == 1 && strcmp(last_log, "echo called") == 0);

  CHECK(field(&result, "b")->of.boolean == true);
  CHECK(field(&result, "small")->of.s8 == -128);
  CHECK(field(&result, "half")->of.u16 == 65535);
  CHECK(field(&result, "big")->kind == KILN_COMPONENT_S64 && field(&result, "big")->of.s64 == -4999999999ll);
  CHECK(field(&result, "single")->of.f32 == 1.5f);
  CHECK(field(&result, "double")->of.f64 == -0.25);
  CHECK(field(&result, "c")->kind == KILN_COMPONENT_CHAR && field(&result, "c")->of.character == 0x1F980);
  CHECK(name_is(&field(&result, "name")->of.string, "kiln"));
  const kiln_component_val_t *tags = field(&result, "tags");
  CHECK(tags->kind == KILN_COMPONENT_LIST && tags->of.list.size == 2);
  CHECK(name_is(&tags->of.list.data[1].of.string, "βeta"));
  const kiln_component_val_t *pair = field(&result, "pair");
  CHECK(pair->kind == KILN_COMPONENT_TUPLE && pair->of.list.data[0].of.s32 == -7);
  CHECK(pair->of.list.data[1].of.u64 == 18446744073709551615ull);
  CHECK(name_is(&field(&result, "color")->of.enumeration, "blue"));
  const kiln_component_val_t *shape = field(&result, "shape");
  CHECK(shape->kind == KILN_COMPONENT_VARIANT && name_is(&shape->of.variant.name, "circle"));
  CHECK(shape->of.variant.payload && shape->of.variant.payload->of.f32 == 2.5f);
  CHECK(field(&result, "maybe")->of.option && field(&result, "maybe")->of.option->of.u32 == 99);
  const kiln_component_val_t *outcome = field(&result, "outcome");
  CHECK(outcome->kind == KILN_COMPONENT_RESULT && !outcome->of.result.is_ok);
  CHECK(outcome->of.result.payload->kind == KILN_COMPONENT_U8 && outcome->of.result.payload->of.u8 == 42);
  const kiln_component_val_t *flags = field(&result, "perms");
  CHECK(flags->kind == KILN_COMPONENT_FLAGS && flags->of.flags.size == 2);
  CHECK(name_is(&flags->of.flags.data[0], "read") && name_is(&flags->of.flags.data[1], "exec"));

  /* A deep copy outlives the original. */
  kiln_component_val_t copy;
  kiln_component_val_copy(&copy, &result);
  kiln_component_val_delete(&result);
  CHECK(name_is(&field(&copy, "name")->of.string, "kiln"));

  /* The other cases: none, ok with a payload, a variant case without one, no flags. */
  fields[11].val = (kiln_component_val_t){.kind = KILN_COMPONENT_VARIANT, .of.variant = {STR("none"), NULL}};
  fields[12].val = (kiln_component_val_t){.kind = KILN_COMPONENT_OPTION, .of.option = NULL};
  kiln_component_val_t ok_text = {.kind = KILN_COMPONENT_STRING, .of.string = STR("fine")};
  fields[13].val = (kiln_component_val_t){.kind = KILN_COMPONENT_RESULT, .of.result = {true, &ok_text}};
  fields[14].val = (kiln_component_val_t){.kind = KILN_COMPONENT_FLAGS, .of.flags = {0, NULL}};
  check_error(kiln_component_func_call(store, echo, &arg, 1, &result, 1, &trap), "call echo again");
  CHECK(field(&result, "shape")->of.variant.payload == NULL);
  CHECK(field(&result, "maybe")->of.option == NULL);
  CHECK(field(&result, "outcome")->of.result.is_ok);
  CHECK(name_is(&field(&result, "outcome")->of.result.payload->of.string, "fine"));
  CHECK(field(&result, "perms")->of.flags.size == 0);
  kiln_component_val_delete(&result);

  /* Values that do not fit the type are errors naming the argument, before any call. */
  kiln_component_val_t bad = {.kind = KILN_COMPONENT_STRING, .of.string = STR("not a record")};
  error_text(kiln_component_func_call(store, echo, &bad, 1, &result, 1, &trap), msg, sizeof msg);
  CHECK(strstr(msg, "`v`") != NULL);
  fields[6].val = SCALAR(KILN_COMPONENT_CHAR, character, 0xD800);
  error_text(kiln_component_func_call(store, echo, &arg, 1, &result, 1, &trap), msg, sizeof msg);
  CHECK(strstr(msg, "0xd800") != NULL);
  fields[6].val = SCALAR(KILN_COMPONENT_CHAR, character, 'k');
  fields[10].val = (kiln_component_val_t){.kind = KILN_COMPONENT_ENUM, .of.enumeration = STR("purple")};
  error_text(kiln_component_func_call(store, echo, &arg, 1, &result, 1, &trap), msg, sizeof msg);
  CHECK(strstr(msg, "purple") != NULL);
  fields[10].val = (kiln_component_val_t){.kind = KILN_COMPONENT_ENUM, .of.enumeration = STR("red")};
  error_text(kiln_component_func_call(store, echo, &arg, 0, &result, 1, &trap), msg, sizeof msg);
  CHECK(strstr(msg, "expected 1 arguments, got 0") != NULL);
  error_text(kiln_component_func_call(store, echo, &arg, 1, NULL, 0, &trap), msg, sizeof msg);
  CHECK(strstr(msg, "1 results") != NULL);
  kiln_component_val_t unknown = {.kind = 200, .of.u32 = 0};
  error_text(kiln_component_func_call(store, echo, &unknown, 1, &result, 1, &trap), msg, sizeof msg);
  CHECK(strstr(msg, "unknown component value kind 200") != NULL);
  /* Still callable after all that. */
  check_error(kiln_component_func_call(store, echo, &arg, 1, &result, 1, &trap), "call echo after errors");
  CHECK(name_is(&field(&result, "color")->of.enumeration, "red"));
  kiln_component_val_delete(&result);

  /* Lookups that fail say why. */
  kiln_component_func_t *missing = NULL;
  error_text(kiln_component_instance_get_func(store, instance, NULL, 0, "nope", 4, &missing), msg, sizeof msg);
  CHECK(strstr(msg, "no export named `nope`") != NULL && missing == NULL);
  error_text(kiln_component_instance_get_func(store, instance, "iface", 5, "echo", 4, &missing), msg, sizeof msg);
  CHECK(strstr(msg, "no exported instance named `iface`") != NULL);

  kiln_component_func_delete(echo);
  kiln_component_instance_delete(instance);
  wasm_store_delete(store);
  kiln_component_linker_delete(linker);
  kiln_component_val_delete(&copy);
  printf("echo: every kind of value crossed (%d host calls)\n", echo_calls);
}

/* A host function that fails traps the call with its message; a result of the wrong type is
 * an error too; a missing import fails instantiation. */
static void check_host_failures(wasm_engine_t *engine, kiln_component_t *component) {
  const char *iface = "example:demo/host";
  char msg[512];
  kiln_component_linker_t *linker = kiln_component_linker_new(engine);
  check_error(kiln_component_linker_define_func(linker, iface, strlen(iface), "log", 3, host_log, NULL, NULL),
              "define log");
  wasm_store_t *store = wasm_store_new(engine);
  kiln_component_instance_t *instance = NULL;
  wasm_trap_t *trap = NULL;
  error_text(kiln_component_linker_instantiate(linker, store, component, &instance, &trap), msg, sizeof msg);
  CHECK(strstr(msg, "echo") != NULL && instance == NULL);

  check_error(kiln_component_linker_define_func(linker, iface, strlen(iface), "echo", 4, host_refuse, &finalized,
                                                finalize),
              "define echo");
  check_error(kiln_component_linker_instantiate(linker, store, component, &instance, &trap), "instantiate");
  kiln_component_func_t *echo = NULL;
  check_error(kiln_component_instance_get_func(store, instance, NULL, 0, "echo", 4, &echo), "get echo");
  kiln_component_val_t tags[1] = {{.kind = KILN_COMPONENT_STRING, .of.string = STR("x")}};
  kiln_component_val_t pair[2] = {SCALAR(KILN_COMPONENT_S32, s32, 0), SCALAR(KILN_COMPONENT_U64, u64, 0)};
  kiln_component_field_t fields[] = {
      {STR("b"), SCALAR(KILN_COMPONENT_BOOL, boolean, false)},
      {STR("small"), SCALAR(KILN_COMPONENT_S8, s8, 0)},
      {STR("half"), SCALAR(KILN_COMPONENT_U16, u16, 0)},
      {STR("big"), SCALAR(KILN_COMPONENT_S64, s64, 0)},
      {STR("single"), SCALAR(KILN_COMPONENT_F32, f32, 0)},
      {STR("double"), SCALAR(KILN_COMPONENT_F64, f64, 0)},
      {STR("c"), SCALAR(KILN_COMPONENT_CHAR, character, 'a')},
      {STR("name"), {.kind = KILN_COMPONENT_STRING, .of.string = STR("")}},
      {STR("tags"), {.kind = KILN_COMPONENT_LIST, .of.list = {1, tags}}},
      {STR("pair"), {.kind = KILN_COMPONENT_TUPLE, .of.list = {2, pair}}},
      {STR("color"), {.kind = KILN_COMPONENT_ENUM, .of.enumeration = STR("green")}},
      {STR("shape"), {.kind = KILN_COMPONENT_VARIANT, .of.variant = {STR("none"), NULL}}},
      {STR("maybe"), {.kind = KILN_COMPONENT_OPTION, .of.option = NULL}},
      {STR("outcome"), {.kind = KILN_COMPONENT_RESULT, .of.result = {true, tags}}},
      {STR("perms"), {.kind = KILN_COMPONENT_FLAGS, .of.flags = {0, NULL}}},
  };
  kiln_component_val_t arg = {.kind = KILN_COMPONENT_RECORD, .of.record = {15, fields}};
  kiln_component_val_t result;
  check_error(kiln_component_func_call(store, echo, &arg, 1, &result, 1, &trap), "call refused echo");
  CHECK(trap != NULL);
  wasm_message_t tmsg;
  wasm_trap_message(trap, &tmsg);
  CHECK(strstr(tmsg.data, "the host refuses") != NULL);
  wasm_byte_vec_delete(&tmsg);
  wasm_trap_delete(trap);
  /* After a trap the instance may not be entered again. */
  EXPECT_FAILURE(kiln_component_func_call(store, echo, &arg, 1, &result, 1, &trap), msg);
  CHECK(strstr(msg, "cannot enter component instance") != NULL);
  kiln_component_func_delete(echo);
  kiln_component_instance_delete(instance);
  wasm_store_delete(store);

  /* Without a trap slot the trap comes back as the error. */
  store = wasm_store_new(engine);
  check_error(kiln_component_linker_instantiate(linker, store, component, &instance, &trap), "instantiate");
  check_error(kiln_component_instance_get_func(store, instance, NULL, 0, "echo", 4, &echo), "get echo");
  error_text(kiln_component_func_call(store, echo, &arg, 1, &result, 1, NULL), msg, sizeof msg);
  CHECK(strstr(msg, "the host refuses") != NULL);
  kiln_component_func_delete(echo);
  kiln_component_instance_delete(instance);
  wasm_store_delete(store);

  kiln_component_linker_allow_shadowing(linker, true);
  check_error(kiln_component_linker_define_func(linker, iface, strlen(iface), "echo", 4, host_wrong_result, NULL,
                                                NULL),
              "shadow echo");
  store = wasm_store_new(engine);
  check_error(kiln_component_linker_instantiate(linker, store, component, &instance, &trap), "instantiate again");
  check_error(kiln_component_instance_get_func(store, instance, NULL, 0, "echo", 4, &echo), "get echo");
  EXPECT_FAILURE(kiln_component_func_call(store, echo, &arg, 1, &result, 1, &trap), msg);
  printf("a host result of the wrong type: %s\n", msg);
  CHECK(strstr(msg, "record") != NULL);
  kiln_component_func_delete(echo);
  kiln_component_instance_delete(instance);
  wasm_store_delete(store);
  kiln_component_linker_delete(linker);
  CHECK(finalized == 1);
  printf("host failures: ok\n");
}

/* A store whose component host function is running cannot be used from inside it. */
static wasm_store_t *reentry_store;
static kiln_component_func_t *reentry_func;
static char reentry_msg[256];
static kiln_error_t *host_reenter(void *env, const kiln_component_val_t *args, size_t nargs,
                                  kiln_component_val_t *results, size_t nresults) {
  (void)env;
  (void)args;
  (void)nargs;
  (void)results;
  (void)nresults;
  kiln_error_t *error = kiln_component_func_call(reentry_store, reentry_func, NULL, 0, NULL, 0, NULL);
  error_text(error, reentry_msg, sizeof reentry_msg);
  return NULL;
}

static void check_resources(wasm_engine_t *engine) {
  kiln_component_t *component = compile_component(engine, RESOURCE_WAT);
  kiln_component_linker_t *linker = kiln_component_linker_new(engine);
  const char *iface = "example:demo/host";
  check_error(kiln_component_linker_define_func(linker, iface, strlen(iface), "log", 3, host_log, NULL, NULL),
              "define log");
  wasm_store_t *store = wasm_store_new(engine);
  kiln_component_instance_t *instance = NULL;
  wasm_trap_t *trap = NULL;
  check_error(kiln_component_linker_instantiate(linker, store, component, &instance, &trap), "instantiate");
  kiln_component_func_t *ctor = NULL, *get = NULL, *fail = NULL;
  const char *ctor_name = "[constructor]counter", *get_name = "[method]counter.get";
  check_error(kiln_component_instance_get_func(store, instance, NULL, 0, ctor_name, strlen(ctor_name), &ctor), "ctor");
  check_error(kiln_component_instance_get_func(store, instance, NULL, 0, get_name, strlen(get_name), &get), "get");
  check_error(kiln_component_instance_get_func(store, instance, NULL, 0, "fail", 4, &fail), "fail");

  kiln_component_val_t start = SCALAR(KILN_COMPONENT_U32, u32, 41);
  kiln_component_val_t handle;
  check_error(kiln_component_func_call(store, ctor, &start, 1, &handle, 1, &trap), "construct");
  CHECK(handle.kind == KILN_COMPONENT_RESOURCE && kiln_component_resource_is_owned(handle.of.resource));
  CHECK(!kiln_component_resource_host_rep(handle.of.resource, NULL, NULL));
  kiln_component_val_t value;
  check_error(kiln_component_func_call(store, get, &handle, 1, &value, 1, &trap), "method");
  CHECK(value.kind == KILN_COMPONENT_U32 && value.of.u32 == 41);

  int logs_before = log_calls;
  check_error(kiln_component_resource_drop(store, handle.of.resource), "drop");
  CHECK(log_calls == logs_before + 1 && strcmp(last_log, "counter dropped") == 0);
  char msg[256];
  error_text(kiln_component_resource_drop(store, handle.of.resource), msg, sizeof msg);
  CHECK(strstr(msg, "handle") != NULL);
  EXPECT_FAILURE(kiln_component_func_call(store, get, &handle, 1, &value, 1, &trap), msg);
  printf("a dropped handle: %s\n", msg);
  CHECK(strstr(msg, "handle") != NULL);
  kiln_component_val_delete(&handle);

  /* The store cannot be re-entered from a component host function. */
  kiln_component_linker_t *linker2 = kiln_component_linker_new(engine);
  check_error(kiln_component_linker_define_func(linker2, iface, strlen(iface), "log", 3, host_reenter, NULL, NULL),
              "define reentering log");
  kiln_component_instance_t *instance2 = NULL;
  check_error(kiln_component_linker_instantiate(linker2, store, component, &instance2, &trap), "instantiate 2");
  kiln_component_func_t *ctor2 = NULL;
  check_error(kiln_component_instance_get_func(store, instance2, NULL, 0, ctor_name, strlen(ctor_name), &ctor2),
              "ctor2");
  check_error(kiln_component_func_call(store, ctor2, &start, 1, &handle, 1, &trap), "construct 2");
  reentry_store = store;
  reentry_func = fail;
  check_error(kiln_component_resource_drop(store, handle.of.resource), "drop 2");
  CHECK(strstr(reentry_msg, "in use") != NULL);
  kiln_component_val_delete(&handle);
  /* (The earlier trap poisoned the first instance: the second one traps afresh.) */
  /* A trap in the guest: its message, through trap_out. */
  kiln_component_func_t *fail2 = NULL;
  check_error(kiln_component_instance_get_func(store, instance2, NULL, 0, "fail", 4, &fail2), "fail2");
  check_error(kiln_component_func_call(store, fail2, NULL, 0, NULL, 0, &trap), "fail");
  CHECK(trap != NULL);
  wasm_message_t tmsg;
  wasm_trap_message(trap, &tmsg);
  CHECK(strstr(tmsg.data, "unreachable") != NULL);
  wasm_byte_vec_delete(&tmsg);
  wasm_trap_delete(trap);

  kiln_component_func_delete(fail2);

  /* Serialized and loaded again, the component still works. */
  wasm_byte_vec_t bytes;
  check_error(kiln_component_serialize(component, &bytes), "serialize");
  kiln_component_t *loaded = NULL;
  check_error(kiln_component_deserialize(engine, (const uint8_t *)bytes.data, bytes.size, &loaded), "deserialize");
  bytes.data[bytes.size / 2] ^= 0x55;
  kiln_component_t *corrupt = NULL;
  error_text(kiln_component_deserialize(engine, (const uint8_t *)bytes.data, bytes.size, &corrupt), msg, sizeof msg);
  CHECK(corrupt == NULL);
  wasm_byte_vec_delete(&bytes);
  kiln_component_instance_t *instance3 = NULL;
  check_error(kiln_component_linker_instantiate(linker, store, loaded, &instance3, &trap), "instantiate loaded");
  kiln_component_func_t *ctor3 = NULL;
  check_error(kiln_component_instance_get_func(store, instance3, NULL, 0, ctor_name, strlen(ctor_name), &ctor3),
              "ctor3");
  start.of.u32 = 7;
  check_error(kiln_component_func_call(store, ctor3, &start, 1, &handle, 1, &trap), "construct 3");
  /* A resource handle copied on its own, and inside a value. */
  kiln_component_resource_t *alone = kiln_component_resource_copy(handle.of.resource);
  CHECK(kiln_component_resource_is_owned(alone));
  kiln_component_resource_delete(alone);
  kiln_component_val_t handle_copy;
  kiln_component_val_copy(&handle_copy, &handle);
  kiln_component_val_delete(&handle);
  /* A fourth instance has its own `counter` type: a handle of the third's is refused. */
  kiln_component_instance_t *instance4 = NULL;
  check_error(kiln_component_linker_instantiate(linker, store, component, &instance4, &trap), "instantiate 4");
  kiln_component_func_t *get4 = NULL;
  check_error(kiln_component_instance_get_func(store, instance4, NULL, 0, get_name, strlen(get_name), &get4), "get4");
  EXPECT_FAILURE(kiln_component_func_call(store, get4, &handle_copy, 1, &value, 1, &trap), msg);
  printf("a handle of another instance's type: %s\n", msg);
  CHECK(strstr(msg, "cannot enter") == NULL);
  kiln_component_func_delete(get4);
  kiln_component_instance_delete(instance4);
  kiln_component_func_t *get3 = NULL;
  check_error(kiln_component_instance_get_func(store, instance3, NULL, 0, get_name, strlen(get_name), &get3), "get3");
  check_error(kiln_component_func_call(store, get3, &handle_copy, 1, &value, 1, &trap), "method 3");
  CHECK(trap == NULL && value.of.u32 == 7);
  check_error(kiln_component_resource_drop(store, handle_copy.of.resource), "drop 3");
  kiln_component_val_delete(&handle_copy);

  kiln_component_func_delete(get3);
  kiln_component_func_delete(ctor3);
  kiln_component_instance_delete(instance3);
  kiln_component_delete(loaded);
  kiln_component_func_delete(ctor2);
  kiln_component_instance_delete(instance2);
  kiln_component_linker_delete(linker2);
  kiln_component_func_delete(ctor);
  kiln_component_func_delete(get);
  kiln_component_func_delete(fail);
  kiln_component_instance_delete(instance);
  wasm_store_delete(store);
  kiln_component_linker_delete(linker);
  kiln_component_delete(component);
  printf("resources: ok\n");
}

/* A host resource type defined from C: a component measures a `file` through a borrow (the
 * host method sees the rep) and drops its own handle (the host destructor runs). */
static int file_drops = 0;
static uint32_t last_dropped = 0;
static kiln_error_t *file_dtor(void *env, uint32_t rep) {
  CHECK(env == (void *)&file_drops);
  file_drops++;
  last_dropped = rep;
  return NULL;
}

static kiln_error_t *file_size(void *env, const kiln_component_val_t *args, size_t nargs,
                               kiln_component_val_t *results, size_t nresults) {
  (void)env;
  CHECK(nargs == 1 && nresults == 1 && args[0].kind == KILN_COMPONENT_RESOURCE);
  CHECK(!kiln_component_resource_is_owned(args[0].of.resource));
  uint64_t type_id = 0;
  uint32_t rep = 0;
  CHECK(kiln_component_resource_host_rep(args[0].of.resource, &type_id, &rep));
  CHECK(type_id == 42);
  results[0].kind = KILN_COMPONENT_U32;
  results[0].of.u32 = rep * 10;
  return NULL;
}

static void check_host_resources(wasm_engine_t *engine) {
  kiln_component_t *component = compile_component(engine, HOST_RESOURCE_WAT);
  kiln_component_linker_t *linker = kiln_component_linker_new(engine);
  const char *iface = "example:demo/files", *method = "[method]file.size";
  check_error(kiln_component_linker_define_resource(linker, iface, strlen(iface), "file", 4, 42, file_dtor, &file_drops,
                                                    NULL),
              "define file");
  check_error(kiln_component_linker_define_func(linker, iface, strlen(iface), method, strlen(method), file_size, NULL,
                                                NULL),
              "define size");
  wasm_store_t *store = wasm_store_new(engine);
  kiln_component_instance_t *instance = NULL;
  wasm_trap_t *trap = NULL;
  check_error(kiln_component_linker_instantiate(linker, store, component, &instance, &trap), "instantiate");
  kiln_component_func_t *measure = NULL;
  check_error(kiln_component_instance_get_func(store, instance, NULL, 0, "measure", 7, &measure), "measure");

  kiln_component_val_t file = {.kind = KILN_COMPONENT_RESOURCE, .of.resource = kiln_component_resource_new_host(42, 7, true)};
  kiln_component_val_t size;
  check_error(kiln_component_func_call(store, measure, &file, 1, &size, 1, &trap), "call measure");
  CHECK(trap == NULL && size.kind == KILN_COMPONENT_U32 && size.of.u32 == 70);
  CHECK(file_drops == 1 && last_dropped == 7);
  kiln_component_val_delete(&file);

  /* A handle of another host type does not fit `own<file>`. */
  char msg[256];
  kiln_component_val_t other = {.kind = KILN_COMPONENT_RESOURCE, .of.resource = kiln_component_resource_new_host(43, 1, true)};
  EXPECT_FAILURE(kiln_component_func_call(store, measure, &other, 1, &size, 1, &trap), msg);
  printf("a handle of another host resource type: %s\n", msg);
  kiln_component_val_delete(&other);
  CHECK(file_drops == 1);

  kiln_component_func_delete(measure);
  kiln_component_instance_delete(instance);
  wasm_store_delete(store);
  kiln_component_linker_delete(linker);
  kiln_component_delete(component);
  printf("host resources: ok\n");
}

/* A WASI 0.2 command component (tests/wasi-programs/args_env.c) run with captured stdout. */
static void check_wasi(wasm_engine_t *engine, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    printf("wasi component: not run (cannot open %s)\n", path);
    return;
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *bytes = malloc((size_t)size);
  CHECK(fread(bytes, 1, (size_t)size, f) == (size_t)size);
  fclose(f);
  kiln_component_t *component = NULL;
  check_error(kiln_component_new(engine, bytes, (size_t)size, &component), "compile wasi component");
  free(bytes);

  wasm_store_t *store = wasm_store_new(engine);
  wasi_config_t *config = wasi_config_new();
  const char *argv[] = {"prog", "--flag"};
  CHECK(wasi_config_set_argv(config, 2, argv));
  const char *names[] = {"GREETING"}, *values[] = {"hi from C"};
  CHECK(wasi_config_set_env(config, 1, names, values));
  wasi_config_capture_stdout(config);
  check_error(kiln_store_set_wasi(store, config), "set wasi");

  kiln_component_linker_t *linker = kiln_component_linker_new(engine);
  check_error(kiln_component_linker_define_wasi(linker), "define wasi");
  kiln_component_instance_t *instance = NULL;
  wasm_trap_t *trap = NULL;
  check_error(kiln_component_linker_instantiate(linker, store, component, &instance, &trap), "instantiate wasi");
  kiln_component_func_t *run = NULL;
  const char *iface = "wasi:cli/run@0.2.12";
  check_error(kiln_component_instance_get_func(store, instance, iface, strlen(iface), "run", 3, &run), "get run");
  kiln_component_val_t result;
  check_error(kiln_component_func_call(store, run, NULL, 0, &result, 1, &trap), "run");
  CHECK(trap == NULL && result.kind == KILN_COMPONENT_RESULT && result.of.result.is_ok);
  kiln_component_val_delete(&result);

  wasm_byte_vec_t out;
  CHECK(kiln_store_wasi_stdout(store, &out));
  printf("wasi component printed %zu bytes\n", out.size);
  CHECK(memmem(out.data, out.size, "argv[1]: --flag", 15) != NULL);
  CHECK(memmem(out.data, out.size, "GREETING: hi from C", 19) != NULL);
  wasm_byte_vec_delete(&out);

  kiln_component_func_delete(run);
  kiln_component_instance_delete(instance);
  kiln_component_linker_delete(linker);
  wasm_store_delete(store);
  kiln_component_delete(component);
  printf("wasi component: ok\n");
}

int main(int argc, char **argv) {
  wasm_engine_t *engine = wasm_engine_new();
  kiln_component_t *component = compile_component(engine, ECHO_WAT);
  check_echo(engine, component);
  check_host_failures(engine, component);
  kiln_component_t *clone = kiln_component_clone(component);
  kiln_component_delete(component);
  kiln_component_delete(clone);

  char msg[512];
  kiln_component_t *bad = NULL;
  error_text(kiln_component_new(engine, (const uint8_t *)"(component", 10, &bad), msg, sizeof msg);
  CHECK(bad == NULL && strstr(msg, "text format") != NULL);

  /* Values built with kiln's allocators, moved and freed. */
  kiln_component_val_t items[2];
  items[0].kind = KILN_COMPONENT_STRING;
  wasm_name_new_from_string(&items[0].of.string, "owned");
  items[1].kind = KILN_COMPONENT_U8;
  items[1].of.u8 = 1;
  kiln_component_val_t list = {.kind = KILN_COMPONENT_LIST};
  kiln_component_val_vec_new(&list.of.list, 2, items);
  kiln_component_val_t option = {.kind = KILN_COMPONENT_OPTION, .of.option = kiln_component_val_box(&list)};
  CHECK(list.kind == KILN_COMPONENT_BOOL && option.of.option->of.list.size == 2);
  kiln_component_val_delete(&option);
  kiln_component_field_vec_t fv;
  kiln_component_field_vec_new_uninitialized(&fv, 3);
  CHECK(fv.size == 3 && fv.data[2].val.kind == KILN_COMPONENT_BOOL);
  wasm_name_new_from_string(&fv.data[0].name, "f");
  kiln_component_field_vec_delete(&fv);
  kiln_component_val_vec_t vv;
  kiln_component_val_vec_new_uninitialized(&vv, 4);
  CHECK(vv.size == 4 && vv.data[3].kind == KILN_COMPONENT_BOOL && !vv.data[3].of.boolean);
  vv.data[0].kind = KILN_COMPONENT_STRING;
  wasm_name_new_from_string(&vv.data[0].of.string, "freed with the vector");
  kiln_component_val_vec_delete(&vv);
  kiln_component_val_vec_new_empty(&vv);
  CHECK(vv.size == 0);
  kiln_component_val_vec_delete(&vv);
  kiln_component_val_t payload = {.kind = KILN_COMPONENT_U64, .of.u64 = 5};
  kiln_component_val_t *boxed = kiln_component_val_box(&payload);
  CHECK(boxed->kind == KILN_COMPONENT_U64 && boxed->of.u64 == 5);
  kiln_component_val_box_delete(boxed);
  kiln_component_name_vec_t nv;
  kiln_component_name_vec_new_uninitialized(&nv, 2);
  wasm_name_new_from_string(&nv.data[1], "flag");
  kiln_component_name_vec_delete(&nv);

  check_resources(engine);
  check_host_resources(engine);
  if (argc > 1) {
    check_wasi(engine, argv[1]);
  } else {
    printf("wasi component: not run (no component path given)\n");
  }
  wasm_engine_delete(engine);
  printf("component_api: ok\n");
  return 0;
}
