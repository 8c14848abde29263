// Socket addresses for the load generator: the server to drive and the source addresses to connect from.
#pragma once
#include <sys/socket.h>

#include <string>
#include <string_view>

namespace iomodels::loadgen {

struct Endpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
  int family() const { return address.ss_family; }
  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&address); }
};

// Resolves a host (an IPv4 or IPv6 literal, or a name such as localhost) and port. Throws std::runtime_error
// naming the host when it does not resolve.
Endpoint resolve_endpoint(const std::string& host, int port);

// A source address for bind(2): a literal, port 0. Throws std::runtime_error when it is not an address.
Endpoint source_endpoint(const std::string& address);

// "127.0.0.1:7000", "[::1]:7000".
std::string format_endpoint(const std::string& host, int port);

// Splits "HOST:PORT" or "[V6]:PORT"; answers false when the text has no port or the port is out of range.
bool split_host_port(std::string_view text, std::string& host, int& port);

}  // namespace iomodels::loadgen
