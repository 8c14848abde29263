// The figures of a whole comparison: one row per model and scenario (the median of its repeats), the best of
// each scenario, the machine they were measured on, and their JSON and CSV forms.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compare/options.hpp"
#include "compare/proc_stats.hpp"
#include "compare/scenario.hpp"
#include "compare/verdict.hpp"

namespace iomodels::compare {

struct MachineInfo {
  std::string cpu_model;  // "model name" of /proc/cpuinfo
  int cpus = 0;           // online CPUs
  std::uint64_t memory_bytes = 0;  // MemTotal of /proc/meminfo
  std::string kernel;     // uname -srm
  std::string hostname;
};
MachineInfo read_machine_info();

struct Row {
  // The median over the repeats that ran a load, figure by figure; the worst outcome and its note.
  RunRecord summary;
  double msgs_per_s_min = 0;
  double msgs_per_s_max = 0;
  // Median and min-max over the runs that served the whole load (see verdict.hpp).
  Interval msgs_per_s;
  Interval cpu_us_per_msg;
  Interval cpu_share;
  Interval client_cpu_share;
  std::vector<RunRecord> runs;
  // Most of its runs saturated the load generator: its msgs/s is the client's, never ranked.
  bool client_bound = false;
  bool best_throughput = false;  // the highest msgs/s of its scenario
  bool best_cpu = false;         // the lowest server CPU per message of its scenario
  // Whether it may be marked best: served the whole load without an error.
  bool eligible() const { return summary.outcome == Outcome::kOk && summary.errors == 0 && summary.messages > 0; }
};

// The calls a model makes per message in a scenario, counted by perf over a pass of its own (syscalls.hpp).
struct SyscallMix {
  std::string model;
  std::string scenario;
  bool counted = false;
  std::string note;  // why not, or what to keep in mind
  std::uint64_t messages = 0;
  double total_per_msg = 0;
  std::vector<std::pair<std::string, double>> per_msg;  // by call, most frequent first
};

// A verdict on one pair of models, one scenario and one figure, as the reading states it.
struct PairVerdict {
  std::string scenario;
  std::string metric;  // "msgs_per_s" or "cpu_us_per_msg"
  std::string a, b;
  Verdict verdict = Verdict::kTie;
  double ratio = 0;  // of the medians, the better over the worse
};

// What the machine did while the comparison ran.
struct NoiseReport {
  std::vector<Calibration> before, after;  // per CPU (server's, then client's)
  double steal_share = 0;                  // over the whole comparison
  double steal_share_max_run = 0;          // the worst single run
  CpuTimes start_times;
};

struct CompareResults {
  CompareOptions options;
  MachineInfo machine;
  std::string started_at;  // local time, ISO 8601
  double elapsed_s = 0;
  std::vector<std::string> models;
  std::vector<Scenario> scenarios;
  std::vector<Row> rows;  // model-major, in the order of models then scenarios
  std::vector<std::string> notes;  // what was skipped and why (perf, wrk, gnuplot)
  std::vector<std::string> charts;  // file names under the output directory
  NoiseReport noise;
  std::vector<SyscallMix> mixes;
  std::vector<PairVerdict> verdicts;
};

// The rows of a scenario, in the order of the models.
std::vector<const Row*> rows_of(const CompareResults& results, const std::string& scenario);
const Row* find_row(const CompareResults& results, const std::string& model, const std::string& scenario);
// Every pair's verdict on msgs/s (closed loops only, client-bound rows left out) and on CPU µs per message, among
// the rows that served the whole load.
std::vector<PairVerdict> all_verdicts(const CompareResults& results);
// The ranking of a scenario on one metric, as the reading and the summary's marks use it.
Ranking rank_scenario(const CompareResults& results, const Scenario& scenario, bool on_throughput);
// The least lead a verdict in this scenario and metric needs: 1 + its same-model spread.
double verdict_min_ratio(const CompareResults& results, const std::string& scenario, bool on_throughput);
// The same-model spread of a scenario: the median over its rows of (max - min) / median, for msgs/s and for CPU.
double median_relative_spread(const CompareResults& results, const std::string& scenario, bool on_throughput);

// Groups the runs by model and scenario, in the order given, and marks the best of each scenario.
std::vector<Row> aggregate(const std::vector<RunRecord>& runs, const std::vector<std::string>& models,
                           const std::vector<Scenario>& scenarios, double client_bound_share = 0.9);

// "49/50 never answered" etc.: the note of a row with its stop problem, if any.
std::string row_note(const Row& row);

nlohmann::json run_to_json(const RunRecord& record);
nlohmann::json options_to_json(const CompareOptions& options);
nlohmann::json results_to_json(const CompareResults& results);

// The CSV header and one line per row (no trailing newline in either).
std::string csv_header();
std::string csv_line(const Row& row);
std::string results_to_csv(const CompareResults& results);

}  // namespace iomodels::compare
