// The `counter-impl` world of wit-counters/counters.wit: the `counter` resource, its state in
// malloc'd memory, and a count of live counters that the destructor decrements (so the tests
// can see destructors run). Built by scripts/build-test-components with bindings from
// `wit-bindgen c`; only malloc/free come from wasi-libc, so the core module imports nothing
// from WASI.
//
// Handles: an `own<counter>` parameter is a handle in this component's table (its rep comes
// from `counter_rep`, and dropping it runs the destructor below); a `borrow<counter>` parameter
// is the rep itself, since this component implements the resource. Exported functions own
// their list parameters (and free them); returned lists are freed by the post-return functions.

#include <stdint.h>
#include <stdlib.h>

#include "counter_impl.h"

typedef exports_kiln_test_counters_counters_counter_t counter_t;
typedef exports_kiln_test_counters_counters_own_counter_t own_t;
typedef exports_kiln_test_counters_counters_borrow_counter_t borrow_t;

struct exports_kiln_test_counters_counters_counter_t {
  uint32_t value;
  // Checked by every use, so a wrong rep (a stale or foreign pointer) traps.
  uint32_t magic;
};

#define MAGIC 0xc0417e25u

static uint32_t live;

static counter_t *check(counter_t *c) {
  if (!c || c->magic != MAGIC) __builtin_trap();
  return c;
}

static own_t make(uint32_t value) {
  counter_t *c = malloc(sizeof *c);
  if (!c) __builtin_trap();
  c->value = value;
  c->magic = MAGIC;
  live++;
  return exports_kiln_test_counters_counters_counter_new(c);
}

void exports_kiln_test_counters_counters_counter_destructor(counter_t *rep) {
  check(rep)->magic = 0;
  free(rep);
  live--;
}

own_t exports_kiln_test_counters_counters_constructor_counter(uint32_t start) { return make(start); }

uint32_t exports_kiln_test_counters_counters_method_counter_inc(borrow_t self) { return ++check(self)->value; }

uint32_t exports_kiln_test_counters_counters_method_counter_get(borrow_t self) { return check(self)->value; }

uint32_t exports_kiln_test_counters_counters_method_counter_add(borrow_t self, borrow_t other) {
  // `self` and `other` may be the same counter.
  uint32_t v = check(other)->value;
  return check(self)->value += v;
}

own_t exports_kiln_test_counters_counters_static_counter_merge(own_t a, borrow_t b) {
  uint32_t v = check(exports_kiln_test_counters_counters_counter_rep(a))->value + check(b)->value;
  // Dropping the owned handle runs the destructor (re-entering this component).
  uint32_t before = live;
  exports_kiln_test_counters_counters_counter_drop_own(a);
  if (live != before - 1) __builtin_trap();
  return make(v);
}

void exports_kiln_test_counters_counters_method_counter_split(borrow_t self, uint32_t n,
                                                              exports_kiln_test_counters_counters_list_own_counter_t *ret) {
  uint32_t v = check(self)->value;
  ret->ptr = n ? malloc(n * sizeof(own_t)) : NULL;
  if (n && !ret->ptr) __builtin_trap();
  ret->len = n;
  for (uint32_t i = 0; i < n; i++) ret->ptr[i] = make(v + i);
}

uint32_t exports_kiln_test_counters_counters_total(exports_kiln_test_counters_counters_list_borrow_counter_t *cs) {
  uint32_t sum = 0;
  for (size_t i = 0; i < cs->len; i++) sum += check(cs->ptr[i])->value;
  exports_kiln_test_counters_counters_list_borrow_counter_free(cs);
  return sum;
}

bool exports_kiln_test_counters_counters_largest(exports_kiln_test_counters_counters_list_own_counter_t *cs, own_t *ret) {
  bool found = cs->len > 0;
  size_t best = 0;
  for (size_t i = 1; i < cs->len; i++) {
    if (check(exports_kiln_test_counters_counters_counter_rep(cs->ptr[i]))->value >
        check(exports_kiln_test_counters_counters_counter_rep(cs->ptr[best]))->value)
      best = i;
  }
  for (size_t i = 0; i < cs->len; i++) {
    if (i != best) exports_kiln_test_counters_counters_counter_drop_own(cs->ptr[i]);
  }
  if (found) *ret = cs->ptr[best];
  exports_kiln_test_counters_counters_list_own_counter_free(cs);
  return found;
}

uint32_t exports_kiln_test_counters_counters_live_count(void) { return live; }
