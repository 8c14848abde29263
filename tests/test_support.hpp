// Helpers every socket-level test shares: a client whose every call has a deadline (poll(2) timeouts, never
// sleeps), an echo exchange that writes and reads at once, and HTTP/1.x request and response helpers.
//
// A Client is non-blocking underneath; each call waits with poll for at most the time it is given, so a server
// that hangs makes a test fail with a message rather than hang the suite.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/fd.hpp"

namespace iomodels::test {

using Millis = std::chrono::milliseconds;

// How long a call may wait for something that should happen: generous, because two cores are shared by the
// server, the client and every other test shard.
inline constexpr Millis kIoTimeout{5000};
// How long to watch for something that must NOT happen (an echo to a client the model cannot serve yet).
inline constexpr Millis kQuietPeriod{300};

// How a read ended.
enum class ReadEnd {
  kComplete,  // the bytes asked for arrived
  kEof,       // the peer closed (FIN)
  kReset,     // the peer reset the connection (ECONNRESET)
  kTimeout,   // the deadline passed first
  kError,     // another errno (in error)
};
const char* to_string(ReadEnd end);

struct ReadResult {
  std::string data;
  ReadEnd end = ReadEnd::kTimeout;
  std::string error;
  // "12 bytes, then eof" — for failure messages.
  std::string describe() const;
};

// true when the connection was closed by the peer, with a FIN or a reset.
inline bool closed_by_peer(ReadEnd end) { return end == ReadEnd::kEof || end == ReadEnd::kReset; }

class Client {
 public:
  Client() = default;

  // Connects to host:port (IPv4 or IPv6 literal) within timeout; check connected() and error().
  static Client connect(const std::string& host, int port, Millis timeout = kIoTimeout);

  bool connected() const { return static_cast<bool>(fd_); }
  const std::string& error() const { return error_; }
  int fd() const { return fd_.get(); }

  // Writes every byte within timeout. False on timeout or error (see error()); written() tells how far it got.
  bool write_all(std::string_view bytes, Millis timeout = kIoTimeout);
  // Writes what the socket takes without waiting; returns the count (0 when full), or -1 on error.
  long write_some(std::string_view bytes);

  // Reads exactly n bytes, or fewer when the peer closes or the deadline passes (end says which).
  ReadResult read_exactly(std::size_t n, Millis timeout = kIoTimeout);
  // Reads until the peer closes; at most limit bytes are kept.
  ReadResult read_until_eof(Millis timeout = kIoTimeout, std::size_t limit = 64 << 20);
  // Reads up to and including delimiter.
  ReadResult read_until(std::string_view delimiter, Millis timeout = kIoTimeout, std::size_t limit = 1 << 20);
  // Collects whatever arrives within the window (end is kTimeout unless the peer closed).
  ReadResult read_for(Millis window);

  // Waits until the peer closes or resets; other bytes that arrive first are returned in data.
  ReadResult wait_closed(Millis timeout = kIoTimeout) { return read_until_eof(timeout); }

  // shutdown(SHUT_WR): the peer reads EOF after our last byte.
  void shutdown_write();
  // Closes with SO_LINGER 0, so the peer gets an RST instead of a FIN.
  void reset();
  void close() { fd_.reset(); }

  // Bytes that arrived beyond what a read asked for; later reads return them first.
  std::string& buffered() { return buffered_; }

 private:
  explicit Client(UniqueFd fd) : fd_(std::move(fd)) {}
  // One recv into buffered_; waits at most until deadline. Returns the ReadEnd if the stream ended or the
  // deadline passed, nullopt after receiving bytes.
  std::optional<ReadEnd> receive(std::chrono::steady_clock::time_point deadline);

  UniqueFd fd_;
  std::string error_;
  std::string buffered_;
};

// Writes payload while reading the echo, so that neither side's buffers can fill up and stall the other.
// Returns the bytes read: payload.size() of them unless the stream ended or the deadline passed.
// already_sent: the first bytes of payload were written before (their echo is read here too).
// on_progress runs once per wait, e.g. to sample the server's memory while bytes flow.
ReadResult echo_exchange(Client& client, std::string_view payload, Millis timeout = kIoTimeout,
                         std::size_t already_sent = 0, const std::function<void()>& on_progress = {});

// size bytes of a pattern that a lost, duplicated or reordered block changes (seed picks the pattern).
std::string pattern_bytes(std::size_t size, unsigned seed = 1);
// The first offset where two strings differ, for failure messages ("differs at byte 1234 of 4194304").
std::string first_difference(std::string_view expected, std::string_view actual);

// True when an IPv6 socket can bind ::1 (the loopback may lack IPv6 in a container).
bool ipv6_loopback_available();

// A listening socket on 127.0.0.1 with a kernel-chosen port, to make a port busy.
struct BusyPort {
  UniqueFd fd;
  int port = 0;
};
BusyPort occupy_port();

// ---- HTTP/1.x ----
struct HttpResponse {
  std::string status_line;  // "HTTP/1.1 200 OK"
  std::string version;      // "HTTP/1.1"
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header of that name (case-insensitive), trimmed.
  std::optional<std::string> header(std::string_view name) const;
  // True when a Connection header lists token (case-insensitive), e.g. "close".
  bool connection_has(std::string_view token) const;
};

struct HttpRead {
  std::optional<HttpResponse> response;
  std::string error;  // why there is no response
};

// Reads one response: the head, then Content-Length bytes of body (none for a HEAD request's response or a
// 1xx/204/304 status).
HttpRead read_http_response(Client& client, bool head_request = false, Millis timeout = kIoTimeout);

// "METHOD target HTTP/1.1\r\n" + headers + "\r\n" + body; Content-Length is added when body is not empty and no
// header given names Content-Length or Transfer-Encoding.
std::string http_request(std::string_view method, std::string_view target, std::string_view body = {},
                         const std::vector<std::string>& headers = {}, std::string_view version = "HTTP/1.1");

// One echo round trip with a deadline: writes bytes, reads as many back. Describes what went wrong, or "".
std::string echo_problem(Client& client, const std::string& bytes, Millis timeout = kIoTimeout);

// Writes payload without reading until no byte has gone for stall, or all of it has gone: the server's socket
// buffers and its pending output are then full (backpressure). Calls on_progress before each write. Returns the
// bytes written, or -1 on a write error.
long long write_until_stalled(Client& client, std::string_view payload, Millis stall,
                              const std::function<void()>& on_progress = [] {});

}  // namespace iomodels::test
