// Writes argv[1] MiB (default 64) of 'x' to stdout in 64 KiB blocks, as fast as it can: the
// host must hold it back when nobody reads (wasi_p2::stdout_flood_is_held_back), not buffer it.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  static char block[65536];
  memset(block, 'x', sizeof block);
  long mib = argc > 1 ? atol(argv[1]) : 64;
  for (long i = 0; i < mib * 16; i++) {
    if (fwrite(block, 1, sizeof block, stdout) != sizeof block) return 1;
  }
  return fflush(stdout) == 0 ? 0 : 1;
}
