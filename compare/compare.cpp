#include "compare/compare.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "compare/charts.hpp"
#include "compare/report.hpp"
#include "compare/scenario.hpp"
#include "compare/syscalls.hpp"

namespace iomodels::compare {
namespace {

using Clock = std::chrono::steady_clock;

// What every run costs beyond its warm-up and measured window: starting the server, reading its banner,
// stopping it. Used for the ETA until the first scenario has been timed.
constexpr double kOverheadSeconds = 0.3;

std::string local_time(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  ::localtime_r(&now, &parts);
  char text[64];
  std::strftime(text, sizeof text, format, &parts);
  return text;
}

std::string clock_text(double seconds) {
  const long total = seconds < 0 ? 0 : static_cast<long>(seconds + 0.5);
  char text[32];
  std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  return text;
}

// Each connection costs the server a descriptor: 500 come close to the usual soft limit of 1024, and --connections
// may ask for more. A server inherits the raised soft limit (up to the hard one) from this process.
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

// The progress line: which model and scenario, n of total, elapsed, ETA. On a terminal one line is rewritten in
// place, also during a run; elsewhere (a log, CI) one line is printed per finished run.
class ProgressLine {
 public:
  ProgressLine(std::ostream& out, bool in_place, int total, double planned_per_run)
      : out_(out), in_place_(in_place), total_(total), planned_per_run_(planned_per_run) {}

  void start_run(int index, const std::string& label) {
    index_ = index;
    label_ = label;
    run_started_ = Clock::now();
    if (in_place_) show("starting");
  }

  void update(const loadgen::Progress& progress) {
    if (!in_place_) return;
    show(progress.warming_up ? "warm-up" : format_count(progress.messages_per_s) + " msgs/s");
  }

  void finish_run(const RunRecord& record) {
    ++done_;
    std::string what;
    if (record.load_ran && record.messages > 0) {
      what = format_count(record.msgs_per_s) + " msgs/s, p99 " + format_latency(record.p99_ns);
      if (record.cpu_us_per_msg > 0) what += ", " + format_latency(record.cpu_us_per_msg * 1000) + " CPU/msg";
    }
    const std::string note = record.note + (record.stop_note.empty() ? "" : " " + record.stop_note);
    if (!note.empty()) what += (what.empty() ? "" : "; ") + note;
    if (in_place_) {
      show(what);
    } else {
      out_ << prefix() << ": " << what << " | " << timing() << "\n" << std::flush;
    }
  }

  void end() {
    if (in_place_) out_ << "\r\x1b[K" << std::flush;
  }

 private:
  std::string prefix() const {
    const std::string counter = std::to_string(total_);
    std::string index = std::to_string(index_ + 1);
    index.insert(0, counter.size() - index.size(), ' ');
    return "[" + index + "/" + counter + "] " + label_;
  }

  std::string timing() const {
    const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    const double in_run = std::chrono::duration<double>(Clock::now() - run_started_).count();
    const double per_run = done_ > 0 ? (elapsed - (done_ < index_ + 1 ? in_run : 0)) / done_ : planned_per_run_;
    const double left = (total_ - done_) * per_run - (done_ < index_ + 1 ? in_run : 0);
    return clock_text(elapsed) + " elapsed, ETA " + clock_text(left);
  }

  void show(const std::string& what) {
    // \x1b[K clears what a longer previous line left on the right.
    out_ << "\r" << prefix() << ": " << what << " | " << timing() << "\x1b[K" << std::flush;
  }

  std::ostream& out_;
  bool in_place_;
  int total_;
  double planned_per_run_;
  int index_ = 0;
  int done_ = 0;
  std::string label_;
  Clock::time_point started_ = Clock::now();
  Clock::time_point run_started_ = Clock::now();
};

bool write_file(const std::filesystem::path& path, const std::string& text, std::ostream& err) {
  std::ofstream file(path);
  file << text;
  file.close();
  if (!file) {
    err << "compare: cannot write " << path.string() << "\n";
    return false;
  }
  return true;
}

}  // namespace

std::string default_out_dir() { return "results/" + local_time("%Y%m%d-%H%M%S"); }

int run_compare(const CompareOptions& given, std::ostream& out, std::ostream& progress, CompareResults* copy) {
  CompareResults results;
  results.options = given;
  CompareOptions& options = results.options;
  const auto started = Clock::now();
  results.started_at = local_time("%Y-%m-%dT%H:%M:%S%z");

  if (options.models.empty()) {
    for (const std::string& model : known_models()) {
      if (::access((options.bin_dir + "/" + model).c_str(), X_OK) == 0) options.models.push_back(model);
    }
  }
  if (options.python) {
    for (const std::string& model : python_models()) {
      if (std::find(options.models.begin(), options.models.end(), model) == options.models.end()) {
        options.models.push_back(model);
      }
    }
  }
  if (options.models.empty()) {
    progress << "compare: no server binary in " << options.bin_dir << " (build them with make)\n";
    return 1;
  }
  results.models = options.models;
  if (options.scenarios.empty()) {
    for (std::size_t size : options.sizes) {
      for (int connections : options.connections) {
        options.scenarios.push_back(custom_scenario(connections, size, options.rate));
      }
    }
  }
  results.scenarios = options.scenarios;
  if (options.out_dir.empty()) options.out_dir = default_out_dir();
  std::error_code error;
  std::filesystem::create_directories(options.out_dir, error);
  if (error) {
    progress << "compare: cannot create " << options.out_dir << ": " << error.message() << "\n";
    return 1;
  }
  results.machine = read_machine_info();

  RunContext context;
  context.options = &options;
  if (options.syscalls) {
    std::string why_not;
    context.perf_usable = perf_can_count_syscalls(why_not);
    if (!context.perf_usable) results.notes.push_back("syscalls per message skipped: " + why_not);
  }
  if (options.wrk && !wrk_available()) {
    options.wrk = false;
    results.notes.push_back("wrk skipped: wrk is not installed (Debian package wrk)");
  }
  raise_descriptor_limit();
  std::unique_ptr<VethPath> veth;
  if (options.net == "veth") {
    std::string why;
    veth = VethPath::create(why);
    if (!veth) {
      progress << "compare: --net veth: " << why << " (network namespaces need root or CAP_SYS_ADMIN)\n";
      return 1;
    }
    context.veth = veth.get();
    results.notes.push_back("network path: " + veth->describe());
  } else {
    results.notes.push_back("network path: loopback (127.0.0.1)");
  }
  // This thread (and the sampler and perf it starts) stays off the server's CPUs; the server is pinned to them
  // when it is spawned (ScopedAffinity in run_scenario), and the load generator's threads by LoadConfig::cpus.
  ScopedAffinity pinned(options.client_cpus);

  // The calibration before (and after, below): the same fixed work on the server's and the client's CPU.
  std::vector<int> calibrated = options.server_cpus;
  calibrated.insert(calibrated.end(), options.client_cpus.begin(), options.client_cpus.end());
  if (calibrated.empty()) calibrated.push_back(-1);
  for (int cpu : calibrated) results.noise.before.push_back(calibrate_cpu(cpu));
  const CpuTimes machine_before = read_cpu_times();

  int total = 0;
  for (const Scenario& scenario : results.scenarios) {
    total += static_cast<int>(options.models.size()) * (scenario.repeat > 0 ? scenario.repeat : options.repeat);
  }
  const double planned =
      static_cast<double>((options.warmup + options.duration * (options.wrk ? 2 : 1)).count()) / 1e9 +
      kOverheadSeconds;
  ProgressLine line(progress, options.progress_in_place, total, planned);
  context.on_progress = [&line](const loadgen::Progress& p) { line.update(p); };

  std::vector<RunRecord> runs;
  int index = 0;
  // Within a scenario the runs go round the models, repeat after repeat, so that a slow minute of the machine
  // (another job, a thermal dip) hits every model alike instead of landing on one model's runs.
  for (const Scenario& scenario : results.scenarios) {
    const int repeats = scenario.repeat > 0 ? scenario.repeat : options.repeat;
    for (int repeat = 0; repeat < repeats; ++repeat) {
      for (const std::string& model : options.models) {
        std::string label = model + ", " + scenario.name;
        if (repeats > 1) label += ", run " + std::to_string(repeat + 1);
        line.start_run(index++, label);
        runs.push_back(run_scenario(context, model, scenario, repeat));
        line.finish_run(runs.back());
      }
    }
  }
  line.end();
  const CpuTimes machine_after = read_cpu_times();
  results.noise.steal_share = steal_share(machine_before, machine_after);
  for (const RunRecord& run : runs) {
    results.noise.steal_share_max_run = std::max(results.noise.steal_share_max_run, run.steal_share);
  }
  for (int cpu : calibrated) results.noise.after.push_back(calibrate_cpu(cpu));

  // The system-call mix, in a pass of its own: its counters slow every call.
  std::vector<Scenario> mixed;
  for (const std::string& name : options.mix_scenarios) {
    for (const Scenario& scenario : results.scenarios) {
      if (scenario.name == name) mixed.push_back(scenario);
    }
  }
  if (!mixed.empty()) {
    std::string why_not;
    if (!perf_can_count_each_syscall(why_not)) {
      results.notes.push_back("system-call mix skipped: " + why_not);
    } else {
      for (const Scenario& scenario : mixed) {
        for (const std::string& model : options.models) {
          progress << (options.progress_in_place ? "\r\x1b[K" : "") << "syscall mix: " << model << ", "
                   << scenario.name << (options.progress_in_place ? "" : "\n") << std::flush;
          results.mixes.push_back(count_syscall_mix(options, model, scenario, options.out_dir));
        }
      }
      if (options.progress_in_place) progress << "\r\x1b[K" << std::flush;
    }
  }

  results.rows = aggregate(runs, results.models, results.scenarios, options.client_bound_share);
  results.verdicts = all_verdicts(results);
  const std::filesystem::path dir(options.out_dir);
  std::string chart_note;
  for (const ChartFile& chart : draw_charts(results, options.out_dir, chart_note)) {
    results.charts.push_back(chart.name);
  }
  if (!chart_note.empty()) results.notes.push_back(chart_note);
  results.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();

  bool written = write_file(dir / "results.json", results_to_json(results).dump(2) + "\n", progress);
  written = write_file(dir / "results.csv", results_to_csv(results), progress) && written;
  written = write_file(dir / "report.md", report_markdown(results), progress) && written;

  out << render_summary_text(results);
  for (const std::string& note : results.notes) out << "note: " << note << "\n";
  out << "results in " << options.out_dir << "/ (report.md, results.json, results.csv"
      << (results.charts.empty() ? "" : ", charts") << "), " << clock_text(results.elapsed_s) << " in all\n";
  if (copy != nullptr) *copy = results;
  return written ? 0 : 1;
}

}  // namespace iomodels::compare
