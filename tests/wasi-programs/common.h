// Helpers shared by the WASI test programs (tests/all/wasi.rs runs them).
#ifndef KILN_WASI_TEST_COMMON_H
#define KILN_WASI_TEST_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Stops the program with a message naming the failed condition and errno.
#define CHECK(cond)                                                                                  \
  do {                                                                                               \
    if (!(cond)) {                                                                                   \
      printf("FAIL %s:%d: %s (errno %d: %s)\n", __FILE__, __LINE__, #cond, errno, strerror(errno)); \
      exit(1);                                                                                       \
    }                                                                                                \
  } while (0)

// The symbolic name of an errno value, so expected outputs read like the code.
static inline const char *errno_name(int e) {
  switch (e) {
  case 0: return "OK";
  case EPERM: return "EPERM";
  case ENOENT: return "ENOENT";
  case EACCES: return "EACCES";
  case EBADF: return "EBADF";
  case EEXIST: return "EEXIST";
  case EFAULT: return "EFAULT";
  case EINVAL: return "EINVAL";
  case EISDIR: return "EISDIR";
  case ELOOP: return "ELOOP";
  case ENAMETOOLONG: return "ENAMETOOLONG";
  case ENOSYS: return "ENOSYS";
  case ENOTCAPABLE: return "ENOTCAPABLE";
  case ENOTDIR: return "ENOTDIR";
  case ENOTEMPTY: return "ENOTEMPTY";
  case ENOTSUP: return "ENOTSUP";
  case ESPIPE: return "ESPIPE";
  case EXDEV: return "EXDEV";
  default: return "other";
  }
}

// Prints what a call returned: "OK", or the errno's name.
#define REPORT(label, call)                                      \
  do {                                                           \
    errno = 0;                                                   \
    int report_result_ = (call);                                 \
    printf("%s: %s\n", label, report_result_ < 0 ? errno_name(errno) : "OK"); \
  } while (0)

#endif
