#include "common/listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/errors.hpp"
#include "common/limits.hpp"

namespace iomodels {
namespace {

std::string format_address(const sockaddr_storage& address) {
  char host[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
    return std::string("[") + host + "]:" + std::to_string(ntohs(v6.sin6_port));
  }
  const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
  inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(v4.sin_port));
}

void set_int_option(int fd, int level, int name, const char* what) {
  const int on = 1;
  if (setsockopt(fd, level, name, &on, sizeof on) != 0) die_errno(what, errno);
}

// socket, options, bind, listen on one resolved address. Exits 1 with "bind HOST:PORT: reason" on failure.
UniqueFd listen_on(const sockaddr_storage& address, socklen_t length, bool nonblocking, bool reuseport) {
  const int type = SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
  UniqueFd fd(socket(address.ss_family, type, 0));
  if (!fd) fail(errno_message("socket", errno));
  // A restarted server must be able to bind while old connections sit in TIME_WAIT.
  set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, "setsockopt SO_REUSEADDR");
  // SO_REUSEPORT only for several listeners of one server: a lone server must refuse a second one on its port.
  if (reuseport) set_int_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, "setsockopt SO_REUSEPORT");
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    fail(errno_message("bind " + format_address(address), errno));
  }
  if (listen(fd.get(), kListenBacklog) != 0) fail(errno_message("listen " + format_address(address), errno));
  return fd;
}

}  // namespace

UniqueFd open_listener(const ServerOptions& options, bool nonblocking, bool reuseport) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(options.port);
  if (int rc = getaddrinfo(options.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    fail("bind " + options.host + ":" + port + ": " + gai_strerror(rc));
  }
  sockaddr_storage address{};
  const socklen_t length = found->ai_addrlen;
  std::memcpy(&address, found->ai_addr, length);
  freeaddrinfo(found);
  return listen_on(address, length, nonblocking, reuseport);
}

UniqueFd open_listener_on_same_port(int listen_fd, bool nonblocking) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(listen_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) die_errno("getsockname", errno);
  return listen_on(address, length, nonblocking, /*reuseport=*/true);
}

std::string local_address(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) die_errno("getsockname", errno);
  return format_address(address);
}

void print_banner(int listen_fd) {
  std::printf("listening on %s\n", local_address(listen_fd).c_str());
  std::fflush(stdout);
}

void set_nodelay(int fd) {
  const int on = 1;
  // A connection the peer already reset may refuse the option; that is not a reason to stop.
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0 && errno != ECONNRESET && errno != EINVAL) {
    die_errno("setsockopt TCP_NODELAY", errno);
  }
}

void set_nonblocking(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) die_errno("fcntl O_NONBLOCK", errno);
}

int accept_connection(int listen_fd, bool nonblocking) {
  const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));
  if (fd >= 0) set_nodelay(fd);
  return fd;
}

}  // namespace iomodels
