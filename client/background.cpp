// The idle and slow connections of a run (see background.hpp): one thread, one epoll loop.
#include "client/background.hpp"

#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace iomodels::loadgen::detail {
namespace {

std::int64_t monotonic_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double thread_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Raw echo: byte k of a slow connection is 'a' + k % 26. A lower-case first byte can begin no HTTP method, so a
// server in --mode auto decides on raw echo at the first byte, and the echo can be checked byte by byte.
char raw_byte(std::uint64_t index) { return static_cast<char>('a' + index % 26); }

// kGreeting: connected, its first byte sent (raw echo), waiting for the echo that shows the server has accepted it
// and serves it; only then does it count as held.
enum class State { kConnecting, kGreeting, kOpen, kClosed };

struct Held {
  UniqueFd fd;
  State state = State::kConnecting;
  bool slow = false;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
};

constexpr std::uint64_t kWakeTag = ~std::uint64_t{0};

}  // namespace

Background::Background(BackgroundPlan plan) : plan_(std::move(plan)), wake_(::eventfd(0, EFD_CLOEXEC)) {
  if (!wake_) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  thread_ = std::thread([this] { run(); });
}

Background::~Background() {
  if (thread_.joinable()) stop();
}

void Background::wait_ready() {
  std::unique_lock lock(mutex_);
  ready_changed_.wait(lock, [this] { return ready_; });
}

BackgroundResult Background::stop() {
  const std::uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof one) < 0) {
    // An eventfd write fails only on overflow, which one write cannot cause; the thread still ends at its
    // next wake-up, as wake_ stays readable.
  }
  if (thread_.joinable()) thread_.join();
  return result_;
}

void Background::run() {
  if (plan_.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(plan_.cpu, &set);
    ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
  }
  BackgroundResult& r = result_;
  auto note = [&r](const std::string& what) {
    if (r.first_error.empty()) r.first_error = what;
  };
  auto mark_ready = [this] {
    std::lock_guard lock(mutex_);
    ready_ = true;
    ready_changed_.notify_all();
  };

  const UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) {
    note(std::string("epoll_create1: ") + std::strerror(errno));
    r.not_established = plan_.idle + plan_.slow;
    return mark_ready();
  }
  epoll_event wake_event{};
  wake_event.events = EPOLLIN;
  wake_event.data.u64 = kWakeTag;
  ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake_.get(), &wake_event);

  // The slow senders first: in a pool they are the ones meant to hold the workers.
  std::vector<Held> held(static_cast<std::size_t>(plan_.idle + plan_.slow));
  const std::int64_t started = monotonic_ns();
  int pending = 0;
  const int one = 1;
  for (std::size_t i = 0; i < held.size(); ++i) {
    Held& h = held[i];
    h.slow = i < static_cast<std::size_t>(plan_.slow);
    h.fd.reset(::socket(plan_.target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!h.fd) {
      note(std::string("socket: ") + std::strerror(errno));
      h.state = State::kClosed;
      continue;
    }
    if (!plan_.sources.empty()) {
      const Endpoint& source = plan_.sources[i % plan_.sources.size()];
      ::setsockopt(h.fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      if (::bind(h.fd.get(), source.sockaddr_ptr(), source.length) != 0) {
        note(std::string("bind: ") + std::strerror(errno));
        h.fd.reset();
        h.state = State::kClosed;
        continue;
      }
    }
    if (::connect(h.fd.get(), plan_.target.sockaddr_ptr(), plan_.target.length) != 0 && errno != EINPROGRESS) {
      note(std::string("connect: ") + std::strerror(errno));
      h.fd.reset();
      h.state = State::kClosed;
      continue;
    }
    epoll_event event{};
    event.events = EPOLLOUT;
    event.data.u64 = i;
    ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, h.fd.get(), &event);
    ++pending;
  }

  const std::int64_t cap = started + plan_.connect_deadline.count();
  // Opening thousands of connections takes a while itself (the handshakes run inline on loopback): the stall is
  // counted from the last connect(2).
  // A server that stops taking connections (the iterative one, a full pool) would keep the rest waiting for
  // ever: the measured run starts once nothing has progressed for this long.
  const std::int64_t stall = plan_.connect_stall.count();
  std::int64_t last_progress = monotonic_ns();
  bool ready = false;
  double cpu_at_ready = 0;
  auto become_ready = [&](std::int64_t now) {
    ready = true;
    r.setup_seconds = static_cast<double>(now - started) / 1e9;
    for (const Held& h : held) {
      if (h.state == State::kOpen) {
        ++(h.slow ? r.slow_open : r.idle_open);
      } else {
        ++r.not_established;
      }
    }
    cpu_at_ready = thread_cpu_seconds();
    mark_ready();
  };

  // Slow sender p sends its byte of round k at ready + interval * (k + p / slow): the bytes are spread evenly
  // over each interval rather than sent in one burst.
  const double interval = static_cast<double>(plan_.slow_interval.count());
  std::int64_t slow_origin = 0;
  int slow_position = 0;
  std::int64_t slow_round = 0;
  auto slow_due = [&] {
    return slow_origin + static_cast<std::int64_t>(interval * (static_cast<double>(slow_round) +
                                                               static_cast<double>(slow_position) / plan_.slow));
  };
  // HTTP: a request head that never ends, one byte at a time: the request line, then header lines forever.
  const std::string http_head = "GET /slow HTTP/1.1\r\nHost: " + plan_.host + "\r\n";
  const std::string http_filler = "X-Slow: 1\r\n";
  auto next_byte = [&](const Held& h) {
    if (!plan_.http) return raw_byte(h.sent);
    if (h.sent < http_head.size()) return http_head[h.sent];
    return http_filler[(h.sent - http_head.size()) % http_filler.size()];
  };

  std::vector<char> buffer(16 * 1024);
  std::vector<epoll_event> events(256);
  for (;;) {
    std::int64_t now = monotonic_ns();
    if (!ready && (pending == 0 || now >= cap || now - last_progress >= stall)) {
      become_ready(now);
      slow_origin = now;
    }
    if (ready && plan_.slow > 0) {
      while (slow_due() <= now) {
        Held& h = held[static_cast<std::size_t>(slow_position)];
        if (h.state == State::kOpen) {
          const char byte = next_byte(h);
          const ssize_t n = ::send(h.fd.get(), &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
          if (n == 1) {
            ++h.sent;
            ++r.slow_bytes_sent;
          } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            note(std::string("send on a slow connection: ") + std::strerror(errno));
            h.fd.reset();
            h.state = State::kClosed;
            ++r.closed_by_server;
          }
        }
        if (++slow_position == plan_.slow) {
          slow_position = 0;
          ++slow_round;
        }
      }
    }
    std::int64_t wake = -1;
    if (!ready) wake = std::min(cap, last_progress + stall);
    if (ready && plan_.slow > 0) wake = slow_due();
    int timeout_ms = -1;
    if (wake >= 0) timeout_ms = static_cast<int>(std::max<std::int64_t>(0, (wake - now + 999'999) / 1'000'000));
    const int count = ::epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
    if (count < 0 && errno != EINTR) {
      note(std::string("epoll_wait: ") + std::strerror(errno));
      break;
    }
    bool stopping = false;
    for (int e = 0; e < count; ++e) {
      if (events[e].data.u64 == kWakeTag) {
        stopping = true;
        continue;
      }
      Held& h = held[events[e].data.u64];
      if (h.state == State::kConnecting) {
        int error = 0;
        socklen_t length = sizeof error;
        if (::getsockopt(h.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
        if (error != 0) {
          --pending;
          note(std::string("connect: ") + std::strerror(error));
          h.fd.reset();
          h.state = State::kClosed;
          continue;
        }
        last_progress = monotonic_ns();
        epoll_event event{};
        event.events = EPOLLIN | EPOLLRDHUP;
        event.data.u64 = events[e].data.u64;
        ::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, h.fd.get(), &event);
        if (plan_.http) {
          // An HTTP server answers only a whole request: there is no byte to greet it with.
          --pending;
          h.state = State::kOpen;
          continue;
        }
        // A connect completes once the kernel has queued the connection, before the server accepts it: one byte,
        // echoed, shows the server holds it (a thread started, a process forked, a descriptor watched).
        const char byte = raw_byte(0);
        if (::send(h.fd.get(), &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) {
          --pending;
          note(std::string("send on a held connection: ") + std::strerror(errno));
          h.fd.reset();
          h.state = State::kClosed;
          continue;
        }
        h.sent = 1;
        h.state = State::kGreeting;
        continue;
      }
      if (h.state != State::kOpen && h.state != State::kGreeting) continue;
      // Readable: an echo of slow bytes, or the server closing (EOF, reset).
      for (;;) {
        const ssize_t n = ::recv(h.fd.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n > 0) {
          if (!plan_.http) {
            for (ssize_t k = 0; k < n; ++k) {
              if (buffer[static_cast<std::size_t>(k)] != raw_byte(h.received + static_cast<std::uint64_t>(k))) {
                ++r.mismatches;
                note("mismatch on a slow connection at offset " + std::to_string(h.received + k));
                break;
              }
            }
          }
          if (h.slow && !plan_.http) {
            // The greeting's echo is not a slow byte.
            r.slow_bytes_echoed += static_cast<std::uint64_t>(n) - (h.received == 0 ? 1 : 0);
          }
          h.received += static_cast<std::uint64_t>(n);
          if (h.state == State::kGreeting) {
            h.state = State::kOpen;
            --pending;
            last_progress = monotonic_ns();
          }
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n < 0 && errno == EINTR) continue;
        // EOF or an error: the server let this connection go. Only once the run is ready does it count as the
        // server's doing during the run; before, it is a connection that was never established for long.
        if (ready && h.state == State::kOpen) ++r.closed_by_server;
        if (h.state == State::kGreeting) --pending;
        h.fd.reset();
        h.state = State::kClosed;
        break;
      }
    }
    if (stopping) break;
  }
  if (!ready) become_ready(monotonic_ns());
  r.cpu_seconds = std::max(0.0, thread_cpu_seconds() - cpu_at_ready);
  // The destructors of `held` close every connection here, on this thread, before stop() returns.
}

}  // namespace iomodels::loadgen::detail
