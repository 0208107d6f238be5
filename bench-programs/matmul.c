/* Dense matrix multiply of doubles: C = A * B with N x N matrices in i-k-j order (row-major,
 * unit stride in the inner loop), then C' = C * A to chain the result. Prints the trace and a
 * sum of all elements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 512

static void multiply(const double *a, const double *b, double *c) {
  memset(c, 0, sizeof(double) * N * N);
  for (int i = 0; i < N; i++) {
    double *row = c + i * N;
    for (int k = 0; k < N; k++) {
      double aik = a[i * N + k];
      const double *brow = b + k * N;
      for (int j = 0; j < N; j++) row[j] += aik * brow[j];
    }
  }
}

int main(void) {
  double *a = malloc(sizeof(double) * N * N);
  double *b = malloc(sizeof(double) * N * N);
  double *c = malloc(sizeof(double) * N * N);
  double *d = malloc(sizeof(double) * N * N);
  if (!a || !b || !c || !d) return 1;
  /* Multiples of 1/64: the products start out exact. */
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      a[i * N + j] = (double)((i * 7 + j * 13) % 17 - 8) / 64.0;
      b[i * N + j] = (double)((i * 11 + j * 5) % 19 - 9) / 64.0;
    }
  double trace = 0, sum = 0;
  for (int rep = 0; rep < 8; rep++) {
    multiply(a, b, c);
    multiply(c, a, d);
    trace = 0;
    sum = 0;
    for (int i = 0; i < N; i++) trace += d[i * N + i];
    for (int i = 0; i < N * N; i++) sum += d[i];
    /* Feed a little of the result back so no repetition can be skipped. */
    b[rep] += d[rep] / 1024.0;
  }
  printf("matmul %d: trace %.6f sum %.6f\n", N, trace, sum);
  return 0;
}
