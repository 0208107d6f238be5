// poll_oneoff with clock subscriptions (sleeps), and with a file descriptor.
#include "common.h"
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

static long long monotonic_ms(void) {
  struct timespec t;
  CHECK(clock_gettime(CLOCK_MONOTONIC, &t) == 0);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(void) {
  long long start = monotonic_ms();
  struct timespec fifty_ms = {.tv_sec = 0, .tv_nsec = 50 * 1000000};
  CHECK(nanosleep(&fifty_ms, NULL) == 0);
  long long slept = monotonic_ms() - start;
  printf("nanosleep(50ms) slept at least 50ms: %s\n", slept >= 50 ? "yes" : "no");
  printf("nanosleep(50ms) returned within 5s: %s\n", slept < 5000 ? "yes" : "no");

  start = monotonic_ms();
  CHECK(usleep(20000) == 0);
  printf("usleep(20ms) slept at least 20ms: %s\n", monotonic_ms() - start >= 20 ? "yes" : "no");

  start = monotonic_ms();
  CHECK(poll(NULL, 0, 30) == 0);
  printf("poll(timeout 30ms) slept at least 30ms: %s\n", monotonic_ms() - start >= 30 ? "yes" : "no");

  // Two timers: only the earlier one fires.
  __wasi_subscription_t subs[2] = {
      {.userdata = 1, .u = {.tag = __WASI_EVENTTYPE_CLOCK, .u.clock = {.id = __WASI_CLOCKID_MONOTONIC, .timeout = 10000000}}},
      {.userdata = 2, .u = {.tag = __WASI_EVENTTYPE_CLOCK, .u.clock = {.id = __WASI_CLOCKID_MONOTONIC, .timeout = 5000000000ull}}},
  };
  __wasi_event_t events[2];
  __wasi_size_t nevents = 0;
  start = monotonic_ms();
  __wasi_errno_t e = __wasi_poll_oneoff(subs, events, 2, &nevents);
  printf("two timers: %s, %u event(s), first userdata %llu, error %u, within 5s: %s\n", errno_name(e), (unsigned)nevents,
         (unsigned long long)events[0].userdata, events[0].error, monotonic_ms() - start < 5000 ? "yes" : "no");

  // An absolute deadline already in the past fires at once.
  __wasi_timestamp_t now;
  CHECK(__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &now) == 0);
  subs[0].u.u.clock.timeout = now - 1;
  subs[0].u.u.clock.flags = __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME;
  e = __wasi_poll_oneoff(subs, events, 1, &nevents);
  printf("past absolute deadline: %s, %u event(s)\n", errno_name(e), (unsigned)nevents);

  // A regular file is always ready, and a bad descriptor is reported in its event.
  int fd = open("/sandbox/data.txt", O_RDONLY);
  CHECK(fd >= 0);
  struct pollfd pfd = {.fd = fd, .events = POLLRDNORM};
  int ready = poll(&pfd, 1, 10000);
  printf("poll(file): %d ready, readable %s\n", ready, (pfd.revents & POLLRDNORM) ? "yes" : "no");
  __wasi_subscription_t fd_subs[2] = {
      {.userdata = 7, .u = {.tag = __WASI_EVENTTYPE_FD_READ, .u.fd_read = {.file_descriptor = fd}}},
      {.userdata = 8, .u = {.tag = __WASI_EVENTTYPE_FD_READ, .u.fd_read = {.file_descriptor = 99}}},
  };
  e = __wasi_poll_oneoff(fd_subs, events, 2, &nevents);
  printf("fd subscriptions: %s, %u event(s)\n", errno_name(e), (unsigned)nevents);
  for (__wasi_size_t i = 0; i < nevents; i++) {
    printf("  userdata %llu type %u error %s nbytes %llu\n", (unsigned long long)events[i].userdata, events[i].type,
           errno_name(events[i].error == __WASI_ERRNO_BADF ? EBADF : events[i].error), (unsigned long long)events[i].fd_readwrite.nbytes);
  }
  e = __wasi_poll_oneoff(fd_subs, events, 0, &nevents);
  printf("no subscriptions: %s\n", errno_name(e));
  close(fd);
  return 0;
}
