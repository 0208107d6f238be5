// The smallest WASI command: start-up cost of a component that prints one line.
#include <stdio.h>

int main(void) {
  puts("hello");
  return 0;
}
