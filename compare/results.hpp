// The figures of a whole comparison: one row per model and scenario (the median of its repeats), the best of
// each scenario, the machine they were measured on, and their JSON and CSV forms.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compare/options.hpp"
#include "compare/scenario.hpp"

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
  std::vector<RunRecord> runs;
  bool best_throughput = false;  // the highest msgs/s of its scenario
  bool best_cpu = false;         // the lowest server CPU per message of its scenario
  // Whether it may be marked best: served the whole load without an error.
  bool eligible() const { return summary.outcome == Outcome::kOk && summary.errors == 0 && summary.messages > 0; }
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
};

// Groups the runs by model and scenario, in the order given, and marks the best of each scenario.
std::vector<Row> aggregate(const std::vector<RunRecord>& runs, const std::vector<std::string>& models,
                           const std::vector<Scenario>& scenarios);

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
