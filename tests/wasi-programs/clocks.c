// Clocks: the monotonic clock increases, the realtime clock is plausible, resolutions are sane.
#include "common.h"
#include <time.h>

static long long nanos(struct timespec t) { return (long long)t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(void) {
  struct timespec a, b, res, now;
  CHECK(clock_gettime(CLOCK_MONOTONIC, &a) == 0);
  volatile unsigned long spin = 0;
  for (int i = 0; i < 1000000; i++) spin += i;
  CHECK(clock_gettime(CLOCK_MONOTONIC, &b) == 0);
  printf("monotonic increases: %s\n", nanos(b) > nanos(a) ? "yes" : "no");
  long long previous = nanos(b);
  int never_backwards = 1;
  for (int i = 0; i < 1000; i++) {
    CHECK(clock_gettime(CLOCK_MONOTONIC, &b) == 0);
    if (nanos(b) < previous) never_backwards = 0;
    previous = nanos(b);
  }
  printf("monotonic never goes back: %s\n", never_backwards ? "yes" : "no");

  CHECK(clock_gettime(CLOCK_REALTIME, &now) == 0);
  // Between 2020-01-01 and 2100-01-01.
  printf("realtime plausible: %s\n", now.tv_sec > 1577836800LL && now.tv_sec < 4102444800LL ? "yes" : "no");
  time_t t = time(NULL);
  printf("time() agrees: %s\n", t >= now.tv_sec && t - now.tv_sec < 60 ? "yes" : "no");

  CHECK(clock_getres(CLOCK_MONOTONIC, &res) == 0);
  printf("monotonic resolution in (0, 1ms]: %s\n", nanos(res) > 0 && nanos(res) <= 1000000 ? "yes" : "no");
  CHECK(clock_getres(CLOCK_REALTIME, &res) == 0);
  printf("realtime resolution in (0, 1s]: %s\n", nanos(res) > 0 && nanos(res) <= 1000000000 ? "yes" : "no");
  return 0;
}
