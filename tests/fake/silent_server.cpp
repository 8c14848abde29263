// Fake server for the comparison's tests: starts, writes a log line on stderr, and never prints the banner.
// bin/compare must give up on it after its banner deadline, report it as failed and go on.
//
//   build/tests/fake/silent_server --port 0       prints nothing on stdout, ever
#include <unistd.h>

#include <cstdio>

int main() {
  std::fprintf(stderr, "silent_server: starting, and never saying so\n");
  // Killed by whoever started it; the alarm ends it should that ever fail to happen.
  ::alarm(60);
  for (;;) ::pause();
}
