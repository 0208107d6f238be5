/* Sorting: an introspective quicksort (median of three, insertion sort for short ranges) and a
 * bottom-up merge sort over pseudo-random 32-bit integers; prints a position-weighted checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 1000000
#define ROUNDS 4

static uint32_t rng_state = 2463534242u;

static uint32_t next_random(void) {
  uint32_t x = rng_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return rng_state = x;
}

static void insertion_sort(int32_t *a, int lo, int hi) {
  for (int i = lo + 1; i <= hi; i++) {
    int32_t v = a[i];
    int j = i - 1;
    while (j >= lo && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

static void swap(int32_t *a, int i, int j) {
  int32_t t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/* Sorts a[lo..hi] (inclusive); recurses into the smaller half so the depth stays logarithmic. */
static void quicksort(int32_t *a, int lo, int hi) {
  while (hi - lo > 16) {
    int mid = lo + (hi - lo) / 2;
    if (a[mid] < a[lo]) swap(a, mid, lo);
    if (a[hi] < a[lo]) swap(a, hi, lo);
    if (a[hi] < a[mid]) swap(a, hi, mid);
    int32_t pivot = a[mid];
    int i = lo - 1, j = hi + 1;
    for (;;) {
      do i++; while (a[i] < pivot);
      do j--; while (a[j] > pivot);
      if (i >= j) break;
      swap(a, i, j);
    }
    if (j - lo < hi - j) {
      quicksort(a, lo, j);
      lo = j + 1;
    } else {
      quicksort(a, j + 1, hi);
      hi = j;
    }
  }
  insertion_sort(a, lo, hi);
}

static void merge_sort(int32_t *a, int32_t *tmp, int n) {
  for (int width = 1; width < n; width *= 2) {
    for (int lo = 0; lo < n; lo += 2 * width) {
      int mid = lo + width < n ? lo + width : n;
      int hi = lo + 2 * width < n ? lo + 2 * width : n;
      int i = lo, j = mid, k = lo;
      while (i < mid && j < hi) tmp[k++] = a[j] < a[i] ? a[j++] : a[i++];
      while (i < mid) tmp[k++] = a[i++];
      while (j < hi) tmp[k++] = a[j++];
    }
    memcpy(a, tmp, (size_t)n * sizeof *a);
  }
}

static uint32_t checksum(const int32_t *a, int n) {
  uint32_t sum = 0;
  for (int i = 0; i < n; i++) {
    if (i > 0 && a[i - 1] > a[i]) {
      printf("not sorted at %d\n", i);
      exit(1);
    }
    sum = sum * 31u + (uint32_t)a[i] * (uint32_t)(i + 1);
  }
  return sum;
}

int main(void) {
  int32_t *a = malloc(N * sizeof *a);
  int32_t *b = malloc(N * sizeof *b);
  int32_t *tmp = malloc(N * sizeof *tmp);
  if (!a || !b || !tmp) return 1;
  uint32_t total = 0;
  for (int round = 0; round < ROUNDS; round++) {
    /* Every other round has many duplicates, which stresses the partitioning. */
    uint32_t mask = round % 2 ? 0xffffu : 0xffffffffu;
    for (int i = 0; i < N; i++) a[i] = (int32_t)(next_random() & mask);
    memcpy(b, a, N * sizeof *a);
    quicksort(a, 0, N - 1);
    merge_sort(b, tmp, N);
    if (memcmp(a, b, N * sizeof *a) != 0) {
      printf("quicksort and merge sort disagree\n");
      return 1;
    }
    uint32_t c = checksum(a, N);
    printf("round %d: min %d max %d checksum %08x\n", round, a[0], a[N - 1], c);
    total ^= c;
  }
  printf("sort: %08x\n", total);
  free(a);
  free(b);
  free(tmp);
  return 0;
}
