#include "compare/report.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

namespace iomodels::compare {
namespace {

// A lead smaller than this ratio is within what a single run on a shared two-core machine moves by.
constexpr double kNoise = 1.05;

std::string fixed(double value, int precision) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", precision, value);
  return text;
}

// Three significant digits or so, for figures whose size varies by orders of magnitude.
std::string short_figure(double value) {
  if (value >= 100) return fixed(value, 0);
  if (value >= 10) return fixed(value, 1);
  return fixed(value, 2);
}

// Terminal columns taken by UTF-8 text: every byte that does not continue a character ("µ" is two bytes).
std::size_t display_width(const std::string& text) {
  std::size_t width = 0;
  for (unsigned char c : text) width += (c & 0xC0) != 0x80;
  return width;
}

std::string markdown_cell(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '|') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

bool same_scenario(const RunRecord& a, const Scenario& b) {
  return a.scenario.connections == b.connections && a.scenario.size == b.size;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) text += (i ? separator : "") + items[i];
  return text;
}

std::string mode_text(const CompareOptions& o) {
  std::string text = o.http ? "HTTP/1.1 keep-alive POST" : "raw echo";
  text += o.rate > 0 ? ", open loop at " + format_count(o.rate) + " msgs/s" : ", closed loop";
  if (o.pipeline > 1) text += ", pipeline " + std::to_string(o.pipeline);
  text += o.net == "veth" ? ", server behind a veth pair in its own network namespace" : ", over loopback";
  return text;
}

std::string seconds_text(std::chrono::nanoseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", static_cast<double>(duration.count()) / 1e9);
  return text;
}

}  // namespace

std::string format_count(double value) {
  std::string digits = fixed(value, 0);
  std::string grouped;
  const std::size_t start = digits[0] == '-' ? 1 : 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > start && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  return grouped;
}

std::string format_latency(double ns) {
  if (ns < 1e3) return fixed(ns, 0) + "ns";
  if (ns < 1e6) return short_figure(ns / 1e3) + "µs";
  if (ns < 1e9) return short_figure(ns / 1e6) + "ms";
  return short_figure(ns / 1e9) + "s";
}

std::string format_size(std::size_t bytes) {
  if (bytes >= (1U << 20) && bytes % (1U << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

std::string format_scenario(int connections, std::size_t size) {
  return std::to_string(connections) + (connections == 1 ? " conn, " : " conns, ") + format_size(size);
}

Table build_table(const CompareResults& results) {
  const CompareOptions& o = results.options;
  const bool spread = o.repeat > 1;
  Table table;
  auto column = [&](const std::string& name, bool right) {
    table.headers.push_back(name);
    table.right_aligned.push_back(right);
  };
  column("model", false);
  column("conns", true);
  column("size", true);
  column("msgs/s", true);
  if (spread) column("min–max", true);
  column("MB/s", true);
  column("p50", true);
  column("p99", true);
  column("p99.9", true);
  column("CPU µs/msg", true);
  if (o.syscalls) column("syscalls/msg", true);
  column("RSS MiB", true);
  column("PSS MiB", true);
  column("thr/proc", true);
  column("errors", true);
  if (o.wrk) {
    column("wrk req/s", true);
    column("wrk p99", true);
  }
  column("note", false);

  for (const Row& row : results.rows) {
    const RunRecord& s = row.summary;
    const bool loaded = s.load_ran;
    auto or_dash = [&](const std::string& text) { return loaded ? text : std::string("-"); };
    std::vector<std::string> cells;
    cells.push_back(s.model);
    cells.push_back(std::to_string(s.scenario.connections));
    cells.push_back(format_size(s.scenario.size));
    cells.push_back(or_dash(format_count(s.msgs_per_s) + (row.best_throughput ? "*" : "")));
    if (spread) cells.push_back(or_dash(format_count(row.msgs_per_s_min) + "–" + format_count(row.msgs_per_s_max)));
    cells.push_back(or_dash(short_figure(s.bytes_per_s / 1e6)));
    const bool latency = loaded && s.messages > 0;
    cells.push_back(latency ? format_latency(s.p50_ns) : "-");
    cells.push_back(latency ? format_latency(s.p99_ns) : "-");
    cells.push_back(latency ? format_latency(s.p999_ns) : "-");
    cells.push_back(latency && s.cpu_us_per_msg > 0 ? short_figure(s.cpu_us_per_msg) + (row.best_cpu ? "*" : "")
                                                    : "-");
    if (o.syscalls) cells.push_back(s.syscalls_per_msg ? short_figure(*s.syscalls_per_msg) : "-");
    cells.push_back(or_dash(short_figure(static_cast<double>(s.peak_rss_bytes) / (1024.0 * 1024.0))));
    cells.push_back(or_dash(short_figure(static_cast<double>(s.pss_bytes) / (1024.0 * 1024.0))));
    cells.push_back(or_dash(std::to_string(s.peak_threads) + "/" + std::to_string(s.peak_processes)));
    cells.push_back(or_dash(format_count(static_cast<double>(s.errors))));
    if (o.wrk) {
      cells.push_back(s.wrk.ran ? format_count(s.wrk.requests_per_s) : "-");
      cells.push_back(s.wrk.ran ? format_latency(s.wrk.p99_ns) : "-");
    }
    cells.push_back(row_note(row));
    table.rows.push_back(std::move(cells));
  }
  return table;
}

std::string render_text(const Table& table) {
  std::vector<std::size_t> widths;
  for (const auto& header : table.headers) widths.push_back(display_width(header));
  for (const auto& row : table.rows) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string padding(widths[i] - display_width(cells[i]), ' ');
      const bool last = i + 1 == cells.size();
      text += table.right_aligned[i] ? padding + cells[i] : cells[i] + (last ? "" : padding);
      if (!last) text += "  ";
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text + "\n";
  };
  std::string text = line(table.headers);
  std::vector<std::string> rules;
  for (std::size_t width : widths) rules.emplace_back(width, '-');
  text += line(rules);
  for (const auto& row : table.rows) text += line(row);
  return text;
}

std::string render_markdown(const Table& table) {
  std::string text = "|";
  for (const auto& header : table.headers) text += " " + markdown_cell(header) + " |";
  text += "\n|";
  for (bool right : table.right_aligned) text += right ? "---:|" : "---|";
  text += "\n";
  for (const auto& row : table.rows) {
    text += "|";
    for (const auto& cell : row) text += " " + markdown_cell(cell) + " |";
    text += "\n";
  }
  return text;
}

std::vector<std::string> reading(const CompareResults& results) {
  std::vector<std::string> bullets;
  for (const Scenario& scenario : results.scenarios) {
    std::vector<const Row*> eligible;
    for (const Row& row : results.rows) {
      if (same_scenario(row.summary, scenario) && row.eligible()) eligible.push_back(&row);
    }
    const std::string name = "**" + format_scenario(scenario.connections, scenario.size) + "**: ";
    if (eligible.empty()) {
      bullets.push_back(name + "no model served the whole load without errors.");
      continue;
    }
    std::string text = name;
    const bool open_loop = results.options.rate > 0;
    if (open_loop) {
      // At a fixed rate every model that keeps up sends the same msgs/s: what tells them apart is latency.
      std::sort(eligible.begin(), eligible.end(),
                [](const Row* a, const Row* b) { return a->summary.p99_ns < b->summary.p99_ns; });
      const RunRecord& first = eligible[0]->summary;
      text += "at " + format_count(results.options.rate) + " msgs/s, `" + first.model + "` has the lowest p99, " +
              format_latency(first.p99_ns);
      if (eligible.size() > 1) {
        const RunRecord& second = eligible[1]->summary;
        text += " (the runner-up `" + second.model + "`: " + format_latency(second.p99_ns) + ")";
      }
    } else {
      std::sort(eligible.begin(), eligible.end(),
                [](const Row* a, const Row* b) { return a->summary.msgs_per_s > b->summary.msgs_per_s; });
      const RunRecord& first = eligible[0]->summary;
      text += "`" + first.model + "` leads with " + format_count(first.msgs_per_s) + " msgs/s";
      if (eligible.size() == 1) {
        text += ", the only model that served the whole load";
      } else {
        const RunRecord& second = eligible[1]->summary;
        const double ratio = first.msgs_per_s / std::max(second.msgs_per_s, 1e-9);
        text += ", " + fixed(ratio, 2) + "× the runner-up `" + second.model + "` (" +
                format_count(second.msgs_per_s) + (ratio < kNoise ? "; within the noise" : "") + ")";
      }
      if (eligible.size() >= 3) {
        const RunRecord& last = eligible.back()->summary;
        text += "; the slowest to serve it fully: `" + last.model + "`, " + format_count(last.msgs_per_s) +
                " msgs/s (" + fixed(first.msgs_per_s / std::max(last.msgs_per_s, 1e-9), 1) +
                "× fewer than the leader)";
      }
    }
    std::vector<const Row*> by_cpu;
    for (const Row* row : eligible) {
      if (row->summary.cpu_us_per_msg > 0) by_cpu.push_back(row);
    }
    std::sort(by_cpu.begin(), by_cpu.end(),
              [](const Row* a, const Row* b) { return a->summary.cpu_us_per_msg < b->summary.cpu_us_per_msg; });
    if (!by_cpu.empty()) {
      const RunRecord& lean = by_cpu[0]->summary;
      text += "; the least server CPU per message: `" + lean.model + "`, " + short_figure(lean.cpu_us_per_msg) +
              " µs";
      if (by_cpu.size() > 1) {
        const RunRecord& next = by_cpu[1]->summary;
        const double ratio = next.cpu_us_per_msg / lean.cpu_us_per_msg;
        text += " (the runner-up `" + next.model + "` needs " + fixed(ratio, 2) + "× as much" +
                (ratio < kNoise ? "; within the noise" : "") + ")";
      }
    }
    bullets.push_back(text + ".");
  }

  // Limits, failures, errors and stops, gathered per model so that each model gets one sentence.
  std::map<std::string, std::vector<std::string>> limits, failures, errors, stops;
  std::vector<std::string> order;
  bool any_load = false;
  bool any_verification_error = false;
  for (const Row& row : results.rows) {
    const RunRecord& s = row.summary;
    if (std::find(order.begin(), order.end(), s.model) == order.end()) order.push_back(s.model);
    // With a single message size, the connection count alone names the scenario.
    const bool one_size = std::all_of(results.scenarios.begin(), results.scenarios.end(),
                                      [&](const Scenario& other) { return other.size == s.scenario.size; });
    const std::string where = one_size ? std::to_string(s.scenario.connections) +
                                             (s.scenario.connections == 1 ? " conn" : " conns")
                                       : format_scenario(s.scenario.connections, s.scenario.size);
    any_load = any_load || s.load_ran;
    if (s.outcome == Outcome::kLimit) {
      limits[s.model].push_back(std::to_string(s.never_answered) + "/" + std::to_string(s.scenario.connections) +
                                " never answered at " + where);
    } else if (s.outcome == Outcome::kFailed) {
      std::string failure = where + ": " + s.note.substr(s.note.rfind("failed: ", 0) == 0 ? 8 : 0);
      if (!s.server_stderr.empty()) {
        failure += "; its stderr ended with \"" + s.server_stderr.substr(s.server_stderr.rfind('\n') + 1) + "\"";
      }
      failures[s.model].push_back(failure);
    }
    if (s.mismatches > 0 || s.http_errors > 0) any_verification_error = true;
    if (s.errors > 0 && s.outcome != Outcome::kFailed) {
      std::vector<std::string> kinds;
      auto kind = [&](std::uint64_t count, const char* what) {
        if (count > 0) kinds.push_back(format_count(static_cast<double>(count)) + " " + what);
      };
      kind(s.mismatches, "mismatched");
      kind(s.http_errors, "bad HTTP");
      kind(s.resets, "reset");
      kind(s.timeouts, "timed out");
      kind(s.connect_errors, "connect errors");
      errors[s.model].push_back(where + ": " + join(kinds, ", ") +
                                (s.first_error.empty() ? "" : " (first: " + s.first_error + ")"));
    }
    if (!s.stop_note.empty()) stops[s.model].push_back(where + ": " + s.stop_note);
  }
  auto gather = [&](const std::map<std::string, std::vector<std::string>>& found, const std::string& title) {
    if (found.empty()) return;
    std::vector<std::string> parts;
    for (const std::string& model : order) {
      if (auto it = found.find(model); it != found.end()) {
        parts.push_back("`" + model + "` (" + join(it->second, "; ") + ")");
      }
    }
    bullets.push_back(title + join(parts, ", ") + ".");
  };
  gather(limits, "Hit their limits (the model's own, as documented; shown as \"limit\" rows): ");
  gather(failures, "Failed: ");
  gather(errors, "Errors counted by the load generator: ");
  gather(stops, "Did not stop cleanly on SIGTERM: ");
  if (any_load && !any_verification_error) {
    bullets.push_back("No verification error: every echoed byte that came back matched what was sent.");
  }
  return bullets;
}

std::string report_markdown(const CompareResults& results) {
  const CompareOptions& o = results.options;
  const MachineInfo& m = results.machine;
  std::ostringstream text;
  text << "# iomodels comparison, " << results.started_at << "\n\n";
  text << "## Machine\n\n";
  text << "- CPU: " << (m.cpu_model.empty() ? "unknown" : m.cpu_model) << ", " << m.cpus << " CPUs online\n";
  text << "- Memory: " << fixed(static_cast<double>(m.memory_bytes) / (1024.0 * 1024 * 1024), 1) << " GiB\n";
  text << "- Kernel: " << m.kernel << "\n";
  if (o.server_cpus.empty()) {
    text << "- Pinning: none (fewer than two CPUs, or none asked for): server and load generator share the CPUs\n";
  } else {
    text << "- Pinning: server on CPU " << format_cpu_list(o.server_cpus) << ", load generator on CPU "
         << format_cpu_list(o.client_cpus) << "\n";
  }
  text << "\n## Command\n\n```\n" << o.command_line << "\n```\n\n";
  text << "Each scenario: " << seconds_text(o.duration) << " measured after a " << seconds_text(o.warmup)
       << " warm-up, " << mode_text(o) << ", every echoed byte verified; " << o.repeat
       << (o.repeat == 1 ? " run" : " runs (the median, and the spread of msgs/s)") << " per model and scenario; "
       << "every server started afresh with its default options. The whole comparison took "
       << fixed(results.elapsed_s, 0) << " s.\n\n";

  text << "## Results\n\n" << render_markdown(build_table(results)) << "\n";
  text << "`*` marks the highest msgs/s and the lowest server CPU per message of each scenario, among the models "
          "that served the whole load without an error. Latencies are the load generator's, from send to the "
          "whole echo. CPU µs/msg is the server's user + system time over the measured window (its whole process "
          "group, reaped children included; read from its start to a quarter second before its end and scaled) "
          "divided by the messages answered. RSS is the peak of the summed "
          "resident set sizes of the group, which counts pages that forked processes share once per process; PSS "
          "divides each shared page among its sharers and so shows what a forking server really costs. thr/proc "
          "are the peak threads and processes. MB/s counts 10^6 bytes received.\n\n";

  if (!results.charts.empty()) {
    text << "## Charts\n\n";
    for (const std::string& chart : results.charts) text << "![" << chart << "](" << chart << ")\n\n";
  }
  text << "## Reading\n\n";
  for (const std::string& bullet : reading(results)) text << "- " << bullet << "\n";
  text << "- These figures come from " << (o.repeat == 1 ? "a single run" : std::to_string(o.repeat) + " runs")
       << " on a " << m.cpus << "-CPU machine that other work may share: differences of 10-20 % between "
       << "neighbours are within the noise; orders of magnitude and limits are not.\n";
  if (!results.notes.empty()) {
    text << "\n## Notes\n\n";
    for (const std::string& note : results.notes) text << "- " << note << "\n";
  }
  return text.str();
}

}  // namespace iomodels::compare
