// random_get: two draws differ and are not all zeros.
#include "common.h"
#include <unistd.h>

int main(void) {
  unsigned char a[64], b[64];
  CHECK(getentropy(a, sizeof a) == 0);
  CHECK(getentropy(b, sizeof b) == 0);
  int zeros = 1;
  for (size_t i = 0; i < sizeof a; i++) zeros &= a[i] == 0;
  printf("draws differ: %s\n", memcmp(a, b, sizeof a) != 0 ? "yes" : "no");
  printf("not all zeros: %s\n", zeros ? "no" : "yes");
  // Many bytes at once, counting each value: every byte value should appear.
  static unsigned char big[1 << 20];
  CHECK(getentropy(big, 256) == 0);
  unsigned long counts[256] = {0};
  for (size_t off = 0; off < sizeof big; off += 256) CHECK(getentropy(big + off, 256) == 0);
  for (size_t i = 0; i < sizeof big; i++) counts[big[i]]++;
  int all_seen = 1;
  for (int v = 0; v < 256; v++) all_seen &= counts[v] > 0;
  printf("every byte value seen in 1 MiB: %s\n", all_seen ? "yes" : "no");
  unsigned r1 = arc4random(), r2 = arc4random(), r3 = arc4random();
  printf("arc4random varies: %s\n", (r1 != r2 || r2 != r3) ? "yes" : "no");
  return 0;
}
