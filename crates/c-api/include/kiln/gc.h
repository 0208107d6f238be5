/* The GC proposal's references (structs, arrays, i31s) for C.
 *
 * A value of the `any` hierarchy (anyref, eqref, i31ref, structref, arrayref and their
 * concrete types) travels in a wasm_val_t of kind KILN_ANYREF; its `of.ref` is NULL for the null
 * reference, else a wasm_ref_t that keeps the object alive until it is deleted (with
 * wasm_val_delete or wasm_ref_delete): the collector frees what neither wasm nor such a handle
 * reaches. Calls, globals and tables take and give these values like any other reference. */
#ifndef KILN_GC_H
#define KILN_GC_H

#include <kiln/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Field storage beyond the value kinds: packed 8- and 16-bit integers, read and written as
 * WASM_I32 values (truncated on write, zero-extended on read). */
#define KILN_STORAGE_I8 0xF0
#define KILN_STORAGE_I16 0xF1

/* A struct field or an array element: a value kind (numbers; WASM_EXTERNREF, WASM_FUNCREF and
 * KILN_ANYREF mean the nullable abstract reference type) or a KILN_STORAGE_* packed kind, and
 * whether it may be written. */
typedef struct kiln_field_type_t {
  uint8_t storage;
  bool mutable_;
} kiln_field_type_t;

typedef struct kiln_struct_type_t kiln_struct_type_t;
typedef struct kiln_array_type_t kiln_array_type_t;

/* A struct type with `len` fields (caller-owned); NULL for an unknown storage kind. It is the
 * same type as a module's final struct type of the same shape. */
WASM_API_EXTERN kiln_struct_type_t *kiln_struct_type_new(const wasm_engine_t *engine,
                                                         const kiln_field_type_t *fields, size_t len);
WASM_API_EXTERN void kiln_struct_type_delete(kiln_struct_type_t *ty);
/* An array type (caller-owned); NULL for an unknown storage kind. */
WASM_API_EXTERN kiln_array_type_t *kiln_array_type_new(const wasm_engine_t *engine,
                                                       const kiln_field_type_t *element);
WASM_API_EXTERN void kiln_array_type_delete(kiln_array_type_t *ty);

/* An i31 reference of the low 31 bits of `value`, into *out (KILN_ANYREF, caller-owned). */
WASM_API_EXTERN bool kiln_anyref_from_i31(wasm_store_t *store, uint32_t value, wasm_val_t *out);
/* Whether `ref` (a KILN_ANYREF value's reference) is an i31; its value zero-extended into
 * *unsigned_out and sign-extended into *signed_out (either may be NULL). */
WASM_API_EXTERN bool kiln_anyref_i31_get(const wasm_ref_t *ref, uint32_t *unsigned_out, int32_t *signed_out);
/* Whether `ref` is an array (`is_array`) or a struct (`!is_array`). */
WASM_API_EXTERN bool kiln_anyref_is(const wasm_ref_t *ref, bool is_array);

/* A struct of type `ty` with `len` field values, into *out (KILN_ANYREF, caller-owned). May
 * collect first; fails with the trap's message when the GC heap is exhausted. */
WASM_API_EXTERN kiln_error_t *kiln_structref_new(wasm_store_t *store, const kiln_struct_type_t *ty,
                                                 const wasm_val_t *fields, size_t len, wasm_val_t *out);
/* Field `index` of struct `ref` into *out (caller-owned). */
WASM_API_EXTERN kiln_error_t *kiln_structref_field(const wasm_ref_t *ref, size_t index, wasm_val_t *out);
/* Writes `value` to mutable field `index` of struct `ref`. */
WASM_API_EXTERN kiln_error_t *kiln_structref_set_field(const wasm_ref_t *ref, size_t index,
                                                       const wasm_val_t *value);

/* An array of type `ty` with `len` copies of `element`, into *out (KILN_ANYREF, caller-owned). */
WASM_API_EXTERN kiln_error_t *kiln_arrayref_new(wasm_store_t *store, const kiln_array_type_t *ty,
                                                const wasm_val_t *element, uint32_t len, wasm_val_t *out);
/* The length of array `ref` into *out. */
WASM_API_EXTERN kiln_error_t *kiln_arrayref_len(const wasm_ref_t *ref, uint32_t *out);
/* Element `index` of array `ref` into *out (caller-owned); out of bounds is an error. */
WASM_API_EXTERN kiln_error_t *kiln_arrayref_get(const wasm_ref_t *ref, uint32_t index, wasm_val_t *out);
/* Writes `value` to element `index` of array `ref` (whose elements must be mutable). */
WASM_API_EXTERN kiln_error_t *kiln_arrayref_set(const wasm_ref_t *ref, uint32_t index, const wasm_val_t *value);

#ifdef __cplusplus
}
#endif

#endif
