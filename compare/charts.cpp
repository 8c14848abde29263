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

// One panel: a point per model at its median, with an error bar from its lowest to its highest run, on a
// logarithmic axis so that a model a hundred times costlier (aio) does not flatten the others into one band.
void panel(std::ostringstream& script, const std::string& block, const std::vector<std::string>& lines,
           const std::string& title, const std::string& ylabel) {
  script << block << " << EOD\n";
  for (const std::string& line : lines) script << line << "\n";
  script << "EOD\n";
  script << "set title " << quoted(title) << "\nset ylabel " << quoted(ylabel) << "\n";
  script << "plot " << block << " using 1:3:4:5:xtic(2) with yerrorbars pt 7 ps 1.2 lw 1.5 lc rgb '#1f5fa8' "
         << "notitle\n";
}

}  // namespace

std::string gnuplot_script(const CompareResults& results, const std::string& dir, const std::string& terminal,
                           std::vector<ChartFile>& files) {
  const std::string mode = results.options.http ? "HTTP" : "raw echo";
  std::ostringstream script;
  script << "# Drawn by bin/compare; run `gnuplot charts.gp` from the directory bin/compare ran in to redraw.\n";
  // noenhanced: a model name such as io_uring is text, not a subscript.
  script << "set terminal " << terminal << " noenhanced size 1100,900\n";
  script << "set grid ytics mytics\nset logscale y\nset format y '%g'\nset xtics rotate by -40 scale 0 nomirror\n"
         << "set bmargin 7\nset offsets 0.5, 0.5, 0, 0\n";
  int block = 0;
  for (const Scenario& scenario : results.scenarios) {
    std::vector<std::string> rate_lines, cpu_lines;
    int x = 0;
    for (const std::string& model : results.models) {
      const Row* row = find_row(results, model, scenario.name);
      if (!row) continue;
      const std::string name = quoted(model + (row->client_bound ? " (c)" : ""));
      if (!row->msgs_per_s.empty() && row->msgs_per_s.median > 0) {
        rate_lines.push_back(std::to_string(x) + " " + name + " " + number(row->msgs_per_s.median) + " " +
                             number(std::max(row->msgs_per_s.low, 1e-9)) + " " + number(row->msgs_per_s.high));
      }
      if (!row->cpu_us_per_msg.empty() && row->cpu_us_per_msg.median > 0) {
        cpu_lines.push_back(std::to_string(x) + " " + quoted(model) + " " + number(row->cpu_us_per_msg.median) + " " +
                            number(std::max(row->cpu_us_per_msg.low, 1e-9)) + " " +
                            number(row->cpu_us_per_msg.high));
      }
      ++x;
    }
    if (rate_lines.empty() && cpu_lines.empty()) continue;
    const std::string file = "scenario-" + scenario.name + ".png";
    script << "set output " << quoted(dir + "/" + file) << "\n";
    script << "set multiplot layout 2,1 title " << quoted(scenario.name + ": " + describe_load(scenario) + ", " + mode +
                                                           " (median, bars: min-max of the runs, log scale)")
           << "\n";
    script << "set xrange [-0.5:" << x - 0.5 << "]\n";
    if (!rate_lines.empty()) {
      panel(script, "$rate" + std::to_string(block), rate_lines,
            "messages per second, higher is better ((c): client-bound)", "msgs/s");
    }
    if (!cpu_lines.empty()) {
      panel(script, "$cpu" + std::to_string(block), cpu_lines, "server CPU per message, lower is better",
            "server CPU µs per message");
    }
    script << "unset multiplot\n";
    files.push_back({file, scenario.name + ": msgs/s and server CPU µs per message by model, with min-max bars"});
    ++block;
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
