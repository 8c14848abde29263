#include "client/endpoint.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace iomodels::loadgen {

Endpoint resolve_endpoint(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) throw std::runtime_error("getaddrinfo " + host + ": " + ::gai_strerror(rc));
  Endpoint endpoint;
  std::memcpy(&endpoint.address, found->ai_addr, found->ai_addrlen);
  endpoint.length = found->ai_addrlen;
  ::freeaddrinfo(found);
  return endpoint;
}

Endpoint source_endpoint(const std::string& address) {
  Endpoint endpoint;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&endpoint.address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&endpoint.address);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    endpoint.length = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    endpoint.length = sizeof(sockaddr_in6);
  } else {
    throw std::runtime_error("bind address '" + address + "' is not an IPv4 or IPv6 address");
  }
  return endpoint;
}

std::string format_endpoint(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

bool split_host_port(std::string_view text, std::string& host, int& port) {
  std::string_view host_part;
  std::string_view port_part;
  if (text.starts_with('[')) {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return false;
    host_part = text.substr(1, close - 1);
    port_part = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return false;
    host_part = text.substr(0, colon);
    port_part = text.substr(colon + 1);
  }
  int value = 0;
  const auto [end, error] = std::from_chars(port_part.data(), port_part.data() + port_part.size(), value);
  if (host_part.empty() || port_part.empty() || error != std::errc() || end != port_part.data() + port_part.size() ||
      value < 1 || value > 65535) {
    return false;
  }
  host = std::string(host_part);
  port = value;
  return true;
}

}  // namespace iomodels::loadgen
