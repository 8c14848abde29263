// Fake server for the comparison's tests: prints the banner as every server of the suite does, then aborts on
// its first connection. bin/compare must report it as failed ("killed by SIGABRT during the run") and go on.
//
//   build/tests/fake/crash_server --port 0
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/fake/fake_listener.hpp"

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc || (flag != "--host" && flag != "--port")) {
      std::fprintf(stderr, "%s: unknown option %s\n", argv[0], flag.c_str());
      return 2;
    }
    if (flag == "--host") host = argv[i + 1];
    if (flag == "--port") port = std::atoi(argv[i + 1]);
  }
  int status = 0;
  const int listener = fake::listen_and_announce(argv[0], host, port, 128, &status);
  if (listener < 0) return status;
  while (::accept(listener, nullptr, nullptr) < 0 && errno == EINTR) {
  }
  std::fprintf(stderr, "crash_server: a connection; aborting as designed\n");
  // The crash is the point; a core file of it is not.
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  std::abort();
}
