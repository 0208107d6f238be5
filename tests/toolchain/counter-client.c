// The `counter-client` world of wit-counters/counters.wit: uses the imported `counter`
// resource through every function of `counters`. Composed with counter-impl, each call goes
// through a fused adapter that moves owned handles and lends borrowed ones between the two
// components' tables; tests/all/toolchain.rs also runs it against counters implemented by the
// host.
//
// `run(n)` mixes every result into h = h * 31 + v (u32, wrapping), starting from 17, in this
// order (tests/all/toolchain.rs recomputes it; L is live-count minus its value on entry):
//   1. counters a[i] = new(7i + 1) for i < n; L (= n)
//   2. a[i].inc() 1 + i % 3 times, each result
//   3. a[i].add(a[i - 1]) for 0 < i < n, each result; if n > 0, a[0].add(a[0])
//   4. total([a[0], ..., a[n - 1]] borrowed)
//   5. m = new(0); m = merge(m, a[i]) for each i, then m.get() after each merge; L (= n + 1)
//   6. parts = m.split(n % 4 + 1); get() of each part, in order; parts given to `largest`:
//      get() of the result, then dropped; L (= n + 1)
//   7. largest([]): 0 (none) or 1 (some)
//   8. largest(a[0 .. n / 2] given away): get() of the result, or 0 for none, then dropped;
//      the other a[i] and m are dropped; L (= 0)

#include <stdint.h>
#include <stdlib.h>

#include "counter_client.h"

typedef kiln_test_counters_counters_own_counter_t own_t;
typedef kiln_test_counters_counters_borrow_counter_t borrow_t;
typedef kiln_test_counters_counters_list_own_counter_t list_own_t;
typedef kiln_test_counters_counters_list_borrow_counter_t list_borrow_t;

#define NEW kiln_test_counters_counters_constructor_counter
#define INC kiln_test_counters_counters_method_counter_inc
#define GET kiln_test_counters_counters_method_counter_get
#define ADD kiln_test_counters_counters_method_counter_add
#define MERGE kiln_test_counters_counters_static_counter_merge
#define SPLIT kiln_test_counters_counters_method_counter_split
#define TOTAL kiln_test_counters_counters_total
#define LARGEST kiln_test_counters_counters_largest
#define LIVE kiln_test_counters_counters_live_count
#define DROP kiln_test_counters_counters_counter_drop_own

static borrow_t B(own_t c) { return kiln_test_counters_counters_borrow_counter(c); }

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) __builtin_trap();
  return p;
}

static uint32_t h;
static void mix(uint32_t v) { h = h * 31 + v; }

uint32_t exports_counter_client_run(uint32_t n) {
  h = 17;
  uint32_t base = LIVE();

  // 1.
  own_t *a = xmalloc(n * sizeof(own_t));
  for (uint32_t i = 0; i < n; i++) a[i] = NEW(7 * i + 1);
  mix(LIVE() - base);

  // 2.
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t k = 0; k <= i % 3; k++) mix(INC(B(a[i])));

  // 3.
  for (uint32_t i = 1; i < n; i++) mix(ADD(B(a[i]), B(a[i - 1])));
  if (n > 0) mix(ADD(B(a[0]), B(a[0])));

  // 4.
  list_borrow_t borrows = {xmalloc(n * sizeof(borrow_t)), n};
  for (uint32_t i = 0; i < n; i++) borrows.ptr[i] = B(a[i]);
  mix(TOTAL(&borrows));
  free(borrows.ptr);

  // 5.
  own_t m = NEW(0);
  for (uint32_t i = 0; i < n; i++) {
    m = MERGE(m, B(a[i]));
    mix(GET(B(m)));
  }
  mix(LIVE() - base);

  // 6.
  list_own_t parts;
  SPLIT(B(m), n % 4 + 1, &parts);
  for (size_t i = 0; i < parts.len; i++) mix(GET(B(parts.ptr[i])));
  own_t best;
  if (!LARGEST(&parts, &best)) __builtin_trap();
  kiln_test_counters_counters_list_own_counter_free(&parts);
  mix(GET(B(best)));
  DROP(best);
  mix(LIVE() - base);

  // 7.
  list_own_t none = {NULL, 0};
  mix(LARGEST(&none, &best) ? 1 : 0);

  // 8.
  list_own_t half = {a, n / 2};
  if (LARGEST(&half, &best)) {
    mix(GET(B(best)));
    DROP(best);
  } else {
    mix(0);
  }
  for (uint32_t i = n / 2; i < n; i++) DROP(a[i]);
  free(a);
  DROP(m);
  mix(LIVE() - base);
  return h;
}

// Counters kept across calls.
static own_t *kept;
static uint32_t nkept, cap;

uint32_t exports_counter_client_keep(uint32_t start) {
  if (nkept == cap) {
    cap = cap ? 2 * cap : 4;
    kept = realloc(kept, cap * sizeof(own_t));
    if (!kept) __builtin_trap();
  }
  kept[nkept++] = NEW(start);
  return nkept;
}

uint32_t exports_counter_client_release(void) {
  uint32_t sum = 0;
  for (uint32_t i = 0; i < nkept; i++) {
    INC(B(kept[i]));
    sum += GET(B(kept[i]));
    DROP(kept[i]);
  }
  nkept = 0;
  return sum;
}

uint32_t exports_counter_client_live(void) { return LIVE(); }

uint32_t exports_counter_client_misuse(uint32_t kind) {
  own_t a = NEW(1), b = NEW(2);
  switch (kind) {
    case 0:
      DROP(a);
      DROP(a);
      break;
    case 1: {
      // The merged counter's handle takes the index `a` had (freed when `a` moved): drop it first.
      own_t c = MERGE(a, B(b));
      DROP(c);
      GET(B(a));
      break;
    }
    case 2:
      MERGE(a, B(a));
      break;
    case 3: {
      own_t twice[2] = {a, a};
      list_own_t list = {twice, 2};
      LARGEST(&list, &b);
      break;
    }
    case 4:
      GET((borrow_t){0});
      break;
    case 5:
      GET((borrow_t){1000});
      break;
  }
  return kind;
}
