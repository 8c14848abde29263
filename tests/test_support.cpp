#include "tests/test_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace iomodels::test {
namespace {

using Clock = std::chrono::steady_clock;

int millis_until(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1'000'000));
}

// Waits for events on fd until deadline; returns the revents, 0 on timeout.
short wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    int ready = ::poll(&entry, 1, millis_until(deadline));
    if (ready > 0) return entry.revents;
    if (ready == 0) return 0;
    if (errno != EINTR) return POLLERR;
  }
}

ReadEnd end_for_errno(int err) {
  return err == ECONNRESET || err == EPIPE ? ReadEnd::kReset : ReadEnd::kError;
}

// Fills addr from a numeric IPv4 or IPv6 literal; returns its length, 0 when host is not one.
socklen_t make_address(const std::string& host, int port, sockaddr_storage* addr) {
  std::memset(addr, 0, sizeof *addr);
  auto* v4 = reinterpret_cast<sockaddr_in*>(addr);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    return sizeof *v4;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(addr);
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    return sizeof *v6;
  }
  return 0;
}

std::string lower(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(), [](unsigned char c) { return std::tolower(c); });
  return result;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// splitmix64: every 8-byte word of a pattern is a different value, so a shifted block never matches.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

const char* to_string(ReadEnd end) {
  switch (end) {
    case ReadEnd::kComplete: return "complete";
    case ReadEnd::kEof: return "eof";
    case ReadEnd::kReset: return "reset";
    case ReadEnd::kTimeout: return "timeout";
    case ReadEnd::kError: return "error";
  }
  return "?";
}

std::string ReadResult::describe() const {
  std::string text = std::to_string(data.size()) + " bytes, then " + to_string(end);
  if (!error.empty()) text += " (" + error + ")";
  if (!data.empty() && data.size() <= 200) text += ": '" + data + "'";
  return text;
}

Client Client::connect(const std::string& host, int port, Millis timeout) {
  Client client;
  sockaddr_storage addr;
  socklen_t length = make_address(host, port, &addr);
  if (length == 0) {
    client.error_ = "not a numeric address: " + host;
    return client;
  }
  UniqueFd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    client.error_ = std::string("socket: ") + std::strerror(errno);
    return client;
  }
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), length) != 0) {
    if (errno != EINPROGRESS) {
      client.error_ = std::string("connect: ") + std::strerror(errno);
      return client;
    }
    // A non-blocking connect completes when the socket turns writable; SO_ERROR says how (connect(2)).
    if (wait_for(fd.get(), POLLOUT, Clock::now() + timeout) == 0) {
      client.error_ = "connect: timed out";
      return client;
    }
    int err = 0;
    socklen_t err_length = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_length);
    if (err != 0) {
      client.error_ = std::string("connect: ") + std::strerror(err);
      return client;
    }
  }
  client.fd_ = std::move(fd);
  return client;
}

bool Client::write_all(std::string_view bytes, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!bytes.empty()) {
    long n = write_some(bytes);
    if (n < 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
    if (bytes.empty()) break;
    if (wait_for(fd_.get(), POLLOUT, deadline) == 0) {
      error_ = "write: timed out with " + std::to_string(bytes.size()) + " bytes unwritten";
      return false;
    }
  }
  return true;
}

long Client::write_some(std::string_view bytes) {
  long total = 0;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      total += n;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    } else if (errno != EINTR) {
      error_ = std::string("send: ") + std::strerror(errno);
      return -1;
    }
  }
  return total;
}

std::optional<ReadEnd> Client::receive(Clock::time_point deadline) {
  for (;;) {
    char chunk[64 * 1024];
    ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
    if (n > 0) {
      buffered_.append(chunk, static_cast<std::size_t>(n));
      return std::nullopt;
    }
    if (n == 0) return ReadEnd::kEof;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      error_ = std::string("recv: ") + std::strerror(errno);
      return end_for_errno(errno);
    }
    if (wait_for(fd_.get(), POLLIN, deadline) == 0) return ReadEnd::kTimeout;
  }
}

ReadResult Client::read_exactly(std::size_t n, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  ReadResult result;
  while (buffered_.size() < n) {
    if (auto end = receive(deadline)) {
      result.end = *end;
      result.error = error_;
      result.data = std::move(buffered_);
      buffered_.clear();
      return result;
    }
  }
  result.end = ReadEnd::kComplete;
  result.data = buffered_.substr(0, n);
  buffered_.erase(0, n);
  return result;
}

ReadResult Client::read_until_eof(Millis timeout, std::size_t limit) {
  const auto deadline = Clock::now() + timeout;
  ReadResult result;
  for (;;) {
    if (auto end = receive(deadline)) {
      result.end = *end;
      break;
    }
    if (buffered_.size() > limit) {
      result.end = ReadEnd::kError;
      error_ = "more than " + std::to_string(limit) + " bytes before eof";
      break;
    }
  }
  if (result.end != ReadEnd::kEof) result.error = error_;
  result.data = std::move(buffered_);
  buffered_.clear();
  return result;
}

ReadResult Client::read_until(std::string_view delimiter, Millis timeout, std::size_t limit) {
  const auto deadline = Clock::now() + timeout;
  ReadResult result;
  std::size_t searched = 0;
  for (;;) {
    auto at = buffered_.find(delimiter, searched);
    if (at != std::string::npos) {
      result.end = ReadEnd::kComplete;
      result.data = buffered_.substr(0, at + delimiter.size());
      buffered_.erase(0, at + delimiter.size());
      return result;
    }
    searched = buffered_.size() >= delimiter.size() ? buffered_.size() - delimiter.size() + 1 : 0;
    if (buffered_.size() > limit) {
      result.end = ReadEnd::kError;
      result.error = "no '" + std::string(delimiter) + "' within " + std::to_string(limit) + " bytes";
      break;
    }
    if (auto end = receive(deadline)) {
      result.end = *end;
      result.error = error_;
      break;
    }
  }
  result.data = std::move(buffered_);
  buffered_.clear();
  return result;
}

ReadResult Client::read_for(Millis window) {
  const auto deadline = Clock::now() + window;
  ReadResult result;
  for (;;) {
    if (auto end = receive(deadline)) {
      result.end = *end;
      if (*end != ReadEnd::kTimeout && *end != ReadEnd::kEof) result.error = error_;
      break;
    }
  }
  result.data = std::move(buffered_);
  buffered_.clear();
  return result;
}

void Client::shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }

void Client::reset() {
  // SO_LINGER with a zero timeout makes close(2) abort the connection: the peer gets RST (socket(7)).
  linger option{1, 0};
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &option, sizeof option);
  fd_.reset();
}

ReadResult echo_exchange(Client& client, std::string_view payload, Millis timeout, std::size_t already_sent,
                         const std::function<void()>& on_progress) {
  const auto deadline = Clock::now() + timeout;
  ReadResult result;
  result.data = std::move(client.buffered());
  client.buffered().clear();
  result.data.reserve(payload.size());
  std::size_t sent = std::min(already_sent, payload.size());
  while (result.data.size() < payload.size()) {
    if (on_progress) on_progress();
    short want = POLLIN | (sent < payload.size() ? POLLOUT : 0);
    short ready = wait_for(client.fd(), want, deadline);
    if (ready == 0) {
      result.end = ReadEnd::kTimeout;
      result.error = "sent " + std::to_string(sent) + " of " + std::to_string(payload.size()) + " bytes";
      return result;
    }
    if ((ready & POLLOUT) && sent < payload.size()) {
      std::size_t chunk = std::min<std::size_t>(payload.size() - sent, 256 * 1024);
      ssize_t n = ::send(client.fd(), payload.data() + sent, chunk, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        result.end = end_for_errno(errno);
        result.error = std::string("send: ") + std::strerror(errno);
        return result;
      }
    }
    if (ready & (POLLIN | POLLHUP | POLLERR)) {
      // Never ask for more than the echo still owed: whatever follows belongs to a later read.
      std::size_t have = result.data.size();
      std::size_t room = std::min<std::size_t>(payload.size() - have, 256 * 1024);
      result.data.resize(have + room);
      ssize_t n = ::recv(client.fd(), result.data.data() + have, room, 0);
      result.data.resize(have + (n > 0 ? static_cast<std::size_t>(n) : 0));
      if (n == 0) {
        result.end = ReadEnd::kEof;
        return result;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        result.end = end_for_errno(errno);
        result.error = std::string("recv: ") + std::strerror(errno);
        return result;
      }
    }
  }
  result.end = ReadEnd::kComplete;
  return result;
}

std::string pattern_bytes(std::size_t size, unsigned seed) {
  std::string bytes(size, '\0');
  std::uint64_t base = mix(seed) << 20;
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word = mix(base + i / 8);
    std::memcpy(bytes.data() + i, &word, 8);
  }
  std::uint64_t word = mix(base + i / 8);
  std::memcpy(bytes.data() + i, &word, size - i);
  return bytes;
}

std::string first_difference(std::string_view expected, std::string_view actual) {
  auto [e, a] = std::mismatch(expected.begin(), expected.end(), actual.begin(), actual.end());
  if (e == expected.end() && a == actual.end()) return "identical";
  return "expected " + std::to_string(expected.size()) + " bytes, got " + std::to_string(actual.size()) +
         "; first difference at byte " + std::to_string(e - expected.begin());
}

bool ipv6_loopback_available() {
  UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

BusyPort occupy_port() {
  BusyPort busy;
  busy.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  if (!busy.fd || ::bind(busy.fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(busy.fd.get(), 1) != 0 ||
      ::getsockname(busy.fd.get(), reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    busy.fd.reset();
    return busy;
  }
  busy.port = ntohs(addr.sin_port);
  return busy;
}

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  const std::string wanted = lower(name);
  for (const auto& [field, value] : headers) {
    if (lower(field) == wanted) return value;
  }
  return std::nullopt;
}

bool HttpResponse::connection_has(std::string_view token) const {
  auto value = header("Connection");
  if (!value) return false;
  std::string list = lower(*value);
  const std::string wanted = lower(token);
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    if (trim(std::string_view(list).substr(start, comma - start)) == wanted) return true;
    start = comma + 1;
  }
  return false;
}

HttpRead read_http_response(Client& client, bool head_request, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  HttpRead read;
  ReadResult head = client.read_until("\r\n\r\n", timeout, 64 * 1024);
  if (head.end != ReadEnd::kComplete) {
    read.error = "response head: " + head.describe();
    return read;
  }
  HttpResponse response;
  std::string_view rest(head.data);
  rest.remove_suffix(2);  // the empty line; each line below keeps its own CRLF
  auto line_end = rest.find("\r\n");
  response.status_line = std::string(rest.substr(0, line_end));
  rest.remove_prefix(line_end + 2);
  auto space = response.status_line.find(' ');
  if (space == std::string::npos || response.status_line.size() < space + 4) {
    read.error = "malformed status line '" + response.status_line + "'";
    return read;
  }
  response.version = response.status_line.substr(0, space);
  response.status = std::atoi(response.status_line.c_str() + space + 1);
  while (!rest.empty()) {
    line_end = rest.find("\r\n");
    std::string_view line = rest.substr(0, line_end);
    rest.remove_prefix(line_end + 2);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      read.error = "malformed header line '" + std::string(line) + "'";
      return read;
    }
    response.headers.emplace_back(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
  }
  const bool bodiless = head_request || response.status / 100 == 1 || response.status == 204 || response.status == 304;
  if (!bodiless) {
    auto length = response.header("Content-Length");
    if (!length) {
      read.error = "response without Content-Length: " + response.status_line;
      return read;
    }
    std::size_t size = std::strtoull(length->c_str(), nullptr, 10);
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    ReadResult body = client.read_exactly(size, std::max(left, Millis(1)));
    if (body.end != ReadEnd::kComplete) {
      read.error = "response body: " + body.describe();
      return read;
    }
    response.body = std::move(body.data);
  }
  read.response = std::move(response);
  return read;
}

std::string http_request(std::string_view method, std::string_view target, std::string_view body,
                         const std::vector<std::string>& headers, std::string_view version) {
  std::string request;
  request.append(method).append(" ").append(target).append(" ").append(version).append("\r\n");
  bool framed = false;
  for (const auto& header : headers) {
    std::string name = lower(header.substr(0, header.find(':')));
    framed = framed || name == "content-length" || name == "transfer-encoding";
    request.append(header).append("\r\n");
  }
  if (!body.empty() && !framed) request.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  request.append("\r\n").append(body);
  return request;
}

std::string echo_problem(Client& client, const std::string& bytes, Millis timeout) {
  if (!client.write_all(bytes, timeout)) return "write: " + client.error();
  ReadResult result = client.read_exactly(bytes.size(), timeout);
  if (result.end != ReadEnd::kComplete) return "expected the echo of '" + bytes + "', got " + result.describe();
  if (result.data != bytes) return "expected '" + bytes + "', got '" + result.data + "'";
  return "";
}

long long write_until_stalled(Client& client, std::string_view payload, Millis stall,
                              const std::function<void()>& on_progress) {
  constexpr std::size_t kPiece = 1 << 20;
  std::size_t sent = 0;
  auto last_progress = std::chrono::steady_clock::now();
  while (sent < payload.size()) {
    on_progress();
    const long n = client.write_some(payload.substr(sent, std::min(payload.size() - sent, kPiece)));
    if (n < 0) return -1;
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      last_progress = std::chrono::steady_clock::now();
      continue;
    }
    const auto left =
        std::chrono::duration_cast<Millis>(last_progress + stall - std::chrono::steady_clock::now());
    if (left <= Millis(0)) break;
    pollfd entry{client.fd(), POLLOUT, 0};
    ::poll(&entry, 1, static_cast<int>(left.count()));
  }
  return static_cast<long long>(sent);
}

}  // namespace iomodels::test
