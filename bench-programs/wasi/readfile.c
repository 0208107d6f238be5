// Reads a whole file (argv[1]) in 64 KiB chunks and prints its size and a checksum, so the
// bytes are really looked at. Through the preview1 adapter, each read is a wasi:filesystem
// read of the file's descriptor.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: readfile FILE\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror("fopen");
    return 1;
  }
  static unsigned char buf[65536];
  unsigned long long total = 0, sum = 0;
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    for (size_t i = 0; i < n; i += 4096) sum += buf[i];
    total += n;
  }
  fclose(f);
  printf("%llu bytes, checksum %llu\n", total, sum);
  return 0;
}
