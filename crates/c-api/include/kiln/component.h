/* Components from C: compile a component, define host functions over component values in a
 * component linker (and WASI 0.2), instantiate, look up exported functions and call them.
 *
 * Values are a tree of kiln_component_val_t. Ownership:
 * - Arguments passed to kiln_component_func_call are borrowed: build them however you like
 *   (on the stack, pointing at static strings).
 * - Results of kiln_component_func_call, and the values a callback's args hold, belong to the
 *   receiver of the call's results, or to kiln for callback args (borrowed by the callback for
 *   its duration). Free results with kiln_component_val_delete.
 * - Results a callback writes are taken over by kiln, which frees them: everything they point
 *   to (strings, vectors, boxed payloads) must come from kiln's allocators (wasm_name_new*,
 *   kiln_component_val_vec_new*, kiln_component_field_vec_new_uninitialized,
 *   kiln_component_name_vec_new_uninitialized, kiln_component_val_box, kiln_component_val_copy).
 *
 * Host functions called by a component cannot use the store they run in (they receive none):
 * calling back into the store from one fails. */
#ifndef KILN_COMPONENT_H
#define KILN_COMPONENT_H

#include <wasm.h>
#include <kiln/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Values ---- */

typedef uint8_t kiln_component_valkind_t;
enum kiln_component_valkind_enum {
  KILN_COMPONENT_BOOL = 0,
  KILN_COMPONENT_S8 = 1,
  KILN_COMPONENT_U8 = 2,
  KILN_COMPONENT_S16 = 3,
  KILN_COMPONENT_U16 = 4,
  KILN_COMPONENT_S32 = 5,
  KILN_COMPONENT_U32 = 6,
  KILN_COMPONENT_S64 = 7,
  KILN_COMPONENT_U64 = 8,
  KILN_COMPONENT_F32 = 9,
  KILN_COMPONENT_F64 = 10,
  KILN_COMPONENT_CHAR = 11,
  KILN_COMPONENT_STRING = 12,
  KILN_COMPONENT_LIST = 13,
  KILN_COMPONENT_RECORD = 14,
  KILN_COMPONENT_TUPLE = 15,
  KILN_COMPONENT_VARIANT = 16,
  KILN_COMPONENT_ENUM = 17,
  KILN_COMPONENT_OPTION = 18,
  KILN_COMPONENT_RESULT = 19,
  KILN_COMPONENT_FLAGS = 20,
  /* map<K, V>: of.list holds its entries, each a TUPLE of two values (key, value). */
  KILN_COMPONENT_MAP = 21,
  /* own<R> or borrow<R>: of.resource, a handle the host holds. */
  KILN_COMPONENT_RESOURCE = 22,
};

typedef struct kiln_component_val_t kiln_component_val_t;
typedef struct kiln_component_field_t kiln_component_field_t;
/* A resource handle held by the host (from a guest's export or a callback argument). */
typedef struct kiln_component_resource_t kiln_component_resource_t;

typedef struct kiln_component_val_vec_t {
  size_t size;
  kiln_component_val_t *data;
} kiln_component_val_vec_t;

typedef struct kiln_component_field_vec_t {
  size_t size;
  kiln_component_field_t *data;
} kiln_component_field_vec_t;

typedef struct kiln_component_name_vec_t {
  size_t size;
  wasm_name_t *data;
} kiln_component_name_vec_t;

/* A variant's case (by name) and its payload: NULL exactly when the case has no type. */
typedef struct kiln_component_variant_t {
  wasm_name_t name;
  kiln_component_val_t *payload;
} kiln_component_variant_t;

/* A result: ok or error, and the payload (NULL exactly when that side has no type). */
typedef struct kiln_component_result_t {
  bool is_ok;
  kiln_component_val_t *payload;
} kiln_component_result_t;

typedef union kiln_component_valunion_t {
  bool boolean;
  int8_t s8;
  uint8_t u8;
  int16_t s16;
  uint16_t u16;
  int32_t s32;
  uint32_t u32;
  int64_t s64;
  uint64_t u64;
  float f32;
  double f64;
  /* A Unicode scalar value. */
  uint32_t character;
  /* UTF-8, not NUL-terminated. */
  wasm_name_t string;
  /* list, tuple and map (see KILN_COMPONENT_MAP). */
  kiln_component_val_vec_t list;
  /* Every field, in the type's order. */
  kiln_component_field_vec_t record;
  kiln_component_variant_t variant;
  /* The case name. */
  wasm_name_t enumeration;
  /* NULL for none. */
  kiln_component_val_t *option;
  kiln_component_result_t result;
  /* The names of the flags that are set. */
  kiln_component_name_vec_t flags;
  kiln_component_resource_t *resource;
} kiln_component_valunion_t;

struct kiln_component_val_t {
  kiln_component_valkind_t kind;
  kiln_component_valunion_t of;
};

struct kiln_component_field_t {
  wasm_name_t name;
  kiln_component_val_t val;
};

/* Frees what `val` owns (strings, vectors, payloads, resource handles), not `val` itself, and
 * leaves it a `false` bool. */
WASM_API_EXTERN void kiln_component_val_delete(kiln_component_val_t *val);
/* A deep copy of `src` into *out (caller-owned). */
WASM_API_EXTERN void kiln_component_val_copy(kiln_component_val_t *out, const kiln_component_val_t *src);
/* Moves *val (which must be kiln-allocated, as for callback results) to the heap, for an
 * option, variant or result payload; *val is left a `false` bool. The box is freed with the
 * value holding it, or with kiln_component_val_box_delete. */
WASM_API_EXTERN kiln_component_val_t *kiln_component_val_box(kiln_component_val_t *val);
WASM_API_EXTERN void kiln_component_val_box_delete(kiln_component_val_t *boxed);

/* Vectors: new_uninitialized gives `size` `false` bools (fields: empty names); new takes over
 * the contents of `size` values at `data` (kiln-allocated, as for callback results); delete
 * frees the elements and the array. */
WASM_API_EXTERN void kiln_component_val_vec_new_empty(kiln_component_val_vec_t *out);
WASM_API_EXTERN void kiln_component_val_vec_new_uninitialized(kiln_component_val_vec_t *out, size_t size);
WASM_API_EXTERN void kiln_component_val_vec_new(kiln_component_val_vec_t *out, size_t size,
                                                kiln_component_val_t const data[]);
WASM_API_EXTERN void kiln_component_val_vec_delete(kiln_component_val_vec_t *vec);
WASM_API_EXTERN void kiln_component_field_vec_new_uninitialized(kiln_component_field_vec_t *out, size_t size);
WASM_API_EXTERN void kiln_component_field_vec_delete(kiln_component_field_vec_t *vec);
WASM_API_EXTERN void kiln_component_name_vec_new_uninitialized(kiln_component_name_vec_t *out, size_t size);
WASM_API_EXTERN void kiln_component_name_vec_delete(kiln_component_name_vec_t *vec);

/* Resource handles. A handle value is freed with its value; the resource itself lives on
 * until dropped: an owned handle the host keeps must be passed back to the guest or dropped
 * with kiln_component_resource_drop (which runs its destructor). */
WASM_API_EXTERN bool kiln_component_resource_is_owned(const kiln_component_resource_t *resource);
WASM_API_EXTERN kiln_component_resource_t *kiln_component_resource_copy(const kiln_component_resource_t *resource);
WASM_API_EXTERN void kiln_component_resource_delete(kiln_component_resource_t *resource);
/* A handle (caller-owned) to `rep` of the host resource type numbered `type_id` (see
 * kiln_component_linker_define_resource), owned or borrowed, to pass to a component. */
WASM_API_EXTERN kiln_component_resource_t *kiln_component_resource_new_host(uint64_t type_id, uint32_t rep,
                                                                            bool owned);
/* For a handle to a host resource: true, with its type number and rep in *type_id and *rep
 * (either may be NULL). False for a resource a component defines. */
WASM_API_EXTERN bool kiln_component_resource_host_rep(const kiln_component_resource_t *resource,
                                                      uint64_t *type_id, uint32_t *rep);
/* Drops the resource in `store` (its destructor runs for an owned guest handle). Returns NULL
 * or a caller-owned error (a handle already dropped, say). */
WASM_API_EXTERN kiln_error_t *kiln_component_resource_drop(wasm_store_t *store,
                                                           const kiln_component_resource_t *resource);

/* ---- Components ---- */

typedef struct kiln_component_t kiln_component_t;

/* Compiles a component from `len` bytes of its binary or text format into *out
 * (caller-owned). Returns NULL or a caller-owned error. */
WASM_API_EXTERN kiln_error_t *kiln_component_new(const wasm_engine_t *engine, const uint8_t *bytes, size_t len,
                                                 kiln_component_t **out);
/* The compiled component (a component .cwasm, as `kiln compile` writes) into *out
 * (caller-owned). */
WASM_API_EXTERN kiln_error_t *kiln_component_serialize(const kiln_component_t *component, wasm_byte_vec_t *out);
/* Loads what kiln_component_serialize wrote, with the same checks as a .cwasm: a file from
 * another kiln version or engine configuration, or a corrupt one, is refused with an error.
 * The bytes must come from a trusted source. */
WASM_API_EXTERN kiln_error_t *kiln_component_deserialize(const wasm_engine_t *engine, const uint8_t *bytes,
                                                         size_t len, kiln_component_t **out);
WASM_API_EXTERN kiln_component_t *kiln_component_clone(const kiln_component_t *component);
WASM_API_EXTERN void kiln_component_delete(kiln_component_t *component);

/* ---- Linker ---- */

typedef struct kiln_component_linker_t kiln_component_linker_t;
typedef struct kiln_component_instance_t kiln_component_instance_t;
typedef struct kiln_component_func_t kiln_component_func_t;

/* A host function: `args` (borrowed) holds one value per parameter; the callback writes its
 * result (if the function has one) to `results[0]`, kiln-allocated (see the top of this
 * file), and returns NULL. Returning an error (kiln_error_new) makes the call trap with its
 * message; kiln takes the error over (and frees any results written). */
typedef kiln_error_t *(*kiln_component_func_callback_t)(void *env, const kiln_component_val_t *args, size_t nargs,
                                                       kiln_component_val_t *results, size_t nresults);

WASM_API_EXTERN kiln_component_linker_t *kiln_component_linker_new(const wasm_engine_t *engine);
WASM_API_EXTERN void kiln_component_linker_delete(kiln_component_linker_t *linker);
/* Whether a later definition of the same name replaces an earlier one (default: an error). */
WASM_API_EXTERN void kiln_component_linker_allow_shadowing(kiln_component_linker_t *linker, bool allow);
/* Defines the function `name` inside the instance `instance` (an interface name such as
 * "example:demo/host@1.0.0"; NULL or empty for the root of the component's imports). Its type
 * is the import's: values are checked against it. `finalizer(env)`, if not NULL, runs when the
 * linker and every store it instantiated into are gone. */
WASM_API_EXTERN kiln_error_t *kiln_component_linker_define_func(kiln_component_linker_t *linker,
                                                                const char *instance, size_t instance_len,
                                                                const char *name, size_t name_len,
                                                                kiln_component_func_callback_t callback, void *env,
                                                                void (*finalizer)(void *));
/* A host resource type's destructor: runs with the rep when a component drops an owned handle;
 * returning an error (kiln_error_new, taken over by kiln) traps the dropping call. */
typedef kiln_error_t *(*kiln_component_resource_dtor_t)(void *env, uint32_t rep);

/* Defines `name` in `instance` (NULL or empty: the root) as the host resource type numbered
 * `type_id`: every definition with the same number is the same type. `dtor` may be NULL;
 * `finalizer(env)`, if not NULL, runs when the linker and every store it instantiated into are
 * gone. */
WASM_API_EXTERN kiln_error_t *kiln_component_linker_define_resource(kiln_component_linker_t *linker,
                                                                    const char *instance, size_t instance_len,
                                                                    const char *name, size_t name_len,
                                                                    uint64_t type_id,
                                                                    kiln_component_resource_dtor_t dtor, void *env,
                                                                    void (*finalizer)(void *));
/* Defines every import of the wasi:cli/command world (WASI 0.2), using the WASI context of the
 * store (kiln_store_set_wasi; a store without one gives the program no arguments, no
 * environment, empty stdin and discards its output). */
WASM_API_EXTERN kiln_error_t *kiln_component_linker_define_wasi(kiln_component_linker_t *linker);
/* Instantiates `component` in `store` into *instance_out (caller-owned). A trap while
 * instantiating goes to *trap_out (caller-owned; NULL error); other failures, a missing import
 * say, are returned as an error. */
WASM_API_EXTERN kiln_error_t *kiln_component_linker_instantiate(const kiln_component_linker_t *linker,
                                                                wasm_store_t *store,
                                                                const kiln_component_t *component,
                                                                kiln_component_instance_t **instance_out,
                                                                wasm_trap_t **trap_out);

/* ---- Instances and functions ---- */

WASM_API_EXTERN void kiln_component_instance_delete(kiln_component_instance_t *instance);
/* The exported function `name` inside the exported instance `instance` (e.g.
 * "wasi:cli/run@0.2.0"; NULL or empty for a function exported at the root) into *out
 * (caller-owned). Returns an error saying why there is none: no such export, not a function,
 * or a function kiln cannot call. */
WASM_API_EXTERN kiln_error_t *kiln_component_instance_get_func(wasm_store_t *store,
                                                               const kiln_component_instance_t *instance,
                                                               const char *instance_name, size_t instance_name_len,
                                                               const char *name, size_t name_len,
                                                               kiln_component_func_t **out);
WASM_API_EXTERN void kiln_component_func_delete(kiln_component_func_t *func);
/* The number of parameters and of results (0 or 1) of `func`. */
WASM_API_EXTERN void kiln_component_func_arity(wasm_store_t *store, const kiln_component_func_t *func,
                                               size_t *params, size_t *results);
/* Calls `func` with `nargs` arguments (borrowed); its result, if any, goes to results[0]
 * (caller-owned; `nresults` must be the function's result count). Values that do not match
 * the function's types are an error naming the parameter. A trap goes to *trap_out
 * (caller-owned) and NULL is returned; if `trap_out` is NULL it is returned as an error. */
WASM_API_EXTERN kiln_error_t *kiln_component_func_call(wasm_store_t *store, const kiln_component_func_t *func,
                                                       const kiln_component_val_t *args, size_t nargs,
                                                       kiln_component_val_t *results, size_t nresults,
                                                       wasm_trap_t **trap_out);

#ifdef __cplusplus
}
#endif

#endif
