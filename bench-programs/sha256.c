/* SHA-256 (FIPS 180-4) over a 1 MiB pseudo-random buffer, chained: each round hashes the buffer
 * with the previous digest written over its start. Checks the implementation against the
 * standard "abc" test vector first. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUFFER_SIZE (1u << 20)
#define ROUNDS 128

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

typedef struct {
  uint32_t state[8];
  uint8_t block[64];
  uint32_t block_len;
  uint64_t total_len;
} Sha256;

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void compress(uint32_t state[8], const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
  state[5] += f;
  state[6] += g;
  state[7] += h;
}

static void sha256_init(Sha256 *s) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->state, iv, sizeof iv);
  s->block_len = 0;
  s->total_len = 0;
}

static void sha256_update(Sha256 *s, const uint8_t *data, size_t len) {
  s->total_len += len;
  while (len > 0) {
    if (s->block_len == 0 && len >= 64) {
      compress(s->state, data);
      data += 64;
      len -= 64;
      continue;
    }
    size_t take = 64 - s->block_len < len ? 64 - s->block_len : len;
    memcpy(s->block + s->block_len, data, take);
    s->block_len += (uint32_t)take;
    data += take;
    len -= take;
    if (s->block_len == 64) {
      compress(s->state, s->block);
      s->block_len = 0;
    }
  }
}

static void sha256_final(Sha256 *s, uint8_t out[32]) {
  uint64_t bits = s->total_len * 8;
  uint8_t pad[72] = {0x80};
  size_t pad_len = (s->block_len < 56 ? 56 : 120) - s->block_len;
  for (int i = 0; i < 8; i++) pad[pad_len + i] = (uint8_t)(bits >> (56 - 8 * i));
  sha256_update(s, pad, pad_len + 8);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(s->state[i] >> 24);
    out[4 * i + 1] = (uint8_t)(s->state[i] >> 16);
    out[4 * i + 2] = (uint8_t)(s->state[i] >> 8);
    out[4 * i + 3] = (uint8_t)s->state[i];
  }
}

static void print_hex(const char *label, const uint8_t *d) {
  printf("%s", label);
  for (int i = 0; i < 32; i++) printf("%02x", d[i]);
  printf("\n");
}

int main(void) {
  uint8_t digest[32];
  Sha256 s;
  sha256_init(&s);
  sha256_update(&s, (const uint8_t *)"abc", 3);
  sha256_final(&s, digest);
  print_hex("sha256(abc): ", digest);

  uint8_t *buffer = malloc(BUFFER_SIZE);
  if (!buffer) return 1;
  uint32_t x = 0x9e3779b9u;
  for (uint32_t i = 0; i < BUFFER_SIZE; i++) {
    x = x * 1664525u + 1013904223u;
    buffer[i] = (uint8_t)(x >> 24);
  }
  for (int round = 0; round < ROUNDS; round++) {
    memcpy(buffer, digest, sizeof digest);
    sha256_init(&s);
    /* Odd-sized pieces exercise the partial-block path too. */
    size_t first = 1000 + (size_t)round;
    sha256_update(&s, buffer, first);
    sha256_update(&s, buffer + first, BUFFER_SIZE - first);
    sha256_final(&s, digest);
  }
  print_hex("sha256 chain: ", digest);
  free(buffer);
  return 0;
}
