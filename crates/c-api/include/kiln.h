/* kiln's C API: the standard wasm.h plus kiln's extensions. Include this header (it includes
 * wasm.h and wasi.h). Ownership follows wasm.h: what a comment calls caller-owned belongs to
 * the caller, who frees it with the matching _delete; parameters a comment says are taken over
 * belong to the callee; everything else is borrowed for the duration of the call. Functions
 * returning kiln_error_t* return NULL on success and a caller-owned error on failure. */
#ifndef KILN_H
#define KILN_H

#include <wasm.h>
#include <wasi.h>
#include <kiln/error.h>
#include <kiln/config.h>
#include <kiln/store.h>
#include <kiln/linker.h>
#include <kiln/func.h>
#include <kiln/component.h>
#include <kiln/gc.h>

#endif
