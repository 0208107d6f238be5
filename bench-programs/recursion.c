/* Call-heavy recursion: naive Fibonacci, the Ackermann function, N-queens by backtracking with
 * bit masks, and the Tak function. Prints each result. */
#include <stdint.h>
#include <stdio.h>

static uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static uint32_t ackermann(uint32_t m, uint32_t n) {
  if (m == 0) return n + 1;
  if (n == 0) return ackermann(m - 1, 1);
  return ackermann(m - 1, ackermann(m, n - 1));
}

static uint32_t queens(uint32_t all, uint32_t columns, uint32_t left, uint32_t right) {
  if (columns == all) return 1;
  uint32_t count = 0;
  for (uint32_t free = all & ~(columns | left | right); free; free &= free - 1) {
    uint32_t bit = free & -free;
    count += queens(all, columns | bit, (left | bit) << 1, (right | bit) >> 1);
  }
  return count;
}

static int tak(int x, int y, int z) { return y < x ? tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y)) : z; }

int main(void) {
  printf("fib(38) = %u\n", fib(38));
  printf("ackermann(2, 2000) = %u\n", ackermann(2, 2000));
  printf("ackermann(3, 9) = %u\n", ackermann(3, 9));
  printf("queens(13) = %u\n", queens((1u << 13) - 1, 0, 0, 0));
  printf("tak(30, 20, 10) = %d\n", tak(30, 20, 10));
  return 0;
}
