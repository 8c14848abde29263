// select: readiness multiplexing with select(2). One thread asks the kernel which descriptors are ready, then
// does exactly the IO that will not block.
//
// It demonstrates the oldest way to wait on many sockets at once: the thread sleeps in select(2) until one of the
// descriptors it named is readable or writable, so an idle server uses no CPU (unlike the busy loop). The sets
// are bit arrays indexed by descriptor number, and select overwrites them with its answer, so they are rebuilt
// from scratch before every call: read interest while the session wants input, write interest only while
// output is owed.
// Inherent limits: an fd_set holds descriptors 0..FD_SETSIZE-1 (1024) only, so a connection whose descriptor is
// at or above FD_SETSIZE cannot be watched and is closed at once; and every round costs O(n) in the kernel and
// here (building the sets, scanning them afterwards), however few connections are active.
//
// Try it:  bin/select --port 7000 &   nc 127.0.0.1 7000
#include <sys/select.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/accept.hpp"
#include "common/errors.hpp"
#include "common/server.hpp"
#include "common/shutdown.hpp"
#include "common/socket_io.hpp"

using namespace iomodels;
using Clock = std::chrono::steady_clock;

namespace {


struct Connection {
  UniqueFd fd;
  Session session;
};

class SelectLoop {
 public:
  explicit SelectLoop(Server& server) : server_(server), shutdown_(open_shutdown_fd()) {
    // Both are opened before any connection, so they get low numbers; check rather than assume.
    if (server_.listener.get() >= FD_SETSIZE || shutdown_.get() >= FD_SETSIZE) {
      fail("select: the listener or the shutdown descriptor is at or above FD_SETSIZE");
    }
  }

  void run() {
    for (;;) {
      fd_set readable;
      fd_set writable;
      const int max_fd = build_sets(readable, writable);
      // No timeout while accepting; while the listener is paused (out of descriptors), until the pause ends.
      timeval timeout{};
      if (!accepting()) timeout = pause_timeout();
      const int ready = ::select(max_fd + 1, &readable, &writable, nullptr, accepting() ? nullptr : &timeout);
      if (ready < 0) {
        if (errno == EINTR) continue;
        die_errno("select", errno);
      }
      if (FD_ISSET(shutdown_.get(), &readable)) return;  // every connection closes with connections_
      // Connections first, then accept: a descriptor number closed this round and reused by accept(2) must not
      // be mistaken for one that select reported.
      for (std::size_t i = 0; i < connections_.size();) {
        Connection& connection = connections_[i];
        const int fd = connection.fd.get();
        if (serve(connection, FD_ISSET(fd, &readable), FD_ISSET(fd, &writable))) {
          ++i;
        } else {
          connections_[i] = std::move(connections_.back());
          connections_.pop_back();
          paused_until_.reset();  // a descriptor was freed: accept again
        }
      }
      if (paused_until_ && Clock::now() >= *paused_until_) paused_until_.reset();
      if (accepting() && FD_ISSET(server_.listener.get(), &readable)) on_accept();
    }
  }

 private:
  bool accepting() const { return !paused_until_.has_value(); }

  // select(2) overwrites its sets with the answer, so they are built from nothing each round: O(n) here, and
  // O(highest descriptor) again in the kernel, which tests every bit up to max_fd.
  int build_sets(fd_set& readable, fd_set& writable) {
    FD_ZERO(&readable);
    FD_ZERO(&writable);
    FD_SET(shutdown_.get(), &readable);
    int max_fd = shutdown_.get();
    if (accepting()) {
      FD_SET(server_.listener.get(), &readable);
      max_fd = std::max(max_fd, server_.listener.get());
    }
    for (const Connection& connection : connections_) {
      const int fd = connection.fd.get();  // always < FD_SETSIZE: on_accept closes the others
      if (connection.session.wants_input()) FD_SET(fd, &readable);
      if (connection.session.has_output()) FD_SET(fd, &writable);
      max_fd = std::max(max_fd, fd);
    }
    return max_fd;
  }

  // What is left of the pause, for select's timeout.
  timeval pause_timeout() const {
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(*paused_until_ - Clock::now());
    const long micros = std::max<long>(0, static_cast<long>(left.count()));
    return timeval{.tv_sec = micros / 1'000'000, .tv_usec = micros % 1'000'000};
  }

  void on_accept() {
    const AcceptResult result = accept_round(server_.listener.get(), [this](UniqueFd fd) {
      // FD_SET on a descriptor >= FD_SETSIZE writes past the end of the fd_set (glibc's fortified build aborts
      // instead): such a connection cannot be served by select at all, so it is closed at once.
      if (fd.get() >= FD_SETSIZE) return note_over_fd_setsize();
      if (over_connection_limit(server_.options, connections_.size())) return;  // closed at once (--max-conns)
      connections_.push_back(Connection{std::move(fd), Session(server_.session)});
    });
    // Out of descriptors, the listener would stay readable and select would return at once, round after round:
    // stop watching it until a connection closes or the pause ends.
    if (result == AcceptResult::kShed) paused_until_ = Clock::now() + kShedLoadPause;
  }

  // Logged at the 1st, 2nd, 4th, 8th... occurrence: visible, without a line per refused connection.
  void note_over_fd_setsize() {
    ++over_fd_setsize_;
    if ((over_fd_setsize_ & (over_fd_setsize_ - 1)) == 0) {
      log_message("closed " + std::to_string(over_fd_setsize_) + " connection(s) whose descriptor was at or above " +
                  "FD_SETSIZE (" + std::to_string(FD_SETSIZE) + ")");
    }
  }

  // The IO select said will not block. Returns false once the connection should be closed.
  static bool serve(Connection& connection, bool readable, bool writable) {
    Session& session = connection.session;
    const int fd = connection.fd.get();
    if (readable && session.wants_input() && receive_into(fd, session) == IoStatus::kClosed) return false;
    // Try to send what a read just produced right away: the socket is usually writable, and this saves a round.
    if ((writable || readable) && session.has_output() && send_from(fd, session) == IoStatus::kClosed) return false;
    return !session.done();
  }

  Server& server_;
  UniqueFd shutdown_;
  std::vector<Connection> connections_;
  std::optional<Clock::time_point> paused_until_;
  unsigned long over_fd_setsize_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  ModelInfo model;
  model.name = "select";
  model.summary = "one thread waits in select(2) on fd_sets rebuilt every round";
  model.limit = "descriptors at or above FD_SETSIZE (" + std::to_string(FD_SETSIZE) +
                ") cannot be watched and are closed at once; every round costs O(n)";
  Server server = start_server(argc, argv, model, ListenerConfig{.nonblocking = true});
  SelectLoop(server).run();
  return 0;
}
