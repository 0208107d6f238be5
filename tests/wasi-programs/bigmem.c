// A large allocation: 256 MiB from malloc, every page written and read back.
#include "common.h"

int main(void) {
  size_t size = 256u << 20;
  unsigned char *p = malloc(size);
  CHECK(p != NULL);
  for (size_t i = 0; i < size; i += 4096) p[i] = (unsigned char)(i >> 12);
  p[size - 1] = 0xAB;
  unsigned long long sum = 0;
  for (size_t i = 0; i < size; i += 4096) sum += p[i];
  printf("allocated %zu bytes\n", size);
  printf("page checksum %llu, last byte 0x%X\n", sum, p[size - 1]);
  free(p);
  return 0;
}
