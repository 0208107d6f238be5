/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) over a pseudo-random buffer, computed
 * byte-at-a-time with one table and eight-bytes-at-a-time with eight tables ("slicing by 8");
 * both must agree. Also checks the standard "123456789" check value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUFFER_SIZE (8u << 20)
#define ROUNDS 20

static uint32_t tables[8][256];

static void make_tables(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    tables[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++) tables[t][i] = (tables[t - 1][i] >> 8) ^ tables[0][tables[t - 1][i] & 0xff];
}

static uint32_t crc_bytewise(uint32_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
  while (n--) crc = tables[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

static uint32_t crc_slice8(uint32_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
  while (n >= 8) {
    uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
    crc = tables[7][lo & 0xff] ^ tables[6][(lo >> 8) & 0xff] ^ tables[5][(lo >> 16) & 0xff] ^ tables[4][lo >> 24] ^
          tables[3][hi & 0xff] ^ tables[2][(hi >> 8) & 0xff] ^ tables[1][(hi >> 16) & 0xff] ^ tables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) crc = tables[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

int main(void) {
  make_tables();
  const char *check = "123456789";
  printf("crc32(123456789) = %08x / %08x\n", crc_bytewise(0, (const uint8_t *)check, 9),
         crc_slice8(0, (const uint8_t *)check, 9));
  uint8_t *buffer = malloc(BUFFER_SIZE);
  if (!buffer) return 1;
  uint64_t x = 0x2545F4914F6CDD1Dull;
  for (uint32_t i = 0; i < BUFFER_SIZE; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    buffer[i] = (uint8_t)x;
  }
  uint32_t a = 0, b = 0;
  for (int round = 0; round < ROUNDS; round++) {
    /* Odd offsets and lengths exercise the tail loop; the CRC chains across rounds. */
    size_t off = (size_t)round * 3, n = BUFFER_SIZE - off - (size_t)round;
    a = crc_bytewise(a, buffer + off, n);
    b = crc_slice8(b, buffer + off, n);
    if (a != b) {
      printf("round %d: bytewise %08x != slice-by-8 %08x\n", round, a, b);
      return 1;
    }
  }
  printf("crc32 chain: %08x\n", a);
  return 0;
}
