/* Sieve of Eratosthenes over the odd numbers below LIMIT (one byte per odd number), repeated
 * with a segmented variant that sieves 32 KiB blocks; both must agree. Prints the prime count,
 * the sum of the primes and the largest one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT 100000000u
#define SEGMENT 32768u

static uint32_t simple_sieve(uint8_t *composite, uint64_t *sum, uint32_t *largest) {
  uint32_t half = LIMIT / 2; /* index i stands for 2i + 1 */
  memset(composite, 0, half);
  for (uint32_t i = 1; (2 * i + 1) * (2 * i + 1) < LIMIT; i++)
    if (!composite[i])
      for (uint32_t j = (2 * i + 1) * (2 * i + 1) / 2; j < half; j += 2 * i + 1) composite[j] = 1;
  uint32_t count = 1; /* 2 */
  *sum = 2;
  for (uint32_t i = 1; i < half; i++)
    if (!composite[i]) {
      count++;
      *sum += 2 * i + 1;
      *largest = 2 * i + 1;
    }
  return count;
}

static uint32_t segmented_sieve(uint64_t *sum) {
  uint32_t root = 1;
  while ((root + 1) * (root + 1) < LIMIT) root++;
  uint8_t *small = calloc(root + 1, 1);
  uint32_t *primes = malloc(sizeof(uint32_t) * (root + 1));
  uint32_t *next = malloc(sizeof(uint32_t) * (root + 1));
  uint8_t block[SEGMENT];
  if (!small || !primes || !next) exit(1);
  uint32_t nprimes = 0;
  for (uint32_t i = 3; i <= root; i += 2)
    if (!small[i]) {
      for (uint32_t j = i * i; j <= root; j += 2 * i) small[j] = 1;
      primes[nprimes] = i;
      next[nprimes] = i * i;
      nprimes++;
    }
  uint32_t count = 1;
  *sum = 2;
  for (uint32_t low = 0; low < LIMIT; low += 2 * SEGMENT) {
    /* block[k] stands for low + 2k + 1 */
    uint32_t high = low + 2 * SEGMENT < LIMIT ? low + 2 * SEGMENT : LIMIT;
    memset(block, 0, SEGMENT);
    for (uint32_t p = 0; p < nprimes; p++) {
      uint32_t j = next[p];
      for (; j < high; j += 2 * primes[p]) block[(j - low) / 2] = 1;
      next[p] = j;
    }
    for (uint32_t k = 0; k < SEGMENT && low + 2 * k + 1 < high; k++) {
      uint32_t v = low + 2 * k + 1;
      if (v > 1 && !block[k]) {
        count++;
        *sum += v;
      }
    }
  }
  free(small);
  free(primes);
  free(next);
  return count;
}

int main(void) {
  uint8_t *composite = malloc(LIMIT / 2);
  if (!composite) return 1;
  uint64_t sum = 0, sum2 = 0;
  uint32_t largest = 0;
  uint32_t count = simple_sieve(composite, &sum, &largest);
  uint32_t count2 = segmented_sieve(&sum2);
  if (count != count2 || sum != sum2) {
    printf("sieves disagree: %u/%u primes\n", count, count2);
    return 1;
  }
  printf("primes below %u: %u, sum %llu, largest %u\n", LIMIT, count, (unsigned long long)sum, largest);
  free(composite);
  return 0;
}
