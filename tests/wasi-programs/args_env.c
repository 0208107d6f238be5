// Arguments and environment variables.
#include "common.h"

extern char **environ;

int main(int argc, char **argv) {
  printf("argc: %d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d]: %s\n", i, argv[i]);
  const char *greeting = getenv("GREETING");
  printf("GREETING: %s\n", greeting ? greeting : "(unset)");
  const char *empty = getenv("EMPTY");
  printf("EMPTY: %s\n", empty ? (*empty ? empty : "(empty)") : "(unset)");
  printf("MISSING: %s\n", getenv("MISSING") ? "set" : "(unset)");
  for (char **e = environ; *e; e++) printf("environ: %s\n", *e);
  return 0;
}
