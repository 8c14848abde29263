// One worker thread of the load generator: an epoll loop over its share of the connections.
//
// Every connection keeps up to `depth` messages in flight (the --pipeline depth; 1 with --connect-per-message).
// Closed loop: a reply makes room, and the next message goes out at once. Open loop: message k of a connection is
// due at phase + k * interval; it goes out when due and when there is room, and its latency counts from when it
// was due, so a server that stalls is charged for the messages it kept waiting (no coordinated omission).
//
// Hot path per message: one sendmsg, one recv, one epoll_wait shared by every ready connection, two clock reads.
// Write interest is registered only while the kernel's send buffer is full.
#include "client/engine.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <queue>
#include <stdexcept>
#include <string_view>

#include "client/http_response.hpp"
#include "common/fd.hpp"

namespace iomodels::loadgen::detail {

std::int64_t now_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {

constexpr std::size_t kReadBuffer = 64 * 1024;
constexpr int kMaxEvents = 512;
constexpr std::size_t kMaxIovecs = 64;
// After an error a connection is reopened after this, doubling up to kMaxBackoff while errors repeat, so a server
// that refuses or drops every connection is not hammered in a tight loop.
constexpr std::int64_t kFirstBackoff = 10'000'000;
constexpr std::int64_t kMaxBackoff = 1'000'000'000;
// "GET /<connection>/<message> HTTP/1.1\r\n" (at most 57 bytes), the Host header (run_load() allows host names of
// up to 100 characters, so at most 116 bytes), "Connection: close\r\n" in per-message mode, and the blank line: 194.
constexpr std::size_t kMaxGetRequest = 200;

enum class Kind { kConnect, kReset, kTimeout, kMismatch, kHttp };

struct Message {
  std::uint64_t seq = 0;
  std::int64_t due = 0;   // when it should have gone out (open loop) or did (closed loop)
  std::int64_t sent = 0;  // when it went out, or its connection was begun, in per-message mode
  // --http with no body: the request, whose target the reply's body must echo.
  std::uint16_t request_length = 0;
  std::uint16_t target_offset = 0;
  std::uint16_t target_length = 0;
  char request[kMaxGetRequest];
};

enum class State { kIdle, kConnecting, kOpen };

struct Connection {
  std::uint64_t id = 0;  // the connection's number across the whole run: payloads and reports use it
  UniqueFd fd;
  State state = State::kIdle;
  std::uint32_t generation = 0;  // tags epoll events and timers; bumped on close so stale ones are ignored
  bool want_write = false;
  bool idle = false;      // --idle: held open, never sends; any byte or close from the server is an error
  bool answered = false;  // got a reply in the measured window
  bool timer_armed = false;
  std::int64_t connect_started = 0;
  std::int64_t backoff = 0;
  // In flight, oldest first: ring_[(head_ + i) % depth] for i < count.
  std::vector<Message> ring;
  std::size_t head = 0;
  std::size_t count = 0;
  std::size_t unsent = 0;       // messages (from the oldest) wholly written; the rest are still to write
  std::size_t send_offset = 0;  // bytes of message `unsent` already written
  std::size_t recv_offset = 0;  // bytes of the oldest message's reply (its body, in HTTP) received
  std::uint64_t received = 0;   // bytes received since the connection opened, for mismatch reports
  std::uint64_t next_seq = 0;
  ResponseHead response;

  Message& at(std::size_t i) { return ring[(head + i) % ring.size()]; }
  Message& oldest() { return ring[head]; }
};

std::string closed_by_server(const Connection& c) {
  std::string text = "connection " + std::to_string(c.id) + " closed by the server";
  if (c.count > 0) text += " with " + std::to_string(c.count) + (c.count == 1 ? " reply owed" : " replies owed");
  return text;
}

// Where a reply first differs, `bad` bytes into what this read delivered: in the connection's whole stream and in
// the message (`unit` says whether that counts the HTTP body or the raw bytes).
std::string mismatch_at(const Connection& c, std::size_t bad, std::uint64_t seq, const char* unit) {
  return "mismatch on connection " + std::to_string(c.id) + " at offset " + std::to_string(c.received + bad) +
         " (message " + std::to_string(seq) + ", " + unit + " " + std::to_string(c.recv_offset + bad) + ")";
}

struct Timer {
  std::int64_t at;
  std::uint32_t conn;
  std::uint32_t generation;
  bool operator>(const Timer& other) const { return at > other.at; }
};

class Worker {
 public:
  Worker(const RunPlan& plan, int first, int count, LiveCounters& live);
  WorkerResult run();

 private:
  const LoadConfig& config() const { return *plan_.config; }
  bool open_loop() const { return config().rate > 0; }
  bool in_window(std::int64_t t) const { return t >= plan_.measure_start && t < plan_.end; }
  std::int64_t due_time(const Connection& c) const;

  void open(Connection& c, std::int64_t now);
  void on_event(Connection& c, std::uint32_t events);
  void on_connected(Connection& c);
  void on_readable(Connection& c);
  void consume_echo(Connection& c, const char* data, std::size_t length, std::int64_t now);
  void consume_http(Connection& c, const char* data, std::size_t length, std::int64_t now);
  void complete(Connection& c, std::size_t reply_bytes, std::int64_t now);
  void after_replies(Connection& c, std::int64_t now);
  void fill(Connection& c, std::int64_t now);
  void push_message(Connection& c, std::int64_t due, std::int64_t now);
  void format_get(const Connection& c, Message& m) const;
  void flush(Connection& c);
  void set_write_interest(Connection& c, bool want);
  void arm(Connection& c, std::int64_t at);
  void on_timer(Connection& c, std::int64_t now);
  void scan_timeouts(std::int64_t now);
  void close(Connection& c);
  void fail(Connection& c, Kind kind, const std::string& what, std::int64_t now);
  void note_error(Kind kind, const std::string& what, std::int64_t now);
  std::uint64_t event_tag(const Connection& c) const;

  const RunPlan& plan_;
  LiveCounters& live_;
  std::size_t depth_;
  UniqueFd epoll_;
  std::vector<Connection> connections_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::vector<char> buffer_;
  WorkerResult result_;
  std::uint64_t completed_ = 0;
  std::uint64_t errors_ = 0;
  IntervalRecorder intervals_;
};

Worker::Worker(const RunPlan& plan, int first, int count, LiveCounters& live)
    : plan_(plan),
      live_(live),
      depth_(config().connect_per_message ? 1 : static_cast<std::size_t>(std::max(1, config().pipeline))),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      connections_(static_cast<std::size_t>(count)),
      buffer_(kReadBuffer),
      intervals_(plan.intervals) {
  if (!epoll_) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  for (int i = 0; i < count; ++i) {
    Connection& c = connections_[static_cast<std::size_t>(i)];
    c.id = static_cast<std::uint64_t>(first + i);
    c.idle = first + i >= config().connections;
    if (!c.idle) c.ring.resize(depth_);  // an idle connection has nothing in flight: keep the client small too
  }
}

std::uint64_t Worker::event_tag(const Connection& c) const {
  return (static_cast<std::uint64_t>(c.generation) << 32) | static_cast<std::uint64_t>(&c - connections_.data());
}

std::int64_t Worker::due_time(const Connection& c) const {
  // Connections are spread evenly over one interval so that the total rate is smooth, not a burst per interval.
  const double phase = plan_.interval_ns * static_cast<double>(c.id) / static_cast<double>(config().connections);
  return plan_.start + static_cast<std::int64_t>(phase + plan_.interval_ns * static_cast<double>(c.next_seq));
}

void Worker::note_error(Kind kind, const std::string& what, std::int64_t now) {
  switch (kind) {
    case Kind::kConnect: ++result_.connect_errors; break;
    case Kind::kReset: ++result_.resets; break;
    case Kind::kTimeout: ++result_.timeouts; break;
    case Kind::kMismatch: ++result_.mismatches; break;
    case Kind::kHttp: ++result_.http_errors; break;
  }
  ++errors_;
  if (result_.first_error.empty()) {
    result_.first_error = what;
    result_.first_error_at = now;
  }
}

void Worker::close(Connection& c) {
  c.fd.reset();  // close(2) also takes the socket out of the epoll set
  c.state = State::kIdle;
  ++c.generation;
  c.timer_armed = false;
  c.want_write = false;
  c.count = c.unsent = c.send_offset = c.recv_offset = 0;
  c.head = 0;
  c.received = 0;
  c.response.reset();
}

void Worker::fail(Connection& c, Kind kind, const std::string& what, std::int64_t now) {
  note_error(kind, what, now);
  close(c);
  c.backoff = std::clamp(c.backoff * 2, kFirstBackoff, kMaxBackoff);
  arm(c, now + c.backoff);
}

void Worker::arm(Connection& c, std::int64_t at) {
  c.timer_armed = true;
  timers_.push(Timer{at, static_cast<std::uint32_t>(&c - connections_.data()), c.generation});
}

void Worker::open(Connection& c, std::int64_t now) {
  const Endpoint& target = plan_.target;
  c.fd.reset(::socket(target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!c.fd) return fail(c, Kind::kConnect, std::string("socket: ") + std::strerror(errno), now);
  ++result_.connections_opened;
  // Messages are small and latency is the point: Nagle's algorithm would hold a pipelined tail back.
  const int one = 1;
  ::setsockopt(c.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!plan_.sources.empty()) {
    const Endpoint& source = plan_.sources[c.id % plan_.sources.size()];
    // Without this, bind(2) picks the ephemeral port alone and runs out at ~28k ports per address; with it the port
    // is chosen at connect(2) for the whole 4-tuple (ip(7), IP_BIND_ADDRESS_NO_PORT).
    ::setsockopt(c.fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(c.fd.get(), source.sockaddr_ptr(), source.length) != 0) {
      return fail(c, Kind::kConnect, std::string("bind: ") + std::strerror(errno), now);
    }
  }
  c.connect_started = now;
  if (::connect(c.fd.get(), target.sockaddr_ptr(), target.length) != 0 && errno != EINPROGRESS) {
    return fail(c, Kind::kConnect, "connect on connection " + std::to_string(c.id) + ": " + std::strerror(errno),
                now);
  }
  c.state = State::kConnecting;
  ++c.generation;
  epoll_event event{};
  event.events = EPOLLOUT;
  event.data.u64 = event_tag(c);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.fd.get(), &event) != 0) {
    return fail(c, Kind::kConnect, std::string("epoll_ctl: ") + std::strerror(errno), now);
  }
  // A new connection per message times the whole exchange, connect included.
  if (config().connect_per_message && !c.idle) push_message(c, open_loop() ? due_time(c) : now, now);
}

void Worker::on_connected(Connection& c) {
  int error = 0;
  socklen_t length = sizeof error;
  const std::int64_t now = now_ns();
  if (::getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) {
    return fail(c, Kind::kConnect, "connect on connection " + std::to_string(c.id) + ": " + std::strerror(error),
                now);
  }
  c.state = State::kOpen;
  c.want_write = true;  // registered for EPOLLOUT while connecting; flush() drops it once everything is written
  if (c.idle) {
    // Nothing to send: wait for readable only, which for an idle connection means the server closed or misbehaved.
  } else if (config().connect_per_message) {
    flush(c);
  } else {
    fill(c, now);
  }
  if (c.state == State::kOpen && c.want_write && c.unsent == c.count) set_write_interest(c, false);
}

void Worker::set_write_interest(Connection& c, bool want) {
  if (c.want_write == want) return;
  epoll_event event{};
  event.events = want ? EPOLLIN | EPOLLOUT : EPOLLIN;
  event.data.u64 = event_tag(c);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &event) != 0) {
    return fail(c, Kind::kReset, std::string("epoll_ctl: ") + std::strerror(errno), now_ns());
  }
  c.want_write = want;
}

void Worker::push_message(Connection& c, std::int64_t due, std::int64_t now) {
  Message& m = c.at(c.count);
  m.seq = c.next_seq++;
  m.due = due;
  m.sent = now;
  if (config().http && config().message_size == 0) format_get(c, m);
  ++c.count;
}

// "GET /<connection>/<message> HTTP/1.1", the Host header, and "Connection: close" in per-message mode: a target
// that differs per message, which the server echoes as the body.
void Worker::format_get(const Connection& c, Message& m) const {
  char* out = m.request;
  char* const end = m.request + sizeof m.request;
  auto append = [&out](std::string_view text) { out = std::copy(text.begin(), text.end(), out); };
  append("GET /");
  out = std::to_chars(out, end, c.id).ptr;
  append("/");
  out = std::to_chars(out, end, m.seq).ptr;
  m.target_offset = 4;
  m.target_length = static_cast<std::uint16_t>(out - (m.request + 4));
  append(" HTTP/1.1\r\n");
  append(plan_.host_header);
  if (config().connect_per_message) append("Connection: close\r\n");
  append("\r\n");
  m.request_length = static_cast<std::uint16_t>(out - m.request);
}

void Worker::fill(Connection& c, std::int64_t now) {
  if (c.idle) return;
  if (open_loop()) {
    while (c.count < depth_ && due_time(c) <= now) push_message(c, due_time(c), now);
    if (c.count < depth_ && !c.timer_armed) arm(c, due_time(c));
  } else {
    while (c.count < depth_) push_message(c, now, now);
  }
  flush(c);
}

void Worker::flush(Connection& c) {
  if (c.unsent == c.count) return;
  iovec iov[kMaxIovecs];
  std::size_t n = 0;
  const bool http = config().http;
  const bool get = http && config().message_size == 0;
  for (std::size_t i = c.unsent; i < c.count && n + 2 <= kMaxIovecs; ++i) {
    Message& m = c.at(i);
    if (get) {
      iov[n++] = {m.request, m.request_length};
    } else {
      if (http) iov[n++] = {const_cast<char*>(plan_.post_head.data()), plan_.post_head.size()};
      iov[n++] = {const_cast<char*>(plan_.payload.message(c.id, m.seq)), plan_.payload.size()};
    }
  }
  // Skip what an earlier short write already sent of the first message.
  std::size_t skip = c.send_offset;
  std::size_t first = 0;
  while (skip > 0 && skip >= iov[first].iov_len) skip -= iov[first++].iov_len;
  iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + skip;
  iov[first].iov_len -= skip;

  msghdr message{};
  message.msg_iov = iov + first;
  message.msg_iovlen = n - first;
  // MSG_NOSIGNAL: a server that vanishes must cost an EPIPE, not the whole process (send(2)).
  const ssize_t sent = ::sendmsg(c.fd.get(), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return set_write_interest(c, true);
    return fail(c, Kind::kReset, "send on connection " + std::to_string(c.id) + ": " + std::strerror(errno),
                now_ns());
  }
  // Account the bytes written message by message.
  const std::size_t request_bytes =
      get ? 0 : (http ? plan_.post_head.size() : 0) + plan_.payload.size();
  std::size_t left = static_cast<std::size_t>(sent) + c.send_offset;
  while (c.unsent < c.count) {
    const std::size_t size = get ? c.at(c.unsent).request_length : request_bytes;
    if (left < size) break;
    left -= size;
    ++c.unsent;
  }
  c.send_offset = left;
  set_write_interest(c, c.unsent < c.count);
}

void Worker::on_event(Connection& c, std::uint32_t events) {
  if (c.state == State::kConnecting) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    const std::uint32_t generation = c.generation;
    on_readable(c);
    if (c.generation != generation) return;
  }
  if ((events & EPOLLOUT) && c.state == State::kOpen) flush(c);
}

void Worker::on_readable(Connection& c) {
  const std::uint32_t generation = c.generation;
  for (;;) {
    const ssize_t n = ::recv(c.fd.get(), buffer_.data(), buffer_.size(), 0);
    const std::int64_t now = now_ns();
    if (n > 0) {
      if (config().http) {
        consume_http(c, buffer_.data(), static_cast<std::size_t>(n), now);
      } else {
        consume_echo(c, buffer_.data(), static_cast<std::size_t>(n), now);
      }
      if (c.generation != generation) return;
      after_replies(c, now);
      if (c.generation != generation || static_cast<std::size_t>(n) < buffer_.size()) return;
      continue;
    }
    if (n == 0) {
      return fail(c, Kind::kReset, closed_by_server(c), now);
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (errno == EINTR) continue;
    return fail(c, Kind::kReset, "recv on connection " + std::to_string(c.id) + ": " + std::strerror(errno), now);
  }
}

void Worker::consume_echo(Connection& c, const char* data, std::size_t length, std::int64_t now) {
  const std::size_t size = plan_.payload.size();
  while (length > 0) {
    if (c.count == 0) {
      return fail(c, Kind::kMismatch,
                  "mismatch on connection " + std::to_string(c.id) + " at offset " + std::to_string(c.received) +
                      ": bytes that were never sent",
                  now);
    }
    Message& m = c.oldest();
    const std::size_t take = std::min(length, size - c.recv_offset);
    if (config().verify) {
      const std::size_t bad = plan_.payload.find_mismatch(c.id, m.seq, c.recv_offset, {data, take});
      if (bad != Payload::kNoMismatch) {
        return fail(c, Kind::kMismatch, mismatch_at(c, bad, m.seq, "byte"), now);
      }
    }
    c.recv_offset += take;
    c.received += take;
    data += take;
    length -= take;
    if (c.recv_offset == size) {
      complete(c, size, now);
      if (c.state != State::kOpen) return;
    }
  }
}

void Worker::consume_http(Connection& c, const char* data, std::size_t length, std::int64_t now) {
  const bool get = config().message_size == 0;
  for (;;) {
    if (!c.response.done()) {
      if (length == 0) return;
      if (c.count == 0) {
        return fail(c, Kind::kHttp, "HTTP response on connection " + std::to_string(c.id) + " to no request", now);
      }
      const std::size_t used = c.response.feed({data, length});
      data += used;
      length -= used;
      c.received += used;
      if (c.response.failed()) {
        return fail(c, Kind::kHttp, "HTTP on connection " + std::to_string(c.id) + ": " + c.response.error(), now);
      }
      if (!c.response.done()) return;
      const Message& m = c.oldest();
      const long long expected = get ? m.target_length : static_cast<long long>(plan_.payload.size());
      std::string problem;
      if (c.response.status() != 200) {
        problem = "status " + std::to_string(c.response.status());
      } else if (c.response.content_length() < 0) {
        problem = c.response.chunked() ? "chunked reply to an echo" : "reply without Content-Length";
      } else if (c.response.content_length() != expected) {
        problem = "Content-Length " + std::to_string(c.response.content_length()) + ", expected " +
                  std::to_string(expected);
      }
      if (!problem.empty()) {
        return fail(c, Kind::kHttp, "HTTP " + problem + " on connection " + std::to_string(c.id), now);
      }
      c.recv_offset = 0;
    }
    Message& m = c.oldest();
    const auto body = static_cast<std::size_t>(c.response.content_length());
    const std::size_t take = std::min(length, body - c.recv_offset);
    if (config().verify && take > 0) {
      std::size_t bad = Payload::kNoMismatch;
      if (get) {
        const auto mismatch = std::mismatch(data, data + take, m.request + m.target_offset + c.recv_offset);
        if (mismatch.first != data + take) bad = static_cast<std::size_t>(mismatch.first - data);
      } else {
        bad = plan_.payload.find_mismatch(c.id, m.seq, c.recv_offset, {data, take});
      }
      if (bad != Payload::kNoMismatch) {
        return fail(c, Kind::kMismatch, mismatch_at(c, bad, m.seq, "body byte"), now);
      }
    }
    c.recv_offset += take;
    c.received += take;
    data += take;
    length -= take;
    if (c.recv_offset < body) return;
    const bool closing = c.response.connection_close();
    const std::size_t reply_bytes = c.response.head_bytes() + body;
    c.response.reset();
    complete(c, reply_bytes, now);
    if (c.state != State::kOpen) return;
    if (closing) {
      // Only an error or our own "Connection: close" should make the server close; anything else is owed.
      if (c.count > 0) {
        return fail(c, Kind::kReset, closed_by_server(c), now);
      }
      close(c);
      return open(c, now);
    }
  }
}

void Worker::complete(Connection& c, std::size_t reply_bytes, std::int64_t now) {
  const Message& m = c.oldest();
  if (in_window(now)) {
    result_.latency.record(static_cast<std::uint64_t>(now - m.due));
    result_.service_time.record(static_cast<std::uint64_t>(now - m.sent));
    if (intervals_.active()) {
      intervals_.record(now, static_cast<std::uint64_t>(now - m.due), static_cast<std::uint64_t>(now - m.sent));
    }
    ++result_.messages;
    result_.bytes += reply_bytes;
    c.answered = true;
  }
  ++completed_;
  c.backoff = 0;
  c.head = (c.head + 1) % c.ring.size();
  --c.count;
  c.recv_offset = 0;
  // A reply can only follow the whole request; an HTTP server that answers early is caught by the head checks.
  if (c.unsent > 0) {
    --c.unsent;
  } else {
    c.send_offset = 0;
  }
  if (config().connect_per_message) {
    close(c);
    if (!open_loop()) return open(c, now);
    if (due_time(c) <= now) return open(c, now);
    arm(c, due_time(c));
  }
}

void Worker::after_replies(Connection& c, std::int64_t now) {
  if (c.state == State::kOpen && !config().connect_per_message) fill(c, now);
}

void Worker::on_timer(Connection& c, std::int64_t now) {
  c.timer_armed = false;
  if (c.state == State::kIdle) return open(c, now);
  if (c.state == State::kOpen && !config().connect_per_message) fill(c, now);
}

void Worker::scan_timeouts(std::int64_t now) {
  const std::int64_t timeout = config().timeout.count();
  for (Connection& c : connections_) {
    if (c.state == State::kConnecting && now - c.connect_started > timeout) {
      // In per-message mode the message waits on this connect: it is that message that went unanswered.
      if (config().connect_per_message) {
        fail(c, Kind::kTimeout, "timeout on connection " + std::to_string(c.id) + " (connecting)", now);
      } else {
        fail(c, Kind::kConnect, "connect on connection " + std::to_string(c.id) + ": timed out", now);
      }
    } else if (c.state == State::kOpen && c.count > 0 && now - c.oldest().sent > timeout) {
      std::uint64_t late = 0;
      for (std::size_t i = 0; i < c.count; ++i) late += now - c.at(i).sent > timeout ? 1 : 0;
      result_.timeouts += late - 1;  // fail() counts one
      fail(c, Kind::kTimeout,
           "timeout on connection " + std::to_string(c.id) + " (message " + std::to_string(c.oldest().seq) +
               ", " + std::to_string(c.recv_offset) + " bytes of its reply received)",
           now);
    }
  }
}

WorkerResult Worker::run() {
  std::int64_t now = now_ns();
  const double connect_interval_ns = config().connect_rate > 0 ? 1e9 / config().connect_rate : 0;
  for (Connection& c : connections_) {
    if (open_loop() && config().connect_per_message && !c.idle) {
      arm(c, due_time(c));
    } else if (connect_interval_ns > 0) {
      // --connect-rate: connection k opens k / rate seconds into the run, whichever thread owns it.
      arm(c, plan_.start + static_cast<std::int64_t>(connect_interval_ns * static_cast<double>(c.id)));
    } else {
      open(c, now);
    }
  }
  // Timeouts are found by a sweep rather than a timer per message: a tenth of the timeout late at most, and the
  // sweep is cheap next to the traffic.
  const std::int64_t scan_every = std::clamp<std::int64_t>(config().timeout.count() / 10, 1'000'000, 100'000'000);
  std::int64_t next_scan = now + scan_every;
  epoll_event events[kMaxEvents];
  while (now < plan_.end) {
    std::int64_t wake = std::min(plan_.end, next_scan);
    if (!timers_.empty()) wake = std::min(wake, timers_.top().at);
    const std::int64_t wait = std::max<std::int64_t>(0, wake - now);
    timespec timeout{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    // epoll_pwait2: a nanosecond timeout, so an open loop keeps its schedule at rates above 1000 per second.
    const int ready = ::epoll_pwait2(epoll_.get(), events, kMaxEvents, &timeout, nullptr);
    if (ready < 0 && errno != EINTR) throw std::runtime_error(std::string("epoll_pwait2: ") + std::strerror(errno));
    for (int i = 0; i < ready; ++i) {
      const std::uint64_t tag = events[i].data.u64;
      Connection& c = connections_[tag & 0xffffffffU];
      if (c.generation != static_cast<std::uint32_t>(tag >> 32) || c.state == State::kIdle) continue;
      on_event(c, events[i].events);
    }
    now = now_ns();
    while (!timers_.empty() && timers_.top().at <= now) {
      const Timer timer = timers_.top();
      timers_.pop();
      Connection& c = connections_[timer.conn];
      if (c.generation == timer.generation && c.timer_armed) on_timer(c, now);
    }
    if (now >= next_scan) {
      scan_timeouts(now);
      next_scan = now + scan_every;
    }
    live_.completed.store(completed_, std::memory_order_relaxed);
    live_.measured.store(result_.messages, std::memory_order_relaxed);
    live_.errors.store(errors_, std::memory_order_relaxed);
  }
  for (const Connection& c : connections_) {
    result_.connections_never_answered += c.answered || c.idle ? 0 : 1;
    result_.connections_open_at_end += c.state == State::kOpen ? 1 : 0;
  }
  intervals_.finish();
  connections_.clear();  // closes every socket before the CPU time is read
  return std::move(result_);
}

void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // Pinning is a request for steadier figures; a CPU outside the allowed set is not worth failing the run over.
  ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
}

double thread_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

WorkerResult run_worker(const RunPlan& plan, int first, int count, int cpu, LiveCounters& live) {
  if (cpu >= 0) pin_to_cpu(cpu);
  const double cpu_before = thread_cpu_seconds();
  Worker worker(plan, first, count, live);
  WorkerResult result = worker.run();
  result.cpu_seconds = thread_cpu_seconds() - cpu_before;
  return result;
}

}  // namespace iomodels::loadgen::detail
