/* The Mandelbrot set on a WIDTH x HEIGHT grid over [-1.5, 0.5] x [-1, 1], at most 50
 * iterations per point, packed eight points per byte; prints the number of points in the set
 * and an FNV-1a hash of the bitmap. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SIZE 3000
#define MAX_ITER 50

int main(void) {
  int row_bytes = (SIZE + 7) / 8;
  uint8_t *bitmap = calloc((size_t)row_bytes * SIZE, 1);
  if (!bitmap) return 1;
  uint32_t inside = 0;
  for (int y = 0; y < SIZE; y++) {
    double ci = 2.0 * y / SIZE - 1.0;
    for (int x = 0; x < SIZE; x++) {
      double cr = 2.0 * x / SIZE - 1.5;
      double zr = 0, zi = 0, tr = 0, ti = 0;
      int i = 0;
      for (; i < MAX_ITER && tr + ti <= 4.0; i++) {
        zi = 2.0 * zr * zi + ci;
        zr = tr - ti + cr;
        tr = zr * zr;
        ti = zi * zi;
      }
      if (i == MAX_ITER) {
        bitmap[y * row_bytes + x / 8] |= (uint8_t)(0x80 >> (x % 8));
        inside++;
      }
    }
  }
  uint32_t fnv = 2166136261u;
  for (int i = 0; i < row_bytes * SIZE; i++) fnv = (fnv ^ bitmap[i]) * 16777619u;
  printf("mandelbrot %dx%d: %u points inside, fnv %08x\n", SIZE, SIZE, inside, fnv);
  free(bitmap);
  return 0;
}
