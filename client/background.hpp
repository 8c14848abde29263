// Connections held beside the measured ones (--idle, --slow): they carry no measured traffic, but a server must
// keep them, and that is the point. Idle ones are opened and never written to, so a model that scans every
// connection each round (select, poll) or holds a thread per connection pays for them while it serves the active
// ones. Slow ones send one byte per interval and never finish a message, so a model that gives each connection a
// worker for as long as a message is being read (a fixed pool, prefork) runs out of workers.
//
// One thread of its own holds them all, so the workers' loops and figures are the same with or without them.
// Internal to client/: run_load() opens them before the measured connections and closes them after.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/endpoint.hpp"
#include "common/fd.hpp"

namespace iomodels::loadgen::detail {

struct BackgroundPlan {
  Endpoint target;
  std::vector<Endpoint> sources;  // used in turn, as for the measured connections
  int idle = 0;
  int slow = 0;
  std::chrono::nanoseconds slow_interval{std::chrono::milliseconds(100)};
  bool http = false;     // slow senders trickle a request head that never ends instead of raw bytes
  std::string host;      // for that head's Host line
  int cpu = -1;          // pin the thread here when >= 0
  // How long to wait for every connection to be held before the measured run starts anyway: at most
  // connect_deadline, and no longer than connect_stall after the last one was. A model that takes only some (the
  // iterative server, a full pool) leaves the rest waiting, which is its limit to show.
  std::chrono::nanoseconds connect_deadline{std::chrono::seconds(20)};
  std::chrono::nanoseconds connect_stall{std::chrono::seconds(1)};
};

struct BackgroundResult {
  // Held when the measured run started: established and, in raw echo, a first byte echoed (so the server had
  // accepted it, not merely the kernel queued it).
  int idle_open = 0;
  int slow_open = 0;
  int not_established = 0;     // not held when the measured run started (waiting, refused, closed)
  int closed_by_server = 0;    // of those established, closed or reset by the server before the end
  std::uint64_t slow_bytes_sent = 0;
  std::uint64_t slow_bytes_echoed = 0;
  std::uint64_t mismatches = 0;  // echoed bytes that differ from those sent (raw echo only)
  double setup_seconds = 0;      // from the first connect to ready (all established, or the deadline)
  double cpu_seconds = 0;        // this thread's CPU time after ready, to add to the load generator's
  std::string first_error;
};

class Background {
 public:
  // Starts the thread, which opens every connection at once.
  explicit Background(BackgroundPlan plan);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  // Blocks until every connection is established or the plan's deadline has passed.
  void wait_ready();
  // Stops the thread, closes every connection and returns the figures.
  BackgroundResult stop();

 private:
  void run();

  BackgroundPlan plan_;
  UniqueFd wake_;  // an eventfd: stop() writes it to end the thread's epoll_wait
  std::mutex mutex_;
  std::condition_variable ready_changed_;
  bool ready_ = false;
  BackgroundResult result_;
  std::thread thread_;
};

}  // namespace iomodels::loadgen::detail
