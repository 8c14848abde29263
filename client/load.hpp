// The load generator as a library: bin/loadgen and bin/compare both drive servers through run_load().
//
// Each worker thread runs its own epoll loop over its share of the connections, keeps its own counters and
// histograms, and nothing is shared on the hot path; the results are merged once the run is over.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/histogram.hpp"
#include "client/segment.hpp"

namespace iomodels::loadgen {

using namespace std::chrono_literals;

inline constexpr const char* kLoadgenVersion = "1.1.0";  // 1.1: segments, --hdr-log, the histogram in JSON

// A snapshot handed to LoadConfig::on_progress about once a second.
struct Progress {
  double elapsed_s = 0;         // since the run started, warm-up included
  std::uint64_t messages = 0;   // answered so far in the measured part of the run
  double messages_per_s = 0;    // over the last interval
  std::uint64_t errors = 0;     // every kind counted, warm-up included
  bool warming_up = false;
};

struct LoadConfig {
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 50;
  // Held open beside the `connections` that carry traffic, never sending a byte: what an idle client costs the
  // server. Their numbers follow the active ones', so with a connect rate the active connections open first.
  int idle_connections = 0;
  // New connections per second over the whole run (0: all at once). Opening 19,000 at once overflows the listen
  // backlog (net.core.somaxconn) and ends in connect timeouts; a bounded pace lets the server keep up.
  double connect_rate = 0;
  int threads = 0;  // 0: the number of CPUs
  std::chrono::nanoseconds duration{10s};
  std::chrono::nanoseconds warmup{1s};
  std::size_t message_size = 64;
  int pipeline = 1;           // messages in flight per connection
  double rate = 0;            // messages per second in total; 0 is a closed loop
  bool connect_per_message = false;
  bool http = false;
  bool verify = true;
  std::chrono::nanoseconds timeout{5s};
  std::vector<std::string> bind_addresses;  // source addresses, used in turn by connection
  std::vector<int> cpus;                    // pin client threads to these CPUs when non-empty
  // Held beside the measured connections by a thread of their own (client/background.hpp), opened first:
  // idle ones never send; slow ones send one byte per slow_interval and never finish a message.
  int idle = 0;
  int slow = 0;
  std::chrono::nanoseconds slow_interval{100ms};
  std::function<void(const Progress&)> on_progress;  // about once a second, from a non-worker thread
  // Several instances on several hosts (client/segment.hpp): this one runs its share of `connections` and `rate`.
  Segment segment;
  double start_at = 0;  // epoch seconds at which the measured window starts (the warm-up runs up to it); 0: none
  std::string hdr_log;  // HdrHistogram interval log (client/hdr_log.hpp) of the measured window; empty: none
  std::chrono::nanoseconds hdr_interval{1s};
};

// The figures that add up: over a run's worker threads, and over the instances that `loadgen merge` joins.
struct Tally {
  std::uint64_t messages = 0;  // answered in the measured window
  std::uint64_t bytes = 0;     // received in the measured window (echo payload, or whole HTTP responses)
  Histogram latency;           // corrected for coordinated omission in open loop (from each message's due time)
  Histogram service_time;      // from the moment a message was actually sent

  std::uint64_t connect_errors = 0;
  std::uint64_t resets = 0;  // ECONNRESET, EPIPE, or the server closing while a reply was owed
  std::uint64_t timeouts = 0;
  std::uint64_t mismatches = 0;
  std::uint64_t http_errors = 0;
  std::uint64_t errors() const { return connect_errors + resets + timeouts + mismatches + http_errors; }

  int connections_opened = 0;
  int connections_open_at_end = 0;  // active and idle connections still open when the run ended: those held
  // Connection slots that never got a reply during the measured run: how the comparison shows a model's limit
  // (the iterative server with 50 clients answers one of them).
  int connections_never_answered = 0;

  // Histograms merged, counts summed.
  void add(const Tally& other);
};

struct LoadResult : Tally {
  double seconds = 0;  // length of the measured window
  double client_cpu_seconds = 0;  // user + system time of the worker threads (and the background thread's after
                                  // its connections were set up), for the whole run
  // --idle and --slow: how many were established when the measured run began, how many the server closed
  // during it, and what the slow ones sent and got back.
  int idle_open = 0;
  int slow_open = 0;
  int background_not_established = 0;
  int background_closed_by_server = 0;
  std::uint64_t slow_bytes_sent = 0;
  std::uint64_t slow_bytes_echoed = 0;
  double background_setup_seconds = 0;
  double target_rate = 0;         // LoadConfig::rate; 0 in a closed loop
  double achieved_rate = 0;       // messages / seconds
  int threads = 0;                // worker threads actually used
  int connections = 0;            // this instance's share (all of LoadConfig::connections without a segment)
  double start_time = 0;          // wall clock (epoch seconds) at the start of the measured window
  std::string first_error;        // e.g. "mismatch on connection 3 at offset 17"
};

// Runs one load test and blocks until it is over. Throws std::runtime_error only for setup failures
// (a bad address, a thread that cannot start); everything that goes wrong on the wire is counted in the result.
LoadResult run_load(const LoadConfig& config);

// Every figure of the result, the options used and the loadgen version.
nlohmann::json to_json(const LoadConfig& config, const LoadResult& result);

}  // namespace iomodels::loadgen
