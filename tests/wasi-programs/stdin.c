// Reads stdin to the end and reports it, upper-cased.
#include "common.h"
#include <ctype.h>

int main(void) {
  char buf[4096];
  size_t total = 0, lines = 0;
  int c;
  while ((c = getchar()) != EOF) {
    CHECK(total < sizeof buf);
    buf[total++] = (char)c;
    if (c == '\n') lines++;
  }
  CHECK(!ferror(stdin));
  printf("read %zu bytes, %zu lines\n", total, lines);
  for (size_t i = 0; i < total; i++) putchar(toupper((unsigned char)buf[i]));
  return 0;
}
