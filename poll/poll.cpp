// poll: readiness multiplexing with poll(2). One thread hands the kernel an array of (descriptor, events) pairs,
// sleeps until some are ready, then does exactly the IO that will not block.
//
// It demonstrates select's successor: the array names descriptors by value rather than by bit position, so there
// is no FD_SETSIZE and a connection may have any descriptor number; the kernel writes its answer into a separate
// field (revents), so the array is kept from round to round and only the requested events are refreshed. The
// array stays compact as connections come and go (the last entry moves into a closed one's slot), with the
// sessions in a parallel array at the same index.
// Inherent limit: every call copies the whole array into the kernel, which polls every entry, and the loop scans
// every revents afterwards: O(n) per round however few connections are active.
//
// Try it:  bin/poll --port 7000 &   nc 127.0.0.1 7000
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

#include "common/accept.hpp"
#include "common/errors.hpp"
#include "common/server.hpp"
#include "common/shutdown.hpp"
#include "common/socket_io.hpp"

using namespace iomodels;
using Clock = std::chrono::steady_clock;

namespace {

// The first two entries of the pollfd array; connection i sits at kFirstConnection + i.
constexpr std::size_t kShutdownSlot = 0;
constexpr std::size_t kListenerSlot = 1;
constexpr std::size_t kFirstConnection = 2;

struct Connection {
  UniqueFd fd;
  Session session;
};

class PollLoop {
 public:
  explicit PollLoop(Server& server) : server_(server), shutdown_(open_shutdown_fd()) {
    pollfds_.resize(kFirstConnection);
    pollfds_[kShutdownSlot] = pollfd{.fd = shutdown_.get(), .events = POLLIN, .revents = 0};
    pollfds_[kListenerSlot] = pollfd{.fd = server_.listener.get(), .events = POLLIN, .revents = 0};
  }

  void run() {
    for (;;) {
      set_events();
      const int ready = ::poll(pollfds_.data(), pollfds_.size(), timeout_ms());
      if (ready < 0) {
        if (errno == EINTR) continue;
        die_errno("poll", errno);
      }
      if (pollfds_[kShutdownSlot].revents & POLLIN) return;  // every connection closes with connections_
      const bool listener_ready = pollfds_[kListenerSlot].revents & POLLIN;
      // Connections first, then accept, so that new entries are not scanned before poll has seen them.
      for (std::size_t i = 0; i < connections_.size();) {
        if (serve(connections_[i], pollfds_[kFirstConnection + i].revents)) {
          ++i;
        } else {
          remove(i);
        }
      }
      if (paused_until_ && Clock::now() >= *paused_until_) paused_until_.reset();
      if (accepting() && listener_ready) on_accept();
    }
  }

 private:
  bool accepting() const { return !paused_until_.has_value(); }

  // The interest of every entry follows its session: readable while it wants input, writable while output is
  // owed. An entry with events 0 still reports errors and hangups (poll(2)), which serve() handles.
  void set_events() {
    pollfds_[kListenerSlot].events = accepting() ? POLLIN : 0;
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      const Session& session = connections_[i].session;
      pollfds_[kFirstConnection + i].events =
          static_cast<short>((session.wants_input() ? POLLIN : 0) | (session.has_output() ? POLLOUT : 0));
    }
  }

  // Sleep until something is ready; while the listener is paused (out of descriptors), until the pause ends.
  int timeout_ms() const {
    if (accepting()) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*paused_until_ - Clock::now());
    return static_cast<int>(std::max<long>(0, static_cast<long>(left.count())));
  }

  void add(UniqueFd fd) {
    pollfds_.push_back(pollfd{.fd = fd.get(), .events = 0, .revents = 0});
    connections_.push_back(Connection{std::move(fd), Session(server_.session)});
  }

  // Swap-remove in both arrays, so that the pollfd array passed to the kernel has no holes.
  void remove(std::size_t i) {
    pollfds_[kFirstConnection + i] = pollfds_.back();
    pollfds_.pop_back();
    connections_[i] = std::move(connections_.back());
    connections_.pop_back();
    paused_until_.reset();  // a descriptor was freed: accept again
  }

  void on_accept() {
    const AcceptResult result = accept_round(server_.listener.get(), [this](UniqueFd fd) {
      if (over_connection_limit(server_.options, connections_.size())) return;  // closed at once (--max-conns)
      add(std::move(fd));
    });
    // Out of descriptors, the listener would stay readable and poll would return at once, round after round: stop
    // watching it until a connection closes or the pause ends.
    if (result == AcceptResult::kShed) paused_until_ = Clock::now() + kShedLoadPause;
  }

  // The IO poll said will not block. Returns false once the connection should be closed.
  static bool serve(Connection& connection, short revents) {
    Session& session = connection.session;
    const int fd = connection.fd.get();
    // POLLERR and POLLHUP are reported whatever was asked for; the recv or send that follows returns the error
    // or the EOF, which ends the connection.
    const bool failed = revents & (POLLERR | POLLHUP);
    const bool readable = failed || (revents & POLLIN);
    if (readable && session.wants_input() && receive_into(fd, session) == IoStatus::kClosed) return false;
    // Try to send what a read just produced right away: the socket is usually writable, and this saves a round.
    const bool writable = readable || (revents & POLLOUT);
    if (writable && session.has_output() && send_from(fd, session) == IoStatus::kClosed) return false;
    return !session.done();
  }

  Server& server_;
  UniqueFd shutdown_;
  std::vector<pollfd> pollfds_;
  std::vector<Connection> connections_;  // connections_[i] is pollfds_[kFirstConnection + i]
  std::optional<Clock::time_point> paused_until_;
};

}  // namespace

int main(int argc, char** argv) {
  ModelInfo model;
  model.name = "poll";
  model.summary = "one thread waits in poll(2) on a compact pollfd array";
  model.limit = "every round copies the whole pollfd array into the kernel: O(n)";
  Server server = start_server(argc, argv, model, ListenerConfig{.nonblocking = true});
  PollLoop(server).run();
  return 0;
}
