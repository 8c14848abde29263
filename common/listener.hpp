// The listening socket, the banner line, and accepting connections.
#pragma once
#include <string>

#include "common/fd.hpp"
#include "common/options.hpp"

namespace iomodels {

struct ListenerConfig {
  bool nonblocking = false;  // event loops want O_NONBLOCK on the listener
  // --threads N loops each take their own listener from open_listeners(), all on one port (SO_REUSEPORT).
  bool listener_per_thread = false;
};

// Creates, binds and listens (CLOEXEC, SO_REUSEADDR, kListenBacklog; SO_REUSEPORT when reuseport). On failure
// prints "bind HOST:PORT: <strerror>" (or the failing call) on stderr and exits 1.
UniqueFd open_listener(const ServerOptions& options, bool nonblocking, bool reuseport);

// Opens one more SO_REUSEPORT listener on the port an existing one is bound to (which must have SO_REUSEPORT).
UniqueFd open_listener_on_same_port(int listen_fd, bool nonblocking);

// Prints "listening on HOST:PORT" ("[::1]:PORT" for IPv6) with the bound port to stdout and flushes.
void print_banner(int listen_fd);

// "HOST:PORT" of a bound socket, IPv6 in brackets.
std::string local_address(int fd);

// accept4(2) with SOCK_CLOEXEC (and SOCK_NONBLOCK when nonblocking), then TCP_NODELAY on the new socket.
// Returns the fd, or -1 with errno set (callers classify it: retry, shed load).
int accept_connection(int listen_fd, bool nonblocking);

// TCP_NODELAY: an echo that leaves in two writes must not wait for a delayed ACK (Nagle, RFC 896).
void set_nodelay(int fd);
void set_nonblocking(int fd);

}  // namespace iomodels
