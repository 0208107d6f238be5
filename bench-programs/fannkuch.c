/* Fannkuch-redux: for every permutation of 0..N-1 (in the benchmark's rotation order), count
 * the pancake flips until 0 is in front; prints the checksum (alternating sum of flip counts)
 * and the maximum number of flips. Round 0 is the standard benchmark; later rounds start the
 * enumeration from another permutation (reversed, then i -> 3i mod N), which visits the same
 * permutations in another order. */
#include <stdio.h>

#define N 10
#define ROUNDS 3

static void fannkuch(const int *start, int *checksum_out, int *max_flips_out) {
  int perm[N], perm1[N], count[N];
  int max_flips = 0, checksum = 0, permutation = 0;
  for (int i = 0; i < N; i++) perm1[i] = start[i];
  int r = N;
  for (;;) {
    while (r != 1) {
      count[r - 1] = r;
      r--;
    }
    for (int i = 0; i < N; i++) perm[i] = perm1[i];
    int flips = 0;
    for (int k = perm[0]; k != 0; k = perm[0]) {
      for (int i = 0, j = k; i < j; i++, j--) {
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
      }
      flips++;
    }
    if (flips > max_flips) max_flips = flips;
    checksum += permutation % 2 == 0 ? flips : -flips;
    /* Next permutation: rotate the first r+1 elements until a counter is left. */
    for (;;) {
      if (r == N) {
        *checksum_out = checksum;
        *max_flips_out = max_flips;
        return;
      }
      int first = perm1[0];
      for (int i = 0; i < r; i++) perm1[i] = perm1[i + 1];
      perm1[r] = first;
      if (--count[r] > 0) break;
      r++;
    }
    permutation++;
  }
}

int main(void) {
  for (int round = 0; round < ROUNDS; round++) {
    int start[N], checksum, max_flips;
    for (int i = 0; i < N; i++) start[i] = round == 0 ? i : round == 1 ? N - 1 - i : 3 * i % N;
    fannkuch(start, &checksum, &max_flips);
    printf("%d\nPfannkuchen(%d) = %d\n", checksum, N, max_flips);
  }
  return 0;
}
