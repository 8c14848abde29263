// The listening socket of the fake servers, with the banner the suite's servers print. The fakes are standalone on
// purpose (no common/: a fault there must not hide in them), so this is their own small copy of start-up.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace fake {

// Binds host:port (IPv4; port 0 picks one), listens, prints "listening on HOST:PORT" and flushes. Returns the
// listener, or -1 after printing why (the caller exits: 2 for a bad host, 1 when binding fails, in *status).
inline int listen_and_announce(const char* program, const std::string& host, int port, int backlog, int* status) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    std::fprintf(stderr, "%s: --host %s: not an IPv4 address\n", program, host.c_str());
    *status = 2;
    return -1;
  }
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (listener >= 0) ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  socklen_t length = sizeof address;
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, backlog) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::fprintf(stderr, "%s: listen on %s:%d: %s\n", program, host.c_str(), port, std::strerror(errno));
    *status = 1;
    return -1;
  }
  std::printf("listening on %s:%d\n", host.c_str(), ntohs(address.sin_port));
  std::fflush(stdout);
  return listener;
}

}  // namespace fake
