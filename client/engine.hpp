// The worker of the load generator: one thread, one epoll loop, its share of the connections.
// Internal to client/: run_load() (load.cpp) plans the run, starts the workers and merges what they return.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "client/endpoint.hpp"
#include "client/hdr_log.hpp"
#include "client/histogram.hpp"
#include "client/load.hpp"
#include "client/payload.hpp"

namespace iomodels::loadgen::detail {

// Monotonic nanoseconds.
std::int64_t now_ns();

// What every worker reads and none writes.
struct RunPlan {
  const LoadConfig* config = nullptr;
  Payload payload{0};
  Endpoint target;
  std::vector<Endpoint> sources;
  std::string host_header;  // "Host: 127.0.0.1:7000\r\n"
  std::string post_head;    // an HTTP POST's request line and headers, for --http with a body
  std::int64_t start = 0;   // now_ns() when the run began; warm-up starts here
  std::int64_t measure_start = 0;
  std::int64_t end = 0;
  double interval_ns = 0;  // open loop: between two messages of one connection
  IntervalLog* intervals = nullptr;  // --hdr-log: where each worker hands in its interval histograms
};

// Read by the progress thread while the workers run; each worker writes only its own, with relaxed stores.
struct alignas(64) LiveCounters {
  std::atomic<std::uint64_t> completed{0};  // every reply, warm-up included
  std::atomic<std::uint64_t> measured{0};
  std::atomic<std::uint64_t> errors{0};
};

struct WorkerResult : Tally {
  double cpu_seconds = 0;
  std::string first_error;
  std::int64_t first_error_at = 0;
};

// Runs connections [first, first + count) until plan.end. `cpu` >= 0 pins the calling thread to that CPU.
WorkerResult run_worker(const RunPlan& plan, int first, int count, int cpu, LiveCounters& live);

}  // namespace iomodels::loadgen::detail
