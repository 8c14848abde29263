// What a person reads: the table on the terminal, and report.md (machine, command, table, charts, and a short
// reading generated from the figures).
#pragma once
#include <string>
#include <vector>

#include "compare/results.hpp"

namespace iomodels::compare {

// The table's cells, shared by the terminal and markdown forms. Best figures carry a '*'.
struct Table {
  std::vector<std::string> headers;
  std::vector<bool> right_aligned;
  std::vector<std::vector<std::string>> rows;
};
// Every row of every scenario (a scenario column first).
Table build_table(const CompareResults& results);
// One scenario's rows, with intervals and marks.
Table scenario_table(const CompareResults& results, const Scenario& scenario);
// Model x scenario: each scenario's key figure with its mark (best, tied, (c) client-bound, limit, failed).
Table summary_matrix(const CompareResults& results);
// The noise: calibration before and after, steal time, the same-model spread per scenario.
std::string noise_text(const CompareResults& results, bool markdown);
// What bin/compare prints: the matrix, its legend, the noise.
std::string render_summary_text(const CompareResults& results);
std::string render_text(const Table& table);
std::string render_markdown(const Table& table);

// One bullet per finding: the leader of each scenario and its margin over the runner-up, the models that hit
// their limits, failures, errors, and servers that did not stop cleanly.
std::vector<std::string> reading(const CompareResults& results);

std::string report_markdown(const CompareResults& results);

// Small formatters the progress line and the table share.
std::string format_count(double value);                // 412345.6 -> "412,346"
std::string format_latency(double ns);                  // "45.1us", "1.20ms"
std::string format_scenario(int connections, std::size_t size);  // "50 conns, 64 B"
std::string format_size(std::size_t bytes);             // "64 B", "4 KiB", "1 MiB"

}  // namespace iomodels::compare
