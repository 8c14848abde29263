// sigio: signal-driven IO. Every socket is put in O_ASYNC mode with an owner (F_SETOWN) and a real-time signal
// (F_SETSIG); the kernel then queues that signal, carrying the descriptor (si_fd) and what happened (si_band),
// each time the socket's state changes. One thread takes the signals off the queue with sigwaitinfo(2) — they
// are blocked, so no handler ever runs — together with SIGINT and SIGTERM.
//
// It demonstrates readiness delivered as a queue of events, the idea epoll and io_uring later made practical:
//   - a signal says "something changed", not "this is how things are": after one, the socket is read and written
//     until EAGAIN, and a connection that stopped reading under backpressure must be resumed when its output
//     drains, because no new signal will come for bytes already waiting;
//   - the queue is bounded by RLIMIT_SIGPENDING. When it is full the kernel sends a plain SIGIO instead, which
//     says only "events were lost": the server then tries every socket once (a full rescan), so no connection is
//     forgotten, and counts the overflows (logged at exit);
//   - a queued signal may name a descriptor that was closed since, and perhaps reused: IO on it is non-blocking,
//     so a stale signal costs at most one EAGAIN.
// Inherent limit: the signal queue. One signal per segment received makes the queue the bottleneck under load, and
// every overflow costs a rescan of every connection, O(n). One thread only: the signals go to the process.
//
// Try it:  bin/sigio --port 7000 &   nc 127.0.0.1 7000
//          prlimit --sigpending=8 -- bin/sigio --port 7000    (a tiny queue: watch the overflows at exit)
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/accept.hpp"
#include "common/connection_table.hpp"
#include "common/errors.hpp"
#include "common/server.hpp"
#include "common/socket_io.hpp"

using namespace iomodels;
using Clock = std::chrono::steady_clock;

namespace {

// recv(2) calls of up to kReadChunk one connection gets per turn before the others have theirs.
constexpr int kReadsPerTurn = 4;
// Signals taken off the queue before the connections with work left (the ready list) get their next turn.
constexpr int kSignalsPerRound = 64;

// The signal each socket raises. SIGRTMIN itself may be taken by the C library; the real-time signals queue one
// instance per event, with siginfo, where a standard signal would merge them into one.
int io_signal() { return SIGRTMIN + 1; }

// Readiness: a signal (or the rescan) said so, and no EAGAIN since. Both start true: bytes that arrived before
// O_ASYNC was set will never be announced by a signal.
struct Connection {
  UniqueFd fd;
  Session session;
  Readiness readiness{.can_read = true, .can_write = true};
  bool queued = false;  // in the ready list
};

// Blocks the signals this server waits for: a blocked signal stays queued until sigwaitinfo takes it, and never
// runs a handler or the default action (which for SIGIO and the real-time signals is to terminate).
sigset_t block_io_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : {io_signal(), SIGIO, SIGINT, SIGTERM}) sigaddset(&set, signal);
  if (int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) die_errno("pthread_sigmask", rc);
  return set;
}

// fcntl(2) "Signal-driven I/O": the owner receives the signal, F_SETSIG makes it a queued real-time signal with
// si_fd and si_band filled in, O_ASYNC turns the notification on.
void arm(int fd) {
  if (fcntl(fd, F_SETOWN, getpid()) != 0) die_errno("fcntl F_SETOWN", errno);
  if (fcntl(fd, F_SETSIG, io_signal()) != 0) die_errno("fcntl F_SETSIG", errno);
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_ASYNC | O_NONBLOCK) != 0) die_errno("fcntl O_ASYNC", errno);
}

class SigioLoop {
 public:
  SigioLoop(const Server& server, const sigset_t& signals)
      : server_(server), listener_(server.listener.get()), signals_(signals) {
    arm(listener_);
  }

  ~SigioLoop() { log_message(std::to_string(overflows_) + " queue overflows recovered"); }

  void run() {
    accept_more_ = true;  // connections may have queued before the listener was armed
    for (;;) {
      siginfo_t info;
      int signo = next_signal(info, /*block=*/!connections_.has_queued() && !accept_more_);
      for (int taken = 0; signo > 0;) {
        if (signo == SIGINT || signo == SIGTERM) return;  // every connection closes with connections_
        on_signal(signo, info);
        if (++taken == kSignalsPerRound) break;
        signo = next_signal(info, /*block=*/false);
      }
      connections_.serve_queued([this](Connection& connection) { serve(connection); });
      if (paused_until_ && Clock::now() >= *paused_until_) resume_accepting();
      if (accept_more_ && !paused_until_) on_accept();
    }
  }

 private:
  // The next queued signal, or 0 when none came (at once when !block; at the end of a pause while accepting is
  // paused). The standard signals (SIGIO, SIGINT, SIGTERM) are taken before the real-time ones (signal(7)).
  int next_signal(siginfo_t& info, bool block) {
    int signo;
    if (block && !paused_until_) {
      signo = sigwaitinfo(&signals_, &info);
    } else {
      timespec timeout{};
      if (block) {
        const auto left = std::max(Clock::duration::zero(), *paused_until_ - Clock::now());
        timeout.tv_nsec = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();  // < 1 s
      }
      signo = sigtimedwait(&signals_, &info, &timeout);
    }
    if (signo < 0 && errno != EAGAIN && errno != EINTR) die_errno("sigwaitinfo", errno);
    return std::max(signo, 0);
  }

  void on_signal(int signo, const siginfo_t& info) {
    if (signo == SIGIO) {
      on_overflow();
      return;
    }
    if (info.si_fd == listener_) {
      accept_more_ = true;
      return;
    }
    Connection* connection = connections_.find(info.si_fd);
    if (connection == nullptr) return;  // stale: the descriptor was closed after the signal was queued
    // si_band holds poll(2) bits. On a reused descriptor they describe the old socket; trying is still harmless.
    connection->readiness.can_read |= (info.si_band & (POLLIN | POLLERR | POLLHUP)) != 0;
    connection->readiness.can_write |= (info.si_band & (POLLOUT | POLLERR | POLLHUP)) != 0;
    serve(*connection);
  }

  // The real-time queue was full, so at least one event is lost and nothing says which. Empty what is queued (it
  // is all covered by what follows, and the room is needed) and try every socket until EAGAIN.
  void on_overflow() {
    if (overflows_++ == 0) log_message("real-time signal queue overflowed (SIGIO): rescanning every socket");
    // sigaction(2): setting a signal's action to SIG_IGN discards its pending instances, even while blocked.
    struct sigaction ignore {};
    struct sigaction previous {};
    ignore.sa_handler = SIG_IGN;
    if (sigaction(io_signal(), &ignore, &previous) != 0 || sigaction(io_signal(), &previous, nullptr) != 0) {
      die_errno("sigaction", errno);
    }
    accept_more_ = true;
    connections_.for_each([this](Connection& connection) {
      connection.readiness = {.can_read = true, .can_write = true};
      serve(connection);
    });
  }

  void serve(Connection& connection) {
    // transfer() sends first, which also resumes a connection that stopped reading under backpressure: the bytes
    // waiting in its socket will never raise another signal.
    switch (transfer(connection.fd.get(), connection.session, connection.readiness, kReadsPerTurn)) {
      case Transfer::kClose:
        close_connection(connection.fd.get());
        return;
      case Transfer::kMore:
        // Stopped short of EAGAIN: no signal will come for what is left, so it gets a turn next round.
        connections_.queue(connection);
        return;
      case Transfer::kWait:
        return;  // EAGAIN (a signal will come) or nothing wanted
    }
  }

  // Accepts until EAGAIN, at most kAcceptsPerRound: the listener's signal came once per connection, possibly
  // long ago, so stopping early means coming back on our own (accept_more_).
  void on_accept() {
    const AcceptResult result = accept_round(listener_, [this](UniqueFd fd) {
      if (over_connection_limit(server_.options, connections_.size())) return;  // closed at once (--max-conns)
      add_connection(std::move(fd));
    });
    if (result == AcceptResult::kShed) pause_accepting();
    accept_more_ = result == AcceptResult::kAccepted;  // stopped at the bound: more may be waiting
  }

  void add_connection(UniqueFd fd) {
    // accept(2): the new socket inherits neither O_ASYNC nor O_NONBLOCK nor the owner from the listener.
    arm(fd.get());
    // Served at once: bytes that came before arm() raised no signal.
    serve(connections_.add(Connection{.fd = std::move(fd), .session = Session(server_.session)}));
  }

  void close_connection(int fd) {
    connections_.remove(fd);  // close(2) also ends the socket's O_ASYNC registration; queued signals stay behind
    if (paused_until_) resume_accepting();  // a descriptor was freed
  }

  // Out of descriptors or memory: the connection stays in the backlog. Stop accepting for a while instead of
  // failing once per signal; no signal will announce the waiting connections later, so resuming accepts at once.
  void pause_accepting() {
    paused_until_ = Clock::now() + kShedLoadPause;
  }

  void resume_accepting() {
    paused_until_.reset();
    accept_more_ = true;
  }

  const Server& server_;
  const int listener_;
  const sigset_t signals_;
  ConnectionTable<Connection> connections_;  // the ready list holds those with work left
  bool accept_more_ = false;
  std::optional<Clock::time_point> paused_until_;
  unsigned long overflows_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists and before any socket can raise a signal.
  const sigset_t signals = block_io_signals();
  Server server = start_server(
      argc, argv,
      ModelInfo{
          .name = "sigio",
          .summary =
              "one thread takes per-socket real-time signals (O_ASYNC, F_SETSIG) off the queue with sigwaitinfo(2)",
          .limit = "the real-time signal queue (RLIMIT_SIGPENDING): when it overflows every socket is rescanned, O(n)",
      },
      ListenerConfig{.nonblocking = true});
  SigioLoop(server, signals).run();
  return 0;
}
