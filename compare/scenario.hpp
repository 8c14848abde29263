// One run of one server under one load: start it pinned to its CPUs, wait for its banner, drive it with the load
// generator while sampling its process group from /proc, optionally count its system calls (perf) and drive it
// with wrk, then stop it with SIGTERM and check that it exits 0 in time.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "client/load.hpp"
#include "compare/netns.hpp"
#include "compare/options.hpp"
#include "compare/wrk.hpp"

namespace iomodels::compare {

// ok: served the whole load. limit: alive, but some connections never got an answer (the model's inherent
// limit, e.g. the iterative server with 50 clients). failed: missing, no banner, or crashed during the run.
enum class Outcome { kOk, kLimit, kFailed };
const char* to_string(Outcome outcome);

struct RunRecord {
  std::string model;
  Scenario scenario;
  int repeat = 0;  // 0-based
  Outcome outcome = Outcome::kFailed;
  std::string note;  // "limit: 49/50 connections never answered", "failed: no banner within 3000 ms ..."
  bool load_ran = false;

  // The load generator's figures for the measured window.
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  double seconds = 0;
  double msgs_per_s = 0;
  double bytes_per_s = 0;
  double p50_ns = 0, p90_ns = 0, p99_ns = 0, p999_ns = 0, max_ns = 0, mean_ns = 0;
  std::uint64_t errors = 0, connect_errors = 0, resets = 0, timeouts = 0, mismatches = 0, http_errors = 0;
  int connections_opened = 0;
  int never_answered = 0;
  std::string first_error;
  double client_cpu_seconds = 0;
  // The load generator's CPU time over its whole run (warm-up included) as a share of its CPUs' time; at or over
  // CompareOptions::client_bound_share the run is client-bound.
  double client_cpu_share = 0;
  bool client_bound = false;
  // Steal time (/proc/stat) as a share of all CPU time while the run's load ran: time the hypervisor gave away.
  double steal_share = 0;
  // --idle / --slow connections: established when the measured run began, and closed by the server during it.
  int idle_open = 0;
  int slow_open = 0;
  int held_not_established = 0;
  int held_closed = 0;
  double held_setup_seconds = 0;

  // The server's process group over the same window (CPU, switches) or over the whole run (peaks). CPU and
  // switches are sampled from the window's start to a quarter second before its end, and scaled to its length.
  double server_user_seconds = 0;
  double server_system_seconds = 0;
  double server_cpu_seconds = 0;
  double server_sampled_seconds = 0;  // the time between the two samples the CPU figures come from
  double cpu_us_per_msg = 0;  // server CPU time per answered message; 0 when none was answered
  double server_cpu_share = 0;  // server CPU seconds per second of the window: the share of one core
  std::size_t peak_rss_bytes = 0;
  std::size_t pss_bytes = 0;  // proportional set size, read just before the window ends
  int peak_threads = 0;
  int peak_processes = 0;
  std::uint64_t voluntary_switches = 0;
  std::uint64_t involuntary_switches = 0;

  std::optional<std::uint64_t> syscalls;  // raw_syscalls:sys_enter counted by perf (--syscalls)
  double syscalls_seconds = 0;            // over this long: the measured window but for perf's start-up
  std::optional<double> syscalls_per_msg;
  std::string syscalls_note;  // why there is no count

  WrkFigures wrk;  // --wrk

  bool stopped_cleanly = false;  // exited 0 within the deadline after SIGTERM, leaving no process behind
  std::string stop_note;         // what happened otherwise
  double stop_ms = 0;            // SIGTERM to exit
  std::string server_stderr;     // its last lines, when it failed
};

struct RunContext {
  const CompareOptions* options = nullptr;
  bool perf_usable = false;  // perf stat can count raw_syscalls:sys_enter here (checked once per comparison)
  std::function<void(const loadgen::Progress&)> on_progress;
  const VethPath* veth = nullptr;  // --net veth: start servers in its namespace
};

// Never throws for anything the server does: every failure is recorded in the result.
// model may be a variant, "epoll:--threads=2" (parse_model_variant).
RunRecord run_scenario(const RunContext& context, const std::string& model, const Scenario& scenario, int repeat);

// The load generator's configuration for a scenario against host:port.
loadgen::LoadConfig load_config(const CompareOptions& options, const Scenario& scenario, const std::string& host,
                                int port);

// Whether `perf stat -e raw_syscalls:sys_enter` works on this machine; when not, why (for the report's notes).
bool perf_can_count_syscalls(std::string& why_not);

// Sets the calling thread's CPU affinity for its lifetime, then restores it. Children spawned meanwhile
// inherit it (sched_setaffinity(2)): the way the server is pinned before it runs a single instruction.
class ScopedAffinity {
 public:
  explicit ScopedAffinity(const std::vector<int>& cpus);
  ~ScopedAffinity();
  ScopedAffinity(const ScopedAffinity&) = delete;
  ScopedAffinity& operator=(const ScopedAffinity&) = delete;

 private:
  bool changed_ = false;
  std::vector<int> previous_;
};

}  // namespace iomodels::compare
