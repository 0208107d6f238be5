/* Stores, modules and memories beyond wasm.h: fuel, epoch deadlines, compile and
 * (de)serialize with errors, bounds-checked memory access. */
#ifndef KILN_STORE_H
#define KILN_STORE_H

#include <kiln/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sets the store's fuel (the engine must consume fuel). Not callable inside a host function. */
WASM_API_EXTERN kiln_error_t *kiln_store_set_fuel(wasm_store_t *store, uint64_t fuel);
/* The fuel left into *fuel. */
WASM_API_EXTERN kiln_error_t *kiln_store_get_fuel(wasm_store_t *store, uint64_t *fuel);
/* Collects the store's GC objects and host references that nothing reaches any more (wasm
 * collects on its own as it allocates). */
WASM_API_EXTERN void kiln_store_gc(wasm_store_t *store);
/* Wasm in this store traps with KILN_TRAP_INTERRUPT once the engine's epoch is `ticks` past
 * its current value (the engine must have epoch interruption on). */
WASM_API_EXTERN void kiln_store_set_epoch_deadline(wasm_store_t *store, uint64_t ticks);

/* Compiles a module from binary or text (`len` bytes); *out (caller-owned) is a module not tied
 * to a store, usable with every store of the engine. */
WASM_API_EXTERN kiln_error_t *kiln_module_new(const wasm_engine_t *engine, const uint8_t *bytes,
                                                   size_t len, wasm_module_t **out);
/* The module in kiln's precompiled format (.cwasm) into *out (caller-owned). */
WASM_API_EXTERN kiln_error_t *kiln_module_serialize(const wasm_module_t *module, wasm_byte_vec_t *out);
/* Loads what kiln_module_serialize (or `kiln compile`) wrote, with the .cwasm compatibility
 * checks: the error names a kiln version, engine setting or checksum that does not match.
 * The bytes must come from kiln: their machine code runs as it is. */
WASM_API_EXTERN kiln_error_t *kiln_module_deserialize(const wasm_engine_t *engine, const uint8_t *bytes,
                                                           size_t len, wasm_module_t **out);

/* Copies `len` bytes between the memory at `offset` and `buf`; false (and nothing copied) if
 * the range is out of bounds. */
WASM_API_EXTERN bool kiln_memory_read(const wasm_memory_t *memory, uint64_t offset, uint8_t *buf, size_t len);
WASM_API_EXTERN bool kiln_memory_write(const wasm_memory_t *memory, uint64_t offset, const uint8_t *buf,
                                       size_t len);

#ifdef __cplusplus
}
#endif

#endif
