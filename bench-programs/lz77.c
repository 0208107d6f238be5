/* LZ77 compression round trip: generated text (words drawn from a skewed vocabulary, so there
 * is plenty to match) is compressed with a hash-chain matcher over a 64 KiB window and
 * decompressed again; the output must equal the input. Prints sizes and an FNV-1a hash of the
 * compressed stream.
 *
 * Stream format: a control byte per 8 items (bit set = match); a literal is one byte, a match
 * is three bytes: 16-bit distance (little endian) and length - MIN_MATCH. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_SIZE (8u << 20)
#define WINDOW 65535u
#define MIN_MATCH 4
#define MAX_MATCH (MIN_MATCH + 255)
#define HASH_BITS 16
#define MAX_CHAIN 96
#define NO_POS 0xffffffffu

static uint32_t rng_state = 12345u;

static uint32_t next_random(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static size_t generate_text(uint8_t *out, size_t size) {
  static const char *syllables[] = {"ka", "lo", "mi", "ne", "ru", "ta", "si", "po", "ve", "qua", "zen", "dor"};
  char vocab[512][16];
  for (int w = 0; w < 512; w++) {
    int n = 1 + (int)(next_random() % 4);
    vocab[w][0] = 0;
    for (int i = 0; i < n; i++) strcat(vocab[w], syllables[next_random() % 12]);
  }
  size_t len = 0;
  while (len + 32 < size) {
    /* Squaring a uniform number skews the choice towards the first words. */
    uint32_t r = next_random() % 512;
    const char *word = vocab[(r * r) / 512];
    size_t wl = strlen(word);
    memcpy(out + len, word, wl);
    len += wl;
    uint32_t p = next_random() % 16;
    out[len++] = p == 0 ? '.' : p == 1 ? ',' : ' ';
    if (p == 0) out[len++] = '\n';
  }
  return len;
}

static uint32_t hash4(const uint8_t *p) {
  uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  return (v * 2654435761u) >> (32 - HASH_BITS);
}

static size_t compress(const uint8_t *in, size_t n, uint8_t *out, uint32_t *head, uint32_t *prev) {
  for (uint32_t i = 0; i < (1u << HASH_BITS); i++) head[i] = NO_POS;
  size_t o = 0, control_at = 0;
  int items = 8;
  size_t i = 0;
  while (i < n) {
    if (items == 8) {
      control_at = o++;
      out[control_at] = 0;
      items = 0;
    }
    size_t best_len = 0, best_dist = 0;
    if (i + MIN_MATCH <= n) {
      uint32_t h = hash4(in + i);
      uint32_t cand = head[h];
      size_t limit = n - i < MAX_MATCH ? n - i : MAX_MATCH;
      for (int chain = 0; chain < MAX_CHAIN && cand != NO_POS && i - cand <= WINDOW; chain++) {
        if (in[cand + best_len] == in[i + best_len]) {
          size_t l = 0;
          while (l < limit && in[cand + l] == in[i + l]) l++;
          if (l > best_len) {
            best_len = l;
            best_dist = i - cand;
            if (l == limit) break;
          }
        }
        cand = prev[cand];
      }
      prev[i] = head[h];
      head[h] = (uint32_t)i;
    }
    if (best_len >= MIN_MATCH) {
      out[control_at] |= (uint8_t)(1u << items);
      out[o++] = (uint8_t)best_dist;
      out[o++] = (uint8_t)(best_dist >> 8);
      out[o++] = (uint8_t)(best_len - MIN_MATCH);
      /* Insert the matched positions into the chains so later matches can find them. */
      for (size_t k = 1; k < best_len; k++) {
        size_t j = i + k;
        if (j + MIN_MATCH <= n) {
          uint32_t h = hash4(in + j);
          prev[j] = head[h];
          head[h] = (uint32_t)j;
        }
      }
      i += best_len;
    } else {
      out[o++] = in[i++];
    }
    items++;
  }
  return o;
}

static size_t decompress(const uint8_t *in, size_t n, uint8_t *out) {
  size_t i = 0, o = 0;
  while (i < n) {
    uint8_t control = in[i++];
    for (int item = 0; item < 8 && i < n; item++) {
      if (control & (1u << item)) {
        size_t dist = (size_t)in[i] | (size_t)in[i + 1] << 8;
        size_t len = (size_t)in[i + 2] + MIN_MATCH;
        i += 3;
        /* Byte by byte: a match may overlap its own output. */
        for (size_t k = 0; k < len; k++, o++) out[o] = out[o - dist];
      } else {
        out[o++] = in[i++];
      }
    }
  }
  return o;
}

int main(void) {
  uint8_t *input = malloc(INPUT_SIZE);
  uint8_t *packed = malloc(INPUT_SIZE + INPUT_SIZE / 8 + 16);
  uint8_t *unpacked = malloc(INPUT_SIZE);
  uint32_t *head = malloc(sizeof(uint32_t) << HASH_BITS);
  uint32_t *prev = malloc(sizeof(uint32_t) * INPUT_SIZE);
  if (!input || !packed || !unpacked || !head || !prev) return 1;
  size_t n = generate_text(input, INPUT_SIZE);
  size_t packed_len = compress(input, n, packed, head, prev);
  size_t unpacked_len = decompress(packed, packed_len, unpacked);
  if (unpacked_len != n || memcmp(input, unpacked, n) != 0) {
    printf("round trip failed: %zu bytes in, %zu bytes out\n", n, unpacked_len);
    return 1;
  }
  uint32_t fnv = 2166136261u;
  for (size_t i = 0; i < packed_len; i++) fnv = (fnv ^ packed[i]) * 16777619u;
  printf("lz77: %zu -> %zu bytes (%.1f%%), fnv %08x\n", n, packed_len, 100.0 * (double)packed_len / (double)n, fnv);
  return 0;
}
