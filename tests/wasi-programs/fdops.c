// Descriptor-level WASI functions called directly: prestats, fdstat, flags, rights, renumber,
// allocate, advise, sync, readdir paging, times, and the unsupported process/socket calls.
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

#define SHOW(label, call) printf("%s: %s\n", label, errno_name(wasi_to_errno(call)))

// proc_raise is in the witx but no longer declared by wasi-libc's header.
__attribute__((__import_module__("wasi_snapshot_preview1"), __import_name__("proc_raise")))
int32_t raw_proc_raise(int32_t signal);

// wasi-libc's errno values equal WASI's, so a __wasi_errno_t is an errno.
static int wasi_to_errno(__wasi_errno_t e) { return (int)e; }

int main(void) {
  // Preopens: fd 3 is the sandbox.
  __wasi_prestat_t prestat;
  CHECK(__wasi_fd_prestat_get(3, &prestat) == 0);
  char name[64] = {0};
  CHECK(__wasi_fd_prestat_dir_name(3, (uint8_t *)name, prestat.u.dir.pr_name_len) == 0);
  printf("preopen 3: tag %u name %s\n", prestat.tag, name);
  SHOW("prestat_dir_name with a short buffer", __wasi_fd_prestat_dir_name(3, (uint8_t *)name, 1));
  SHOW("prestat of stdout", __wasi_fd_prestat_get(1, &prestat));
  SHOW("prestat of a closed fd", __wasi_fd_prestat_get(77, &prestat));

  // fdstat of the standard streams and the preopen.
  __wasi_fdstat_t fdstat;
  CHECK(__wasi_fd_fdstat_get(1, &fdstat) == 0);
  printf("stdout: can seek %s\n", (fdstat.fs_rights_base & __WASI_RIGHTS_FD_SEEK) ? "yes" : "no");
  CHECK(__wasi_fd_fdstat_get(3, &fdstat) == 0);
  printf("preopen: filetype %u, can open paths %s\n", fdstat.fs_filetype,
         (fdstat.fs_rights_base & __WASI_RIGHTS_PATH_OPEN) ? "yes" : "no");
  __wasi_filesize_t pos;
  SHOW("seek on stdout", __wasi_fd_seek(1, 0, __WASI_WHENCE_CUR, &pos));
  SHOW("tell on a closed fd", __wasi_fd_tell(77, &pos));

  // A file: flags, rights, allocate, advise, sync.
  int fd = open("/sandbox/f.bin", O_CREAT | O_RDWR, 0644);
  CHECK(fd >= 0);
  CHECK(__wasi_fd_fdstat_get(fd, &fdstat) == 0);
  printf("file: filetype %u flags %u read %s write %s\n", fdstat.fs_filetype, fdstat.fs_flags,
         (fdstat.fs_rights_base & __WASI_RIGHTS_FD_READ) ? "yes" : "no",
         (fdstat.fs_rights_base & __WASI_RIGHTS_FD_WRITE) ? "yes" : "no");
  SHOW("fd_allocate 0..4096", __wasi_fd_allocate(fd, 0, 4096));
  struct stat st;
  CHECK(fstat(fd, &st) == 0);
  printf("size after allocate: %lld\n", (long long)st.st_size);
  SHOW("fd_advise sequential", __wasi_fd_advise(fd, 0, 0, __WASI_ADVICE_SEQUENTIAL));
  SHOW("fd_advise bogus", __wasi_fd_advise(fd, 0, 0, 42));
  SHOW("fd_sync", __wasi_fd_sync(fd));
  SHOW("fd_datasync", __wasi_fd_datasync(fd));
  SHOW("fd_sync on the preopen", __wasi_fd_sync(3));
  SHOW("set append flag", __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND));
  CHECK(__wasi_fd_fdstat_get(fd, &fdstat) == 0);
  printf("flags now: append %s\n", (fdstat.fs_flags & __WASI_FDFLAGS_APPEND) ? "yes" : "no");
  CHECK(write(fd, "END", 3) == 3);
  CHECK(fstat(fd, &st) == 0);
  printf("size after appending: %lld\n", (long long)st.st_size);
  SHOW("set sync flag", __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_SYNC));
  SHOW("drop the write right", __wasi_fd_fdstat_set_rights(fd, fdstat.fs_rights_base & ~__WASI_RIGHTS_FD_WRITE, 0));
  SHOW("gain it back", __wasi_fd_fdstat_set_rights(fd, fdstat.fs_rights_base, 0));
  REPORT("write after dropping the right", (int)write(fd, "x", 1));
  SHOW("fd_filestat_set_size on the preopen", __wasi_fd_filestat_set_size(3, 0));
  SHOW("fd_filestat_set_times both set and now",
       __wasi_fd_filestat_set_times(fd, 1, 1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));

  // Renumber: the file moves onto another open descriptor's number.
  int other = open("/sandbox/other.txt", O_CREAT | O_WRONLY, 0644);
  CHECK(other >= 0);
  SHOW("renumber file onto other", __wasi_fd_renumber(fd, other));
  __wasi_filestat_t filestat;
  CHECK(__wasi_fd_filestat_get(other, &filestat) == 0);
  printf("renumbered fd now has size %llu\n", (unsigned long long)filestat.size);
  SHOW("old number is closed", __wasi_fd_close(fd));
  SHOW("renumber onto a closed fd", __wasi_fd_renumber(other, 55));
  CHECK(close(other) == 0);

  // Path times and stat, without following links.
  SHOW("path_filestat_set_times", __wasi_path_filestat_set_times(3, 0, "f.bin", 2000000000000000000ull,
                                                                   0, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_MTIM_NOW));
  CHECK(__wasi_path_filestat_get(3, 0, "f.bin", &filestat) == 0);
  printf("f.bin: type %u size %llu atim %llu mtim recent %s\n", filestat.filetype,
         (unsigned long long)filestat.size, (unsigned long long)filestat.atim,
         filestat.mtim > 1577836800000000000ull ? "yes" : "no");
  SHOW("path_filestat_get missing", __wasi_path_filestat_get(3, 0, "missing", &filestat));
  SHOW("path_open empty path", __wasi_path_open(3, 0, "", 0, 0, 0, 0, &(__wasi_fd_t){0}));

  // fd_readdir with a buffer that holds about one entry: page through with cookies.
  CHECK(mkdir("/sandbox/list", 0755) == 0);
  const char *names[] = {"alpha", "beta", "gamma"};
  for (int i = 0; i < 3; i++) {
    char path[64];
    sprintf(path, "/sandbox/list/%s", names[i]);
    int f = open(path, O_CREAT | O_WRONLY, 0644);
    CHECK(f >= 0);
    close(f);
  }
  int dir = open("/sandbox/list", O_RDONLY | O_DIRECTORY);
  CHECK(dir >= 0);
  __wasi_dircookie_t cookie = 0;
  printf("readdir:");
  for (int round = 0; round < 20; round++) {
    uint8_t buf[sizeof(__wasi_dirent_t) + 8];
    __wasi_size_t used;
    CHECK(__wasi_fd_readdir(dir, buf, sizeof buf, cookie, &used) == 0);
    if (used < sizeof(__wasi_dirent_t)) break;
    __wasi_dirent_t entry;
    memcpy(&entry, buf, sizeof entry);
    if (sizeof entry + entry.d_namlen > used) { // did not fit: the guest needs a bigger buffer
      printf(" <%u-byte name cut off>", entry.d_namlen);
      break;
    }
    printf(" %.*s(%u)", (int)entry.d_namlen, (char *)buf + sizeof entry, entry.d_type);
    cookie = entry.d_next;
    if (used < sizeof buf) break;
  }
  printf("\n");
  SHOW("readdir on a file", __wasi_fd_readdir(1, (uint8_t *)name, sizeof name, 0, &(__wasi_size_t){0}));
  close(dir);

  // Unsupported calls.
  SHOW("proc_raise", (__wasi_errno_t)raw_proc_raise(15));
  SHOW("sock_accept on stdout", __wasi_sock_accept(1, 0, &(__wasi_fd_t){0}));
  SHOW("sock_accept on a closed fd", __wasi_sock_accept(77, 0, &(__wasi_fd_t){0}));
  SHOW("sock_shutdown on stdout", __wasi_sock_shutdown(1, __WASI_SDFLAGS_WR));
  SHOW("sched_yield", __wasi_sched_yield());
  SHOW("close a closed fd", __wasi_fd_close(77));
  return 0;
}
