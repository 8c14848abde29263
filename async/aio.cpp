// aio: POSIX asynchronous IO. The server asks for a read or a write with aio_read(3)/aio_write(3), goes on, and is
// told when the request has completed; it never asks whether a socket is ready.
//
// It demonstrates the completion model through the POSIX interface, and what glibc makes of it: there is no
// kernel AIO for sockets behind aio_read, so glibc hands each request to a helper thread that does a plain
// blocking read(2)/write(2) and then queues the completion notification. The sockets are therefore left
// blocking, which is what those threads expect (on a non-blocking socket the read would just complete with
// EAGAIN and the server would be back to polling).
//   - Completions arrive as a real-time signal (SIGEV_SIGNAL, kCompletionSignal) whose si_value points at the
//     request, and the main thread takes them one by one with sigwaitinfo(2), together with SIGINT/SIGTERM:
//     every session is touched by that one thread, so nothing needs a lock. (SIGEV_THREAD would make glibc start
//     a thread for every completion and run the handler on it, concurrently with the others.)
//   - There is no aio_accept. A thread blocks in accept(2), the way glibc's helpers block in read(2), queues each
//     connection for the main thread and rings for it with one more real-time signal (kAcceptSignal, sigqueue(3)).
//   - glibc runs the requests for one descriptor one after another, so a write queued behind a read that waits for
//     the peer would never start: writes go through a dup(2) of the socket, which glibc sees as another file.
//   - A buffer lent to a request must not move until it completes, and the session's output buffer can move when
//     more input arrives. Reads land in a buffer of the connection's own, and the slice being written is copied out
//     of the session first.
// Inherent limit: a helper thread per outstanding request, and every connection keeps a read outstanding, blocked
// in recv for as long as the peer says nothing. glibc's pool has 20 threads by default; with more connections,
// requests queue behind reads that may never return. The pool is sized with aio_init(3) to twice the connection
// limit (--max-conns, default 1024), and connections over the limit are accepted and closed at once.
//
// Try it:  bin/aio --port 7000 &   nc 127.0.0.1 7000
#include <aio.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/accept.hpp"
#include "common/errors.hpp"
#include "common/output_slice.hpp"
#include "common/server.hpp"

using namespace iomodels;
using Clock = std::chrono::steady_clock;

namespace {

// SIGRTMIN is a function call in glibc (it keeps the first real-time signals for itself), hence not constexpr.
// sigwaitinfo(2) hands out the lowest-numbered pending real-time signal first, so the accept doorbell must be the
// lower one: under a closed-loop load a completion is always pending, and a doorbell numbered above them waited
// for ever (bench/c10k.sh found 9,000 connections accepted but never served or closed).
const int kAcceptSignal = SIGRTMIN + 1;
const int kCompletionSignal = SIGRTMIN + 2;
// Connections served at once when --max-conns is not given: each holds a helper thread (see the header).
constexpr std::size_t kDefaultConnectionLimit = 1024;
// Every connection always has a read outstanding, so its read buffer is always allocated: keep it modest.
constexpr std::size_t kReadSize = 16 * 1024;
// Shutdown: how long to wait for the helpers to finish the requests they are running.
constexpr auto kDrainDeadline = std::chrono::milliseconds(500);

struct Connection;

// One aiocb and whether glibc still owns it. Its address is the si_value of its completion signal.
struct Request {
  aiocb cb{};
  Connection* connection = nullptr;
  bool in_flight = false;
};

struct Connection {
  Connection(UniqueFd socket, UniqueFd write_socket, const SessionConfig& config)
      : read_fd(std::move(socket)), write_fd(std::move(write_socket)), session(config),
        input(std::make_unique_for_overwrite<char[]>(kReadSize)) {
    read.connection = this;
    write.connection = this;
  }

  UniqueFd read_fd;
  UniqueFd write_fd;  // dup(read_fd): the same socket, a descriptor glibc queues separately
  Session session;
  Request read;
  Request write;
  std::unique_ptr<char[]> input;
  OutputSlice output;  // the slice of session output being written
  bool closing = false;
};

class AioServer {
 public:
  explicit AioServer(Server& server)
      : server_(server),
        limit_(server.options.max_conns != 0 ? server.options.max_conns : kDefaultConnectionLimit) {
    sigemptyset(&signals_);
    for (int signal : {kCompletionSignal, kAcceptSignal, SIGINT, SIGTERM}) sigaddset(&signals_, signal);
    // Blocked before any thread starts (glibc's helpers included), so that only sigwaitinfo ever takes them.
    if (int rc = pthread_sigmask(SIG_BLOCK, &signals_, nullptr); rc != 0) die_errno("pthread_sigmask", rc);
    // At most one read and one write per connection are outstanding: enough threads for all of them.
    aioinit tuning{};
    tuning.aio_threads = static_cast<int>(std::min<std::size_t>(2 * limit_, 1 << 20));
    tuning.aio_num = tuning.aio_threads;
    tuning.aio_idle_time = 1;
    aio_init(&tuning);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  int run() {
    for (;;) {
      siginfo_t info{};
      const int signal = sigwaitinfo(&signals_, &info);
      if (signal < 0) {
        if (errno == EINTR) continue;
        die_errno("sigwaitinfo", errno);
      }
      if (signal == SIGINT || signal == SIGTERM) break;
      on_signal(signal, info);
    }
    stop();
    return 0;
  }

 private:
  // A completion signal is trusted only from glibc: a stray `kill -s RTMIN+1` carries no request.
  void on_signal(int signal, const siginfo_t& info) {
    if (signal == kCompletionSignal && info.si_code == SI_ASYNCIO) {
      on_completion(*static_cast<Request*>(info.si_value.sival_ptr));
    } else if (signal == kAcceptSignal) {
      on_accept();
    }
  }

  // ---- accepting: a thread blocked in accept(2) ----
  void accept_loop() {
    for (;;) {
      UniqueFd socket(accept_connection(server_.listener.get(), /*nonblocking=*/false));
      if (stopping_.load()) return;  // stop() shut the listener down: accept failed with EINVAL, or raced it
      if (!socket) {
        if (accept_failed(errno) == AcceptResult::kShed) wait_for_descriptors();
        continue;
      }
      // Made here rather than on the main thread, so that the connection waits for a free descriptor (rather than
      // being dropped) when accept(2) took the last one.
      UniqueFd writer;
      while (!(writer = UniqueFd(fcntl(socket.get(), F_DUPFD_CLOEXEC, 0)))) {
        const int err = errno;
        if (classify_errno(err) != ErrnoClass::kShedLoad) die_errno("fcntl F_DUPFD_CLOEXEC", err);
        if (!dup_failure_logged_) log_errno("fcntl F_DUPFD_CLOEXEC (waiting for a free descriptor; logged once)", err);
        dup_failure_logged_ = true;
        wait_for_descriptors();
        if (stopping_.load()) return;
      }
      bool was_empty = false;
      {
        std::lock_guard lock(mutex_);
        was_empty = accepted_.empty();
        accepted_.push_back({std::move(socket), std::move(writer)});
      }
      // The doorbell: the main thread takes every connection waiting, so one ring per batch is enough, and a
      // flood of connects cannot fill the signal queue (RLIMIT_SIGPENDING) with doorbells.
      if (was_empty && sigqueue(getpid(), kAcceptSignal, sigval{}) != 0) log_errno("sigqueue", errno);
    }
  }

  // Out of descriptors: keep serving, and try again once a connection closes or the pause ends.
  void wait_for_descriptors() {
    std::unique_lock lock(mutex_);
    const auto closed = closed_;
    freed_.wait_for(lock, kShedLoadPause, [&] { return closed_ != closed || stopping_.load(); });
  }

  void on_accept() {
    std::vector<Accepted> accepted;
    {
      std::lock_guard lock(mutex_);
      accepted.swap(accepted_);
    }
    for (Accepted& sockets : accepted) {
      if (stopping_.load() || connections_.size() >= limit_) continue;  // closed at once
      auto connection = std::make_unique<Connection>(std::move(sockets.socket), std::move(sockets.writer),
                                                     server_.session);
      Connection& added = *connection;
      connections_.emplace(&added, std::move(connection));
      pump(added);
    }
  }

  // ---- completions ----
  void on_completion(Request& request) {
    Connection& connection = *request.connection;
    const int err = aio_error(&request.cb);
    const ssize_t n = aio_return(&request.cb);
    request.in_flight = false;
    if (&request == &connection.read) {
      on_read(connection, err, n);
    } else {
      on_write(connection, err, n);
    }
    pump(connection);
  }

  static void on_read(Connection& connection, int err, ssize_t n) {
    if (connection.closing) return;
    if (err != 0) {
      if (err == ECANCELED || connection_error_is_fatal("aio_read", err)) connection.closing = true;
      return;  // otherwise pump() asks again
    }
    if (n == 0) {
      connection.session.receive_eof();
    } else {
      connection.session.receive({connection.input.get(), static_cast<std::size_t>(n)});
    }
  }

  static void on_write(Connection& connection, int err, ssize_t n) {
    if (connection.closing) return;
    if (err != 0) {
      if (err == ECANCELED || connection_error_is_fatal("aio_write", err)) connection.closing = true;
      return;
    }
    // A short write leaves the rest of the slice, which pump() writes next: bytes leave in order.
    connection.output.sent(connection.session, static_cast<std::size_t>(n));
  }

  // Asks for whatever the connection needs next, or closes it.
  void pump(Connection& connection) {
    if (!connection.closing) {
      if (connection.session.done()) {
        connection.closing = true;
      } else {
        if (!connection.write.in_flight) write_next(connection);
        if (!connection.read.in_flight && connection.session.wants_input()) read_next(connection);
      }
    }
    if (connection.closing) close(connection);
  }

  void read_next(Connection& connection) {
    submit(connection.read, connection.read_fd.get(), connection.input.get(), kReadSize, aio_read, "aio_read");
  }

  void write_next(Connection& connection) {
    const std::span<char> rest = connection.output.next(connection.session);
    if (rest.empty()) return;
    submit(connection.write, connection.write_fd.get(), rest.data(), rest.size(), aio_write, "aio_write");
  }

  void submit(Request& request, int fd, char* buffer, std::size_t size, int (*start)(aiocb*), const char* call) {
    request.cb = aiocb{};
    request.cb.aio_fildes = fd;
    request.cb.aio_buf = buffer;
    request.cb.aio_nbytes = size;
    request.cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    request.cb.aio_sigevent.sigev_signo = kCompletionSignal;
    request.cb.aio_sigevent.sigev_value.sival_ptr = &request;
    if (start(&request.cb) != 0) {  // EAGAIN: glibc could not queue it (out of memory or threads)
      log_errno(call, errno);
      request.connection->closing = true;
      return;
    }
    request.in_flight = true;
  }

  // A connection is freed only once glibc has handed back both its requests. shutdown(2) makes a helper blocked
  // in read(2) on it return 0 and one blocked in write(2) fail; aio_cancel(3) takes back requests still queued.
  // Each of them then completes, and its signal brings us back here.
  void close(Connection& connection) {
    if (connection.read.in_flight || connection.write.in_flight) {
      ::shutdown(connection.read_fd.get(), SHUT_RDWR);
      aio_cancel(connection.read_fd.get(), nullptr);
      aio_cancel(connection.write_fd.get(), nullptr);
      return;
    }
    connections_.erase(&connection);
    std::lock_guard lock(mutex_);
    ++closed_;
    freed_.notify_one();
  }

  // Stop accepting, close every connection (output still pending is dropped), wait for glibc to return every
  // request, then return.
  void stop() {
    stopping_.store(true);
    {
      std::lock_guard lock(mutex_);
      freed_.notify_one();
    }
    // shutdown(2) on a listening socket makes a blocked accept(2) return on Linux.
    ::shutdown(server_.listener.get(), SHUT_RDWR);
    acceptor_.join();
    std::vector<Connection*> open;
    for (auto& [connection, owned] : connections_) open.push_back(connection);
    for (Connection* connection : open) {
      connection->closing = true;
      close(*connection);
    }
    const auto deadline = Clock::now() + kDrainDeadline;
    while (!connections_.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      const timespec timeout{.tv_sec = left.count() / 1'000'000'000, .tv_nsec = left.count() % 1'000'000'000};
      siginfo_t info{};
      const int signal = sigtimedwait(&signals_, &info, &timeout);
      if (signal < 0) continue;  // EAGAIN at the deadline, or EINTR
      on_signal(signal, info);   // completions close their connections; new connections are closed at once
    }
    // A request glibc never returned still owns its aiocb and buffer: leave them to the process exit rather than
    // free memory a helper thread may yet write.
    if (!connections_.empty()) {
      log_message(std::to_string(connections_.size()) + " connection(s) still had requests running at exit");
      for (auto& [connection, owned] : connections_) owned.release();
    }
  }

  Server& server_;
  const std::size_t limit_;
  sigset_t signals_;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  // The accept thread, out of descriptors, waits here until a connection closes.
  std::mutex mutex_;
  std::condition_variable freed_;
  unsigned long closed_ = 0;
  bool dup_failure_logged_ = false;  // the accept thread's
  // Connections the accept thread has handed over and the main thread not yet taken.
  struct Accepted {
    UniqueFd socket;
    UniqueFd writer;
  };
  std::vector<Accepted> accepted_;
};

}  // namespace

int main(int argc, char** argv) {
  ModelInfo model;
  model.name = "aio";
  model.summary = "POSIX AIO (aio_read/aio_write); completions arrive as real-time signals taken by sigwaitinfo(2)";
  model.limit = "glibc runs every request on a helper thread that blocks in read(2)/write(2), and each connection "
                "keeps a read outstanding: at most --max-conns connections (default " +
                std::to_string(kDefaultConnectionLimit) +
                ") are served, with a helper pool of twice that (aio_init); more are accepted and closed at once";
  Server server = start_server(argc, argv, model);
  return AioServer(server).run();
}
