// File I/O inside a preopened directory: create, write, read, seek, stat, readdir, rename,
// unlink, mkdir, rmdir, symlink, readlink, hard links, truncation, times, append.
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static int compare_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// Prints a directory's entries (without . and ..) sorted by name, with their types.
static void list(const char *path) {
  DIR *dir = opendir(path);
  CHECK(dir != NULL);
  char *names[64];
  int n = 0;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) {
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
    CHECK(n < 64);
    char *name = malloc(strlen(entry->d_name) + 3);
    sprintf(name, "%s%s", entry->d_name,
            entry->d_type == DT_DIR ? "/" : entry->d_type == DT_LNK ? "@" : "");
    names[n++] = name;
  }
  CHECK(closedir(dir) == 0);
  qsort(names, n, sizeof names[0], compare_names);
  printf("ls %s:", path);
  for (int i = 0; i < n; i++) {
    printf(" %s", names[i]);
    free(names[i]);
  }
  printf("\n");
}

int main(void) {
  char buf[256];

  // Create and write.
  int fd = open("/sandbox/a.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
  CHECK(fd >= 0);
  CHECK(write(fd, "hello, world\n", 13) == 13);
  CHECK(close(fd) == 0);

  // Read back with stdio.
  FILE *f = fopen("/sandbox/a.txt", "r");
  CHECK(f != NULL);
  CHECK(fgets(buf, sizeof buf, f) != NULL);
  printf("read: %s", buf);
  CHECK(fclose(f) == 0);

  // Seek, overwrite, pread, pwrite.
  fd = open("/sandbox/a.txt", O_RDWR);
  CHECK(fd >= 0);
  CHECK(lseek(fd, 7, SEEK_SET) == 7);
  CHECK(write(fd, "WASI!", 5) == 5);
  CHECK(lseek(fd, 0, SEEK_CUR) == 12);
  CHECK(lseek(fd, 0, SEEK_END) == 13);
  CHECK(lseek(fd, -6, SEEK_END) == 7);
  CHECK(lseek(fd, 0, SEEK_SET) == 0);
  ssize_t n = read(fd, buf, sizeof buf);
  CHECK(n == 13);
  printf("after overwrite: %.*s", (int)n, buf);
  CHECK(pwrite(fd, "H", 1, 0) == 1);
  CHECK(pread(fd, buf, 5, 7) == 5);
  printf("pread: %.5s\n", buf);
  CHECK(lseek(fd, 0, SEEK_CUR) == 13); // pread/pwrite leave the position alone
  REPORT("seek before start", (int)lseek(fd, -100, SEEK_SET));

  // fstat and ftruncate.
  struct stat st;
  CHECK(fstat(fd, &st) == 0);
  printf("fstat: size %lld regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
  CHECK(ftruncate(fd, 5) == 0);
  CHECK(fstat(fd, &st) == 0);
  printf("truncated: size %lld\n", (long long)st.st_size);
  CHECK(close(fd) == 0);

  // Append mode.
  fd = open("/sandbox/a.txt", O_WRONLY | O_APPEND);
  CHECK(fd >= 0);
  CHECK(write(fd, "+tail\n", 6) == 6);
  CHECK(close(fd) == 0);
  fd = open("/sandbox/a.txt", O_RDONLY);
  n = read(fd, buf, sizeof buf);
  printf("appended: %.*s", (int)n, buf);
  // A read-only descriptor cannot write.
  REPORT("write to read-only fd", (int)write(fd, "x", 1));
  CHECK(close(fd) == 0);
  fd = open("/sandbox/a.txt", O_WRONLY);
  REPORT("read from write-only fd", (int)read(fd, buf, 1));
  CHECK(close(fd) == 0);

  // The file the test put there.
  f = fopen("/sandbox/existing.txt", "r");
  CHECK(f != NULL);
  CHECK(fgets(buf, sizeof buf, f) != NULL);
  printf("existing: %s", buf);
  fclose(f);

  // Directories.
  CHECK(stat("/sandbox", &st) == 0 && S_ISDIR(st.st_mode));
  CHECK(mkdir("/sandbox/sub", 0755) == 0);
  REPORT("mkdir again", mkdir("/sandbox/sub", 0755));
  fd = open("/sandbox/sub/b.txt", O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0);
  CHECK(write(fd, "bee\n", 4) == 4);
  CHECK(close(fd) == 0);
  CHECK(mkdir("/sandbox/sub/empty", 0755) == 0);
  CHECK(mkdir("/sandbox/gone", 0755) == 0);
  list("/sandbox");
  list("/sandbox/sub");

  // Rename and unlink.
  CHECK(rename("/sandbox/sub/b.txt", "/sandbox/sub/c.txt") == 0);
  REPORT("stat renamed-away name", stat("/sandbox/sub/b.txt", &st));
  fd = open("/sandbox/tmp.txt", O_CREAT | O_EXCL | O_WRONLY, 0644);
  CHECK(fd >= 0);
  CHECK(close(fd) == 0);
  REPORT("O_EXCL on existing file", open("/sandbox/tmp.txt", O_CREAT | O_EXCL | O_WRONLY, 0644));
  CHECK(unlink("/sandbox/tmp.txt") == 0);
  REPORT("unlink missing file", unlink("/sandbox/tmp.txt"));
  REPORT("open missing file", open("/sandbox/nope.txt", O_RDONLY));
  REPORT("open directory for writing", open("/sandbox/sub", O_WRONLY));
  REPORT("rmdir non-empty directory", rmdir("/sandbox/sub"));
  REPORT("rmdir a file", rmdir("/sandbox/a.txt"));
  REPORT("unlink a directory", unlink("/sandbox/sub/empty"));
  REPORT("open file as directory", open("/sandbox/a.txt", O_RDONLY | O_DIRECTORY));
  CHECK(rmdir("/sandbox/gone") == 0);
  // `..` that stays inside the preopen is fine.
  CHECK(stat("/sandbox/sub/../a.txt", &st) == 0);
  printf("stat through ..: size %lld\n", (long long)st.st_size);

  // Symlinks and hard links.
  CHECK(symlink("c.txt", "/sandbox/sub/link") == 0);
  n = readlink("/sandbox/sub/link", buf, sizeof buf);
  CHECK(n > 0);
  printf("readlink: %.*s\n", (int)n, buf);
  CHECK(lstat("/sandbox/sub/link", &st) == 0);
  printf("lstat link: symlink %d\n", S_ISLNK(st.st_mode));
  f = fopen("/sandbox/sub/link", "r");
  CHECK(f != NULL);
  CHECK(fgets(buf, sizeof buf, f) != NULL);
  printf("through link: %s", buf);
  fclose(f);
  REPORT("O_NOFOLLOW on a symlink", open("/sandbox/sub/link", O_RDONLY | O_NOFOLLOW));
  CHECK(link("/sandbox/sub/c.txt", "/sandbox/hard.txt") == 0);
  CHECK(stat("/sandbox/hard.txt", &st) == 0);
  printf("hard link: nlink %llu size %lld\n", (unsigned long long)st.st_nlink, (long long)st.st_size);

  // Times.
  struct timespec times[2] = {{.tv_sec = 1000000000, .tv_nsec = 0}, {.tv_sec = 1234567890, .tv_nsec = 5000}};
  CHECK(utimensat(AT_FDCWD, "/sandbox/hard.txt", times, 0) == 0);
  CHECK(stat("/sandbox/hard.txt", &st) == 0);
  printf("times: atime %lld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec,
         st.st_mtim.tv_nsec);
  fd = open("/sandbox/hard.txt", O_RDONLY);
  struct timespec only_mtime[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = 1500000000}};
  CHECK(futimens(fd, only_mtime) == 0);
  CHECK(fstat(fd, &st) == 0);
  printf("futimens: atime %lld mtime %lld\n", (long long)st.st_atim.tv_sec, (long long)st.st_mtim.tv_sec);
  CHECK(close(fd) == 0);

  list("/sandbox");
  list("/sandbox/sub");
  printf("done\n");
  return 0;
}
