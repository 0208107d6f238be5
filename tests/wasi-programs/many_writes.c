// 100,000 small printf lines.
#include <stdio.h>

int main(void) {
  for (int i = 0; i < 100000; i++) printf("line %d: the quick brown fox\n", i);
  return 0;
}
