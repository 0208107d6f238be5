/* kiln's C API: the standard wasm.h plus kiln's extensions. Include this header (it includes
 * wasm.h and wasi.h). Ownership follows wasm.h: `own` results belong to the caller, who frees
 * them with the matching _delete; `own` parameters are taken over by the callee; everything
 * else is borrowed for the duration of the call. */
#ifndef KILN_H
#define KILN_H

#include <wasm.h>
#include <wasi.h>
#include <kiln/error.h>
#include <kiln/config.h>
#include <kiln/store.h>
#include <kiln/linker.h>

#endif
