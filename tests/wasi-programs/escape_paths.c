// Attempts to leave the preopened directory: `..`, absolute paths, symlinks pointing outside,
// and raw path calls. Each must fail with the right errno,
// (escape.c also passes pointers outside memory, which the preview1 adapter turns into traps:
// this part runs the same under WASI preview 1 and as a WASI 0.2 component.)
// and nothing outside the sandbox may change (the test checks the whole temporary tree).
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

int main(void) {
  struct stat st;
  char buf[128];

  REPORT("open /sandbox/../outside/secret.txt", open("/sandbox/../outside/secret.txt", O_RDONLY));
  REPORT("open /sandbox/sub/../../outside/secret.txt", open("/sandbox/sub/../../outside/secret.txt", O_RDONLY));
  REPORT("stat /sandbox/..", stat("/sandbox/..", &st));
  REPORT("opendir /sandbox/..", opendir("/sandbox/..") == NULL ? -1 : 0);
  // No preopen covers these: wasi-libc itself refuses them.
  REPORT("open /etc/passwd", open("/etc/passwd", O_RDONLY));
  REPORT("open /outside/secret.txt", open("/outside/secret.txt", O_RDONLY));

  // Symlinks the test created on the host, pointing out of the sandbox.
  REPORT("open relative symlink to outside", open("/sandbox/up", O_RDONLY));
  REPORT("open absolute symlink", open("/sandbox/abs", O_RDONLY));
  REPORT("stat relative symlink to outside", stat("/sandbox/up", &st));
  REPORT("lstat relative symlink to outside", lstat("/sandbox/up", &st));
  ssize_t n = readlink("/sandbox/up", buf, sizeof buf);
  CHECK(n > 0);
  printf("readlink up: %.*s\n", (int)n, buf);

  // Making such links: an absolute target is refused; a relative one is made but cannot be
  // followed out.
  REPORT("symlink to absolute path", symlink("/etc/passwd", "/sandbox/made-abs"));
  REPORT("symlink to ../outside", symlink("../outside/secret.txt", "/sandbox/made-rel"));
  REPORT("open made symlink", open("/sandbox/made-rel", O_RDONLY));
  REPORT("write through made symlink", open("/sandbox/made-rel", O_WRONLY | O_TRUNC));

  // Changing things outside.
  REPORT("mkdir /sandbox/../escaped", mkdir("/sandbox/../escaped", 0755));
  REPORT("create /sandbox/../outside/new.txt", open("/sandbox/../outside/new.txt", O_CREAT | O_WRONLY, 0644));
  REPORT("rename out of the sandbox", rename("/sandbox/inside.txt", "/sandbox/../outside/moved.txt"));
  REPORT("rename into the sandbox", rename("/sandbox/../outside/secret.txt", "/sandbox/stolen.txt"));
  REPORT("unlink /sandbox/../outside/secret.txt", unlink("/sandbox/../outside/secret.txt"));
  REPORT("link to outside", link("/sandbox/../outside/secret.txt", "/sandbox/hard"));

  // Raw WASI calls: an absolute path relative to the preopen, and pointers outside memory.
  __wasi_fd_t fd;
  const char *abs = "/etc/passwd";
  __wasi_errno_t e = __wasi_path_open(3, 0, abs, 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd);
  printf("raw path_open /etc/passwd: %s\n", errno_name(e));
  e = __wasi_path_open(3, 0, "..", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READDIR, 0, 0, &fd);
  printf("raw path_open ..: %s\n", errno_name(e));
  puts("done");
  return 0;
}
