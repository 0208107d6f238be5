// Prints, then traps (unreachable): the runner reports a trap, not an exit status.
#include <stdio.h>

__attribute__((noinline)) static void crash(void) { __builtin_trap(); }

int main(void) {
  printf("about to trap\n");
  fflush(stdout);
  crash();
  return 0;
}
