// exit(3) ends the program with status 3 after flushing stdout.
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  printf("before exit\n");
  exit(3);
  printf("not reached\n");
}
