// A deliberately small echo server for the load generator's tests, with one optional fault.
//
// A thread per connection and blocking IO: the point is the fault, not the model. Each fault strikes every
// connection once it has echoed `--after` bytes (default 1000: message 15, byte 40, with 64-byte messages), so that
// the load generator must notice it mid-stream and, after reopening, notice it again.
//
//   build/tests/fake/lg_corrupt --port 0       prints "listening on 127.0.0.1:PORT", as the suite's servers do
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "tests/fake/fake_listener.hpp"

namespace lg_fake {

enum class Fault {
  kNone,     // a correct echo server
  kCorrupt,  // flips one bit of the byte at offset --after
  kDrop,     // echoes up to offset --after, then closes the connection
  kStall,    // echoes up to offset --after, then reads and discards everything, answering nothing
};

inline bool write_all(int fd, const char* data, std::size_t length) {
  while (length > 0) {
    const ssize_t n = ::send(fd, data, length, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    length -= static_cast<std::size_t>(n);
  }
  return true;
}

inline void serve(int fd, Fault fault, std::size_t after) {
  char buffer[16384];
  std::size_t offset = 0;  // bytes of the stream received before this read
  bool stalled = false;
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::size_t length = static_cast<std::size_t>(n);
    const bool strikes = fault != Fault::kNone && offset <= after && after < offset + length;
    if (stalled) {
      offset += length;
      continue;
    }
    if (strikes && fault == Fault::kCorrupt) buffer[after - offset] ^= 0x01;
    if (strikes && (fault == Fault::kDrop || fault == Fault::kStall)) {
      write_all(fd, buffer, after - offset);
      if (fault == Fault::kDrop) break;
      stalled = true;
      offset += length;
      continue;
    }
    if (!write_all(fd, buffer, length)) break;
    offset += length;
  }
  ::close(fd);
}

inline int run(int argc, char** argv, Fault fault) {
  std::string host = "127.0.0.1";
  int port = 0;
  std::size_t after = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--host") {
      host = argv[i + 1];
    } else if (flag == "--port") {
      port = std::atoi(argv[i + 1]);
    } else if (flag == "--after") {
      after = std::strtoull(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "%s: unknown option %s\n", argv[0], flag.c_str());
      return 2;
    }
  }
  // SIGTERM ends the server with status 0, as the suite's servers end; the kernel closes every connection.
  ::signal(SIGTERM, [](int) { ::_exit(0); });
  ::signal(SIGPIPE, SIG_IGN);

  int status = 0;
  const int listener = fake::listen_and_announce(argv[0], host, port, 1024, &status);
  if (listener < 0) return status;
  for (;;) {
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // Out of descriptors or memory: wait for connections to end rather than spin.
      ::usleep(10000);
      continue;
    }
    std::thread(serve, fd, fault, after).detach();
  }
}

}  // namespace lg_fake
