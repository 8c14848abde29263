#include "compare/charts.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "harness/server_process.hpp"
#include "compare/report.hpp"

namespace iomodels::compare {
namespace {

std::string quoted(const std::string& text) {
  std::string result = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') result += '\\';
    result += c;
  }
  return result + "\"";
}

std::string number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

bool plotted(const RunRecord& s) { return s.load_ran && s.outcome != Outcome::kFailed && s.messages > 0; }

// Distinct sizes and connection counts, in the order of the scenarios.
template <typename T>
std::vector<T> distinct(const std::vector<Scenario>& scenarios, T Scenario::*field) {
  std::vector<T> values;
  for (const Scenario& scenario : scenarios) {
    if (std::find(values.begin(), values.end(), scenario.*field) == values.end()) values.push_back(scenario.*field);
  }
  return values;
}

// A line per model through its scenarios of one size: y(row) against connections.
bool line_chart(std::ostringstream& script, const CompareResults& results, std::size_t size,
                const std::string& block, double (*y)(const RunRecord&), bool with_limits) {
  std::vector<std::string> plots;
  for (std::size_t m = 0; m < results.models.size(); ++m) {
    const std::string& model = results.models[m];
    std::string points;
    for (const Row& row : results.rows) {
      const RunRecord& s = row.summary;
      if (s.model == model && s.scenario.size == size && plotted(s) && y(s) > 0 &&
          (with_limits || s.outcome != Outcome::kLimit)) {
        points += std::to_string(s.scenario.connections) + " " + number(y(s)) + "\n";
      }
    }
    if (points.empty()) continue;
    const std::string name = "$" + block + "_" + std::to_string(m);
    script << name << " << EOD\n" << points << "EOD\n";
    // Eight colours cycle; the dash pattern and point shape tell apart models that share one.
    plots.push_back(name + " using 1:2 with linespoints lw 2 lc " + std::to_string(m % 8 + 1) + " dt " +
                    std::to_string(static_cast<int>(m / 8) + 1) + " pt " + std::to_string(m % 13 + 1) +
                    " title " + quoted(model));
  }
  if (plots.empty()) return false;
  script << "plot ";
  for (std::size_t i = 0; i < plots.size(); ++i) script << (i ? ", \\\n     " : "") << plots[i];
  script << "\n";
  return true;
}

double messages_per_s(const RunRecord& s) { return s.msgs_per_s; }
double p99_us(const RunRecord& s) { return s.p99_ns / 1e3; }

}  // namespace

std::string gnuplot_script(const CompareResults& results, const std::string& dir, const std::string& terminal,
                           std::vector<ChartFile>& files) {
  const std::vector<std::size_t> sizes = distinct(results.scenarios, &Scenario::size);
  const std::vector<int> connections = distinct(results.scenarios, &Scenario::connections);
  const int fewest = *std::min_element(connections.begin(), connections.end());
  const int most = *std::max_element(connections.begin(), connections.end());
  const std::string mode = results.options.http ? "HTTP" : "raw echo";

  std::ostringstream script;
  script << "# Drawn by bin/compare; run `gnuplot charts.gp` from the directory bin/compare ran in to redraw.\n";
  // noenhanced: a model name such as io_uring is text, not a subscript.
  script << "set terminal " << terminal << " noenhanced size 1100,650\n";
  script << "set datafile missing '?'\nset grid\nset key outside right top\n";
  // Connection counts span decades (1, 50, 500): a log axis gives each its room.
  script << "set logscale x\nset xrange [" << number(fewest / 1.5) << ":" << number(most * 1.5) << "]\n";
  script << "set xtics (";
  for (std::size_t i = 0; i < connections.size(); ++i) {
    script << (i ? ", " : "") << quoted(std::to_string(connections[i])) << " " << connections[i];
  }
  script << ")\nset xlabel 'connections'\n";

  for (std::size_t size : sizes) {
    const std::string suffix = sizes.size() > 1 ? "-" + std::to_string(size) + "B" : "";
    const std::string what = format_size(size) + " messages, " + mode;
    const std::string tag = std::to_string(size);

    std::ostringstream chart;
    chart << "set output " << quoted(dir + "/throughput" + suffix + ".png") << "\n";
    chart << "set title " << quoted("Messages per second (" + what + ")") << "\n";
    chart << "unset logscale y\nset yrange [0:*]\nset ylabel 'messages/s'\nset format y '%.0f'\n";
    if (line_chart(chart, results, size, "rate" + tag, messages_per_s, true)) {
      script << chart.str();
      files.push_back({"throughput" + suffix + ".png", "messages/s against connections, " + what});
    }

    chart.str("");
    chart << "set output " << quoted(dir + "/p99" + suffix + ".png") << "\n";
    chart << "set title " << quoted("p99 latency (" + what + "), log scale; models at their limit left out") << "\n";
    chart << "set logscale y\nset yrange [*:*]\nset ylabel 'p99 latency (µs)'\nset format y '%g'\n";
    // A model at its limit answered only the connections it could serve: its p99 leaves out the ones that waited
    // forever, so it would flatter the model.
    if (line_chart(chart, results, size, "p99" + tag, p99_us, false)) {
      script << chart.str();
      files.push_back(
          {"p99" + suffix + ".png", "p99 latency against connections (models at their limit left out), " + what});
    }

    // CPU per message: bars clustered by model, one bar per connection count.
    std::string rows;
    bool any = false;
    for (const std::string& model : results.models) {
      std::string line = model;
      for (int count : connections) {
        std::string cell = "?";
        for (const Row& row : results.rows) {
          const RunRecord& s = row.summary;
          if (s.model == model && s.scenario.size == size && s.scenario.connections == count && plotted(s) &&
              s.cpu_us_per_msg > 0) {
            cell = number(s.cpu_us_per_msg);
            any = true;
          }
        }
        line += " " + cell;
      }
      rows += line + "\n";
    }
    if (!any) continue;
    script << "$cpu" << tag << " << EOD\n" << rows << "EOD\n";
    script << "set output " << quoted(dir + "/cpu" + suffix + ".png") << "\n";
    script << "set title " << quoted("Server CPU time per message (" + what + "), lower is better") << "\n";
    script << "unset logscale\nset xrange [*:*]\nset yrange [0:*]\nset ylabel 'server CPU µs per message'\n"
           << "set xlabel ''\nset format y '%g'\nset style data histograms\n"
           << "set style histogram clustered gap 1\nset style fill solid 0.85 border -1\n"
           // unset first: the line charts' explicit tics would otherwise stay and widen the right margin.
           << "unset xtics\nset xtics rotate by -40 scale 0 nomirror\nset key inside right top\n";
    script << "plot ";
    for (std::size_t i = 0; i < connections.size(); ++i) {
      const std::string label =
          std::to_string(connections[i]) + (connections[i] == 1 ? " connection" : " connections");
      script << (i ? ", \\\n     " : "") << "$cpu" << tag << " using " << i + 2 << (i == 0 ? ":xtic(1)" : "")
             << " title " << quoted(label);
    }
    script << "\n";
    files.push_back({"cpu" + suffix + ".png", "server CPU µs per message by model, " + what});
    // Back to the line charts' settings for the next size.
    script << "set style data linespoints\nunset xtics\nset xtics norotate scale default mirror\nset xtics (";
    for (std::size_t i = 0; i < connections.size(); ++i) {
      script << (i ? ", " : "") << quoted(std::to_string(connections[i])) << " " << connections[i];
    }
    script << ")\nset logscale x\nset xrange [" << number(fewest / 1.5) << ":" << number(most * 1.5)
           << "]\nset xlabel 'connections'\nset key outside right top\n";
  }
  return script.str();
}

std::vector<ChartFile> draw_charts(const CompareResults& results, const std::string& dir, std::string& note) {
  std::string terminal;
  for (const char* candidate : {"pngcairo", "png"}) {
    const CommandResult probe = run_command({"gnuplot", "-e", std::string("set terminal ") + candidate},
                                            std::chrono::seconds(10));
    if (!probe.started) {
      note = "charts skipped: gnuplot is not installed (Debian package gnuplot-nox)";
      return {};
    }
    if (!probe.timed_out && WIFEXITED(probe.wait_status) && WEXITSTATUS(probe.wait_status) == 0 &&
        probe.err.empty()) {
      terminal = candidate;
      break;
    }
  }
  if (terminal.empty()) {
    note = "charts skipped: this gnuplot has neither the pngcairo nor the png terminal";
    return {};
  }
  std::vector<ChartFile> files;
  const std::string script = gnuplot_script(results, dir, terminal, files);
  if (files.empty()) {
    note = "charts skipped: no scenario served any message";
    return {};
  }
  const std::string script_path = dir + "/charts.gp";
  std::ofstream(script_path) << script;
  const CommandResult run = run_command({"gnuplot", script_path}, std::chrono::seconds(60));
  if (!run.started || run.timed_out || !WIFEXITED(run.wait_status) || WEXITSTATUS(run.wait_status) != 0) {
    note = "charts failed: gnuplot " + (run.timed_out ? std::string("timed out") : run.error + run.err);
    return {};
  }
  return files;
}

}  // namespace iomodels::compare
