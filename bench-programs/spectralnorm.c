/* Spectral norm of the infinite matrix A(i, j) = 1 / ((i + j)(i + j + 1) / 2 + i + 1),
 * truncated to N x N, by 10 steps of the power method on A^T A; prints it to 9 digits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define N 3000

static double a(int i, int j) { return 1.0 / ((i + j) * (i + j + 1) / 2 + i + 1); }

static void times(const double *v, double *out) {
  for (int i = 0; i < N; i++) {
    double sum = 0;
    for (int j = 0; j < N; j++) sum += a(i, j) * v[j];
    out[i] = sum;
  }
}

static void times_transposed(const double *v, double *out) {
  for (int i = 0; i < N; i++) {
    double sum = 0;
    for (int j = 0; j < N; j++) sum += a(j, i) * v[j];
    out[i] = sum;
  }
}

static void times_ata(const double *v, double *out, double *tmp) {
  times(v, tmp);
  times_transposed(tmp, out);
}

int main(void) {
  double *u = malloc(sizeof(double) * N), *v = malloc(sizeof(double) * N), *tmp = malloc(sizeof(double) * N);
  if (!u || !v || !tmp) return 1;
  for (int i = 0; i < N; i++) u[i] = 1;
  for (int i = 0; i < 10; i++) {
    times_ata(u, v, tmp);
    times_ata(v, u, tmp);
  }
  double vbv = 0, vv = 0;
  for (int i = 0; i < N; i++) {
    vbv += u[i] * v[i];
    vv += v[i] * v[i];
  }
  printf("%.9f\n", sqrt(vbv / vv));
  return 0;
}
