// epoll: readiness with an interest list kept in the kernel. Each event loop registers a socket once
// (epoll_ctl ADD), changes what it waits for only when that changes (MOD), and epoll_wait(2) hands back only the
// descriptors that are ready.
//
// It demonstrates why epoll scales where select and poll do not: the interest list lives in the kernel, so a round
// costs O(ready), not O(connections), and 100,000 idle connections cost only their memory. Two variants:
//   level-triggered (default): epoll_wait reports a socket as long as it is readable/writable, so one recv per
//     report is enough; whatever is left is reported again next round.
//   --edge (EPOLLET): a socket is reported once per change, so it must be read and written until EAGAIN; to keep
//     one busy connection from starving the rest, a connection gets at most kReadsPerWake reads per turn and then
//     waits in a ready list for the next round.
//   --threads N: N loops, each with its own epoll, thread and SO_REUSEPORT listener; the kernel spreads new
//     connections over the listeners, and a connection stays on the loop that accepted it.
//   --processes N: N worker processes under a supervising parent (nginx's shape), each with its own listener and
//     loops. What --threads cannot give: each process has its own descriptor table, hence its own RLIMIT_NOFILE,
//     so N workers hold N times the connections one process may; and a worker that crashes takes only its own
//     connections with it (the parent starts it again). The price: nothing is shared but the --max-conns count.
// Inherent limit: none of the model's own; Linux only. A loop is one thread, so N loops use at most N cores.
//
// Try it:  bin/epoll --port 7000 --edge --threads 2 &   nc 127.0.0.1 7000
#include <sys/epoll.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "common/accept.hpp"
#include "common/connection_table.hpp"
#include "common/errors.hpp"
#include "common/server.hpp"
#include "common/shutdown.hpp"
#include "common/socket_io.hpp"
#include "common/worker_processes.hpp"

using namespace iomodels;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kMaxEvents = 256;
// Edge-triggered: recv(2) calls of up to kReadChunk one connection gets per turn before the others have theirs.
constexpr int kReadsPerWake = 4;

// Open connections, for --max-conns: one counter per process (so a restarted worker starts again from zero), in
// memory that survives fork(2) shared when there are worker processes, summed at each accept. A lock-free atomic
// works across processes as across threads.
std::span<std::atomic<std::size_t>> connection_counts;
std::atomic<std::size_t>* own_count = nullptr;

void init_connection_counts(int processes) {
  const std::size_t bytes = sizeof(std::atomic<std::size_t>) * static_cast<std::size_t>(processes);
  void* memory = processes == 1 ? ::operator new(bytes)
                                : mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) die_errno("mmap", errno);
  auto* counts = static_cast<std::atomic<std::size_t>*>(memory);
  for (int i = 0; i < processes; ++i) new (&counts[i]) std::atomic<std::size_t>(0);
  connection_counts = {counts, static_cast<std::size_t>(processes)};
  own_count = &counts[0];
}

std::size_t open_connections() {
  std::size_t total = 0;
  for (const auto& count : connection_counts) total += count.load(std::memory_order_relaxed);
  return total;
}

// Per connection: 4 bytes of descriptor, the session (no buffer while idle), the registered events and 3 flags.
struct Connection {
  UniqueFd fd;
  Session session;
  std::uint32_t interest = 0;  // what epoll_ctl registered last
  Readiness readiness;         // reported readable / writable, no EAGAIN since
  bool queued = false;         // in the ready list (edge-triggered, out of turn)
};

class EpollLoop {
 public:
  EpollLoop(const Server& server, UniqueFd listener, bool edge)
      : server_(server),
        listener_(std::move(listener)),
        shutdown_(open_shutdown_fd()),
        epoll_(epoll_create1(EPOLL_CLOEXEC)),
        edge_(edge) {
    if (!epoll_) die_errno("epoll_create1", errno);
    // The listener stays level-triggered in both variants: accepting at most kAcceptsPerRound per round relies
    // on being told again that more are waiting.
    control(EPOLL_CTL_ADD, listener_.get(), EPOLLIN);
    control(EPOLL_CTL_ADD, shutdown_.get(), EPOLLIN);
  }

  void run() {
    std::array<epoll_event, kMaxEvents> events;
    for (;;) {
      const int ready = epoll_wait(epoll_.get(), events.data(), kMaxEvents, wait_timeout_ms());
      if (ready < 0) {
        if (errno == EINTR) continue;
        die_errno("epoll_wait", errno);
      }
      bool listener_ready = false;
      for (int i = 0; i < ready; ++i) {
        const int fd = events[i].data.fd;
        if (fd == shutdown_.get()) return;  // every connection closes with connections_
        if (fd == listener_.get()) {
          listener_ready = true;
        } else if (Connection* connection = connections_.find(fd)) {
          on_event(*connection, events[i].events);
        }
      }
      connections_.serve_queued([this](Connection& connection) { serve(connection); });
      if (paused_until_ && Clock::now() >= *paused_until_) resume_accepting();
      // Accept last: a descriptor closed this round and handed out again must not meet a stale event.
      if (listener_ready && !paused_until_) on_accept();
    }
  }

 private:
  // Block until something is ready; not at all while connections wait in the ready list; until the end of the
  // pause while the listener is paused.
  int wait_timeout_ms() const {
    if (connections_.has_queued()) return 0;
    if (!paused_until_) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*paused_until_ - Clock::now());
    return static_cast<int>(std::max<long>(0, left.count()));
  }

  void control(int op, int fd, std::uint32_t events) {
    epoll_event event{.events = events, .data = {.fd = fd}};
    if (epoll_ctl(epoll_.get(), op, fd, &event) != 0) die_errno("epoll_ctl", errno);
  }

  void on_event(Connection& connection, std::uint32_t events) {
    // EPOLLHUP and EPOLLERR are reported whatever was registered; the next recv or send tells what happened.
    const bool readable = events & (EPOLLIN | EPOLLHUP | EPOLLERR);
    const bool writable = events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
    Readiness& readiness = connection.readiness;
    if (edge_) {
      // An edge is reported once: remember it until EAGAIN says the socket is drained (or full).
      readiness.can_read |= readable;
      readiness.can_write |= writable;
    } else {
      // Level-triggered: the kernel repeats whatever is still true next round.
      readiness.can_read = readable;
      readiness.can_write = readiness.can_write || writable;
    }
    serve(connection);
  }

  // Does the IO the connection's readiness allows (at most one read in level-triggered mode: the kernel reports
  // the rest next round; kReadsPerWake in edge-triggered mode), then updates its registration or closes it.
  void serve(Connection& connection) {
    const Transfer outcome =
        transfer(connection.fd.get(), connection.session, connection.readiness, edge_ ? kReadsPerWake : 1);
    if (outcome == Transfer::kClose) {
      close_connection(connection.fd.get());
      return;
    }
    if (outcome == Transfer::kMore && edge_) connections_.queue(connection);
    // Wait for readable only while the session takes input, for writable only while output is owed. EPOLL_CTL_MOD
    // only when that changes; on an edge-triggered socket it also re-arms: the kernel re-checks readiness then.
    const Session& session = connection.session;
    const std::uint32_t interest =
        (session.wants_input() ? EPOLLIN : 0u) | (session.has_output() ? EPOLLOUT : 0u) | (edge_ ? EPOLLET : 0u);
    if (interest != connection.interest) {
      control(EPOLL_CTL_MOD, connection.fd.get(), interest);
      connection.interest = interest;
    }
  }

  void on_accept() {
    const AcceptResult result = accept_round(listener_.get(), [this](UniqueFd fd) {
      if (over_connection_limit(server_.options, open_connections())) return;  // closed at once
      add_connection(std::move(fd));
    });
    if (result == AcceptResult::kShed) pause_accepting();
  }

  void add_connection(UniqueFd fd) {
    const int number = fd.get();
    const std::uint32_t interest = EPOLLIN | (edge_ ? EPOLLET : 0u);
    epoll_event event{.events = interest, .data = {.fd = number}};
    // ADD checks readiness at once, so bytes that arrived before it are reported (edge-triggered too).
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, number, &event) != 0) {
      // ENOSPC (fs.epoll.max_user_watches) or ENOMEM: this connection cannot be watched; drop it, keep the rest.
      log_errno("epoll_ctl ADD (closing the new connection)", errno);
      return;
    }
    connections_.add(
        Connection{.fd = std::move(fd), .session = Session(server_.session), .interest = interest, .readiness = {}});
    own_count->fetch_add(1, std::memory_order_relaxed);
  }

  // close(2) also takes the socket out of the epoll set: no other descriptor refers to it (epoll(7), Q6).
  void close_connection(int fd) {
    connections_.remove(fd);
    own_count->fetch_sub(1, std::memory_order_relaxed);
    if (paused_until_) resume_accepting();  // a descriptor was freed
  }

  // accept(2) failed for want of descriptors or memory. The pending connection stays in the backlog, so the level-
  // triggered listener would be reported again at once, round after round: stop watching it for a while.
  void pause_accepting() {
    paused_until_ = Clock::now() + kShedLoadPause;
    control(EPOLL_CTL_MOD, listener_.get(), 0);
  }

  void resume_accepting() {
    paused_until_.reset();
    control(EPOLL_CTL_MOD, listener_.get(), EPOLLIN);
  }

  const Server& server_;
  UniqueFd listener_;
  UniqueFd shutdown_;
  UniqueFd epoll_;
  const bool edge_;
  ConnectionTable<Connection> connections_;  // the ready list holds edge-triggered ones with work left
  std::optional<Clock::time_point> paused_until_;
};

// One process's loops: one per listener, each with its own thread (the first on the calling thread).
void run_loops(const Server& server, std::vector<UniqueFd> listeners, bool edge) {
  // Every loop's descriptors are opened before any loop runs: once one accepts, the others could find none left.
  std::vector<std::unique_ptr<EpollLoop>> loops;
  for (UniqueFd& fd : listeners) loops.push_back(std::make_unique<EpollLoop>(server, std::move(fd), edge));
  // Threads start after start_server blocked SIGINT and SIGTERM, so every loop inherits the mask its signalfd
  // relies on. A jthread joins when it goes out of scope, after loop 0 has returned.
  std::vector<std::jthread> threads;
  for (std::size_t i = 1; i < loops.size(); ++i) threads.emplace_back([&loop = *loops[i]] { loop.run(); });
  loops.front()->run();
}

}  // namespace

int main(int argc, char** argv) {
  Server server = start_server(
      argc, argv,
      ModelInfo{
          .name = "epoll",
          .summary = "event loops wait in epoll_wait(2) on an interest list kept in the kernel",
          .limit = "",  // none of the model's own: memory and descriptors
          .default_threads = 1,
          .threads_help = "event loops, each with its own thread, epoll instance and SO_REUSEPORT listener",
          .processes_help = "worker processes (nginx's shape), each with its own SO_REUSEPORT listener and "
                            "--threads loops",
          .flags = {{"edge", "edge-triggered (EPOLLET): read and write until EAGAIN, a bounded amount per turn"}},
      },
      ListenerConfig{.nonblocking = true, .listener_per_thread = true});
  const bool edge = server.options.flag("edge");
  init_connection_counts(server.options.processes);
  if (server.options.processes == 1) {
    run_loops(server, open_listeners(server, server.options.threads), edge);
    return 0;
  }
  // --processes N: every worker's listener is opened here, before any worker exists, so that the port accepts for
  // all of them from the banner on; the parent keeps them to hand the same one to a worker it has to restart.
  // Each process has its own descriptor table, so N workers hold N times what RLIMIT_NOFILE allows one.
  std::vector<UniqueFd> listeners = open_listeners(server, server.options.processes);
  return run_worker_processes(server.options.processes, [&](int index) {
    own_count = &connection_counts[static_cast<std::size_t>(index)];
    own_count->store(0);  // a restarted worker: its predecessor's connections died with it
    std::vector<UniqueFd> mine;
    mine.push_back(std::move(listeners[static_cast<std::size_t>(index)]));
    listeners.clear();  // the other workers' listeners: this process must not hold them open
    // --threads M in each worker: M - 1 more listeners on the port, opened in the worker, which alone uses them.
    for (int i = 1; i < server.options.threads; ++i) {
      mine.push_back(open_listener_on_same_port(mine.front().get(), /*nonblocking=*/true));
    }
    run_loops(server, std::move(mine), edge);
    return 0;
  });
}
