/* Base64 (RFC 4648) encode and decode round trips over pseudo-random buffers of varying length
 * (so all three padding cases occur); decoding rejects bad characters. Prints the total encoded
 * length and an FNV-1a hash of the last encoding. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEN (4u << 20)
#define ROUNDS 80

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t encode(const uint8_t *in, size_t n, char *out) {
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
    out[o++] = alphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = '=';
    out[o++] = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = alphabet[v >> 18];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
    out[o++] = '=';
  }
  return o;
}

static int8_t decode_table[256];

/* Returns the decoded length, or -1 on a character outside the alphabet or bad padding. */
static long decode(const char *in, size_t n, uint8_t *out) {
  if (n % 4 != 0) return -1;
  size_t o = 0;
  for (size_t i = 0; i < n; i += 4) {
    int pad = 0;
    if (i + 4 == n) pad = (in[n - 1] == '=') + (in[n - 2] == '=');
    int8_t a = decode_table[(uint8_t)in[i]], b = decode_table[(uint8_t)in[i + 1]];
    int8_t c = pad == 2 ? 0 : decode_table[(uint8_t)in[i + 2]];
    int8_t d = pad >= 1 ? 0 : decode_table[(uint8_t)in[i + 3]];
    if ((a | b | c | d) < 0) return -1;
    uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
    out[o++] = (uint8_t)(v >> 16);
    if (pad < 2) out[o++] = (uint8_t)(v >> 8);
    if (pad < 1) out[o++] = (uint8_t)v;
  }
  return (long)o;
}

int main(void) {
  memset(decode_table, -1, sizeof decode_table);
  for (int i = 0; i < 64; i++) decode_table[(uint8_t)alphabet[i]] = (int8_t)i;
  uint8_t *data = malloc(MAX_LEN);
  char *text = malloc(MAX_LEN / 3 * 4 + 8);
  uint8_t *back = malloc(MAX_LEN);
  if (!data || !text || !back) return 1;
  uint32_t x = 1;
  for (uint32_t i = 0; i < MAX_LEN; i++) {
    x = x * 1103515245u + 12345u;
    data[i] = (uint8_t)(x >> 16);
  }
  uint64_t total = 0;
  size_t text_len = 0;
  for (int round = 0; round < ROUNDS; round++) {
    size_t n = MAX_LEN - (size_t)round * 7919;
    data[round] ^= (uint8_t)round;
    text_len = encode(data, n, text);
    long m = decode(text, text_len, back);
    if (m != (long)n || memcmp(back, data, n) != 0) {
      printf("round %d: round trip failed\n", round);
      return 1;
    }
    total += text_len;
  }
  text[10] = '!';
  if (decode(text, text_len, back) != -1) {
    printf("a bad character was accepted\n");
    return 1;
  }
  uint32_t fnv = 2166136261u;
  for (size_t i = 0; i < text_len; i++) fnv = (fnv ^ (uint8_t)text[i]) * 16777619u;
  printf("base64: %llu characters encoded, last fnv %08x\n", (unsigned long long)total, fnv);
  return 0;
}
