/* An open-addressing hash map (linear probing, backward-shift deletion) from 64-bit keys to
 * 32-bit values: bulk inserts, hits and misses, updates and deletions, with a growing table.
 * Prints the final size and a checksum over a walk of the table. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define OPERATIONS 6000000u

typedef struct {
  uint64_t *keys; /* 0 = empty slot, so key 0 is never stored */
  uint32_t *values;
  uint32_t capacity; /* a power of two */
  uint32_t size;
} Map;

static uint64_t mix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

static void map_init(Map *m, uint32_t capacity) {
  m->keys = calloc(capacity, sizeof *m->keys);
  m->values = calloc(capacity, sizeof *m->values);
  if (!m->keys || !m->values) exit(1);
  m->capacity = capacity;
  m->size = 0;
}

static void map_put(Map *m, uint64_t key, uint32_t value);

static void grow(Map *m) {
  Map bigger;
  map_init(&bigger, m->capacity * 2);
  for (uint32_t i = 0; i < m->capacity; i++)
    if (m->keys[i]) map_put(&bigger, m->keys[i], m->values[i]);
  free(m->keys);
  free(m->values);
  *m = bigger;
}

static void map_put(Map *m, uint64_t key, uint32_t value) {
  if ((m->size + 1) * 4 > m->capacity * 3) grow(m);
  uint32_t mask = m->capacity - 1;
  for (uint32_t i = (uint32_t)mix(key) & mask;; i = (i + 1) & mask) {
    if (m->keys[i] == key) {
      m->values[i] = value;
      return;
    }
    if (m->keys[i] == 0) {
      m->keys[i] = key;
      m->values[i] = value;
      m->size++;
      return;
    }
  }
}

static uint32_t *map_get(Map *m, uint64_t key) {
  uint32_t mask = m->capacity - 1;
  for (uint32_t i = (uint32_t)mix(key) & mask;; i = (i + 1) & mask) {
    if (m->keys[i] == key) return &m->values[i];
    if (m->keys[i] == 0) return NULL;
  }
}

static int map_remove(Map *m, uint64_t key) {
  uint32_t mask = m->capacity - 1;
  uint32_t i = (uint32_t)mix(key) & mask;
  while (m->keys[i] != key) {
    if (m->keys[i] == 0) return 0;
    i = (i + 1) & mask;
  }
  /* Shift later members of the probe run back so no tombstones are needed. */
  for (uint32_t j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
    uint32_t home = (uint32_t)mix(m->keys[j]) & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      m->keys[i] = m->keys[j];
      m->values[i] = m->values[j];
      i = j;
    }
  }
  m->keys[i] = 0;
  m->size--;
  return 1;
}

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint64_t next_random(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

int main(void) {
  Map m;
  map_init(&m, 16);
  /* Keys come from a range about OPERATIONS wide, so inserts, hits, misses and removals mix. */
  uint64_t range = OPERATIONS;
  uint32_t hits = 0, misses = 0, removed = 0;
  uint64_t value_sum = 0;
  for (uint32_t op = 0; op < OPERATIONS; op++) {
    uint64_t r = next_random();
    uint64_t key = 1 + (r >> 8) % range;
    switch (r & 7) {
      case 0:
      case 1:
      case 2: map_put(&m, key, (uint32_t)op); break;
      case 3: {
        uint32_t *v = map_get(&m, key);
        if (v) *v += 1;
        else map_put(&m, key, 1);
        break;
      }
      case 4: removed += (uint32_t)map_remove(&m, key); break;
      default: {
        uint32_t *v = map_get(&m, key);
        if (v) {
          hits++;
          value_sum += *v;
        } else {
          misses++;
        }
      }
    }
  }
  uint64_t walk = 0;
  for (uint32_t i = 0; i < m.capacity; i++)
    if (m.keys[i]) walk += mix(m.keys[i] ^ m.values[i]) >> 16;
  printf("size %u, capacity %u, hits %u, misses %u, removed %u\n", m.size, m.capacity, hits, misses, removed);
  printf("value sum %llu, walk %016llx\n", (unsigned long long)value_sum, (unsigned long long)walk);
  return 0;
}
