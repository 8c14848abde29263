// Fake server for the comparison's tests: prints the banner as every server of the suite does, then aborts on
// its first connection. bin/compare must report it as failed ("killed by SIGABRT during the run") and go on.
//
//   build/tests/fake/crash_server --port 0
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

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
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    std::fprintf(stderr, "%s: --host %s: not an IPv4 address\n", argv[0], host.c_str());
    return 2;
  }
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socklen_t length = sizeof address;
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 128) != 0 || ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::fprintf(stderr, "%s: listen on %s:%d: %s\n", argv[0], host.c_str(), port, std::strerror(errno));
    return 1;
  }
  std::printf("listening on %s:%d\n", host.c_str(), ntohs(address.sin_port));
  std::fflush(stdout);
  while (::accept(listener, nullptr, nullptr) < 0 && errno == EINTR) {
  }
  std::fprintf(stderr, "crash_server: a connection; aborting as designed\n");
  // The crash is the point; a core file of it is not.
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  std::abort();
}
