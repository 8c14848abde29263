// nonblocking: one thread, every socket O_NONBLOCK, and a loop that asks each of them in turn "anything yet?".
//
// It demonstrates what non-blocking IO alone gives: no call ever puts the thread to sleep. accept(2), recv(2)
// and send(2) either do their work at once or fail with EAGAIN ("nothing yet; try again later"), so one thread
// can serve many clients by trying them all, round after round, and a slow client never holds the others up.
// Inherent limit: nothing ever waits, so the loop spins and burns a whole core even with no client at all, and
// every round costs one system call per connection whether it has traffic or not. Knowing *which* socket is
// ready without asking each one is what select, poll and epoll add.
//
// Try it:  bin/nonblocking --port 7000 &   nc 127.0.0.1 7000      (then watch it in top: 100% CPU, idle)
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <vector>

#include "common/accept.hpp"
#include "common/errors.hpp"
#include "common/server.hpp"
#include "common/shutdown.hpp"
#include "common/socket_io.hpp"

using namespace iomodels;

namespace {

struct Connection {
  UniqueFd fd;
  Session session;
};

class BusyLoop {
 public:
  explicit BusyLoop(Server& server) : server_(server), shutdown_(open_shutdown_fd()) {}

  void run() {
    while (!shutdown_requested()) {
      try_accept();
      for (std::size_t i = 0; i < connections_.size();) {
        if (try_connection(connections_[i])) {
          ++i;
        } else {
          // Swap-remove: order does not matter, and closing stays O(1).
          connections_[i] = std::move(connections_.back());
          connections_.pop_back();
        }
      }
    }
    // Returning closes every connection (their UniqueFd), output pending or not.
  }

 private:
  // The signalfd is non-blocking like everything else here: read(2) says EAGAIN until SIGINT or SIGTERM is
  // pending. One more system call per round; the loop is busy anyway.
  bool shutdown_requested() {
    signalfd_siginfo info;
    const ssize_t n = ::read(shutdown_.get(), &info, sizeof info);
    if (n == static_cast<ssize_t>(sizeof info)) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) die_errno("read signalfd", errno);
    return false;
  }

  // Out of descriptors (EMFILE...), the listener stays "ready", so every round tries again and fails again until a
  // connection closes: this loop spins by design anyway, so that costs nothing extra, and no pause is needed.
  void try_accept() {
    accept_round(server_.listener.get(), [this](UniqueFd fd) {
      if (over_connection_limit(server_.options, connections_.size())) return;  // closed at once (--max-conns)
      connections_.push_back(Connection{std::move(fd), Session(server_.session)});
    });
  }

  // One recv and one send attempt. Returns false once the connection should be closed.
  static bool try_connection(Connection& connection) {
    Session& session = connection.session;
    if (session.wants_input() && receive_into(connection.fd.get(), session) == IoStatus::kClosed) return false;
    if (session.has_output() && send_from(connection.fd.get(), session) == IoStatus::kClosed) return false;
    // kWouldBlock from either call is EAGAIN: "nothing yet", so we simply move on to the next connection.
    return !session.done();
  }

  Server& server_;
  UniqueFd shutdown_;
  std::vector<Connection> connections_;
};

}  // namespace

int main(int argc, char** argv) {
  ModelInfo model;
  model.name = "nonblocking";
  model.summary = "one thread tries accept and every connection in turn (O_NONBLOCK, EAGAIN), never sleeping";
  model.limit = "busy polling: burns a whole core even when idle; one recv per connection per round";
  Server server = start_server(argc, argv, model, ListenerConfig{.nonblocking = true});
  BusyLoop(server).run();
  return 0;
}
