// The command line of bin/compare: which servers, which loads, where the results go.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "compare/scenarios.hpp"

namespace iomodels::compare {

// Every C++ server of models.txt, in its order: the default order of a run and of its table.
const std::vector<std::string>& known_models();

// The defaults of a run, and of --quick; measured on the 2-CPU machine of the README (compare/README.md says why).
inline constexpr int kDefaultRepeat = 3;
inline constexpr std::chrono::milliseconds kDefaultDuration{800};
inline constexpr std::chrono::milliseconds kDefaultWarmup{200};
inline constexpr int kQuickRepeat = 2;
inline constexpr std::chrono::milliseconds kQuickDuration{400};
inline constexpr std::chrono::milliseconds kQuickWarmup{100};
// The scenarios of --quick: all but idle-10k, whose 10,000 threads or processes take up to half a minute per run to
// set up, and bulk; without the system-call pass.
const std::vector<std::string>& quick_scenario_names();

struct CompareOptions {
  // Empty: every known model whose binary is in bin_dir. A name may carry options, "epoll:--threads=2" (see
  // parse_model_variant): each such variant is a row of its own.
  std::vector<std::string> models;
  // What runs. Empty: the custom scenarios of connections x sizes at rate (as the tests and old runs use).
  std::vector<Scenario> scenarios;
  std::vector<int> connections{1, 50, 500};
  std::vector<std::size_t> sizes{64};
  std::chrono::nanoseconds duration{kDefaultDuration};
  std::chrono::nanoseconds warmup{kDefaultWarmup};
  int pipeline = 1;
  double rate = 0;  // messages per second in total; 0 is a closed loop (custom scenarios only)
  bool quick = false;
  // Scenarios whose system calls are counted per message and per call (perf stat on every sys_enter
  // tracepoint) in a pass of their own after the timed runs. Empty: no such pass.
  std::vector<std::string> mix_scenarios{"busy"};
  // A run whose load generator used at least this share of its CPUs is client-bound: its msgs/s measures the
  // client, not the server.
  double client_bound_share = 0.9;
  bool http = false;
  bool wrk = false;
  bool syscalls = false;
  int repeat = kDefaultRepeat;
  std::string out_dir;  // empty: results/<timestamp>/
  std::string bin_dir = "bin";  // on the command line: the directory bin/compare is in
  std::vector<int> server_cpus;  // empty with client_cpus empty: no pinning
  std::vector<int> client_cpus;
  // How long a server may take to print its banner before it counts as failed.
  std::chrono::milliseconds banner_timeout{3000};
  // How long a server may take to exit after SIGTERM before it is killed and reported.
  std::chrono::milliseconds stop_timeout{2000};
  // The command as typed, for report.md; main() fills it in.
  std::string command_line;
  // Progress on a terminal is rewritten in place; elsewhere it is one line per scenario.
  bool progress_in_place = false;
};

struct ParsedCommandLine {
  CompareOptions options;
  bool help = false;
  std::string help_text;
  std::string error;  // one line naming the bad option; exit status 2
};

ParsedCommandLine parse_compare_command_line(int argc, const char* const* argv);

// The CPUs this process may run on (sched_getaffinity), in ascending order.
std::vector<int> allowed_cpus();
// The default split: the first half of the allowed CPUs for the server, the rest for the load generator, so the
// two never share a core; both empty (no pinning) when fewer than two CPUs are allowed.
void default_cpu_split(const std::vector<int>& allowed, std::vector<int>& server, std::vector<int>& client);

// "0,2-3" -> {0, 2, 3}. Empty when the text is not such a list.
std::vector<int> parse_cpu_list(const std::string& text);
std::string format_cpu_list(const std::vector<int>& cpus);

}  // namespace iomodels::compare
