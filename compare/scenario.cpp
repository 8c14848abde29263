#include "compare/scenario.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "harness/server_process.hpp"
#include "compare/proc_stats.hpp"
#include "compare/options.hpp"

namespace iomodels::compare {
namespace {

using Clock = std::chrono::steady_clock;

// Often enough to catch a peak of threads or memory that lasts a fraction of a second, rarely enough that
// scanning /proc costs the load generator's core little.
constexpr auto kSampleInterval = std::chrono::milliseconds(200);
// The server's last sample is taken this long before the measured window ends: when the window ends the load
// generator closes its connections, and a forking server's children exit, taking their threads' counts with them.
// A sampler thread that runs late on a busy client core must still find them alive.
constexpr auto kSamplingMargin = std::chrono::milliseconds(250);

std::string last_lines(const std::string& text, std::size_t count) {
  std::size_t begin = text.size();
  while (begin > 0 && text[begin - 1] == '\n') --begin;
  const std::size_t end = begin;
  for (std::size_t lines = 0; begin > 0; --begin) {
    if (text[begin - 1] == '\n' && ++lines == count) break;
  }
  return text.substr(begin, end - begin);
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string join_pids(const std::vector<pid_t>& pids) {
  std::string text;
  for (pid_t pid : pids) text += (text.empty() ? "" : ",") + std::to_string(pid);
  return text;
}

// The count on perf stat's -x, line for the event: "718493,,raw_syscalls:sys_enter,2999,100.00,,".
std::optional<std::uint64_t> parse_perf_count(const std::string& output, std::string& why_not) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("raw_syscalls:sys_enter") == std::string::npos) continue;
    const std::string count = line.substr(0, line.find(','));
    if (count.empty() || count.find_first_not_of("0123456789") != std::string::npos) {
      why_not = "perf: " + count;
      return std::nullopt;
    }
    return std::stoull(count);
  }
  why_not = "perf printed no count: " + first_line(output);
  return std::nullopt;
}

// perf stat -I 100 -x, prints a line per interval: "     0.100208128,3599,,raw_syscalls:sys_enter,...", the
// time since counting began, then the count in that interval ("<not counted>" when no counted task ran).
// Gives the total and the time counted, which starts a little after perf was spawned (attaching to hundreds of
// processes takes a while) and ends at its SIGINT.
bool parse_perf_intervals(const std::string& output, std::uint64_t& count, double& seconds, std::string& why_not) {
  count = 0;
  seconds = 0;
  bool any = false;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("raw_syscalls:sys_enter") == std::string::npos) continue;
    const auto first = line.find(',');
    const auto second = line.find(',', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    seconds = std::max(seconds, std::strtod(line.c_str(), nullptr));
    const std::string value = line.substr(first + 1, second - first - 1);
    if (!value.empty() && value.find_first_not_of("0123456789") == std::string::npos) count += std::stoull(value);
    any = true;
  }
  if (!any) why_not = "perf printed no count: " + first_line(output);
  return any && seconds > 0;
}

// Samples the server's process group from its own thread while the load runs: peaks throughout, and the CPU
// time and context switches at both ends of the measured window, so that the warm-up is left out. With perf,
// counts the group's system calls over the same window.
class GroupSampler {
 public:
  GroupSampler(pid_t pgid, Clock::time_point window_start, Clock::time_point window_end, bool count_syscalls)
      : pgid_(pgid), window_start_(window_start), window_end_(window_end), count_syscalls_(count_syscalls) {
    thread_ = std::thread([this] { run(); });
  }
  ~GroupSampler() { finish(true); }

  // Waits for the thread. With abandon, it stops at once; otherwise it first takes its sample at the window's
  // end, which the load generator has passed when it returns.
  void finish(bool abandon) {
    if (abandon) {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  GroupSample before, after;
  Clock::time_point before_at, after_at;
  bool have_window = false;
  std::size_t peak_rss = 0;
  int peak_threads = 0;
  int peak_processes = 0;
  std::size_t pss_bytes = 0;  // near the window's end
  std::optional<std::uint64_t> syscalls;
  double syscalls_seconds = 0;  // how long perf counted
  std::string syscalls_note;

 private:
  void note_peaks(const GroupSample& sample) {
    peak_rss = std::max(peak_rss, sample.rss_bytes);
    peak_threads = std::max(peak_threads, sample.threads);
    peak_processes = std::max(peak_processes, sample.processes);
  }

  // A sample of the counters, stamped with the middle of the time it took (hundreds of processes take a while).
  GroupSample timed_sample(Clock::time_point& at) {
    const auto started = Clock::now();
    GroupSample sample = sample_process_group(pgid_, SampleDetail::kCounters);
    at = started + (Clock::now() - started) / 2;
    note_peaks(sample);
    return sample;
  }

  // Samples the peaks every kSampleInterval until deadline; false when told to stop first. The sampler shares
  // the load generator's core, so when a sample takes long (a group of hundreds of processes) the next one
  // waits ten times as long: sampling never takes more than a tenth of that core.
  bool sample_until(Clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    for (;;) {
      lock.unlock();
      const auto started = Clock::now();
      note_peaks(sample_process_group(pgid_, SampleDetail::kPeaks));
      const auto interval = std::max<Clock::duration>(kSampleInterval, (Clock::now() - started) * 10);
      lock.lock();
      const auto next = std::min(deadline, Clock::now() + interval);
      const bool stopped = wake_.wait_until(lock, next, [this] { return stop_; });
      // On a busy machine this thread may run late: a deadline passed counts, whatever came meanwhile.
      if (Clock::now() >= deadline) return true;
      if (stopped) return false;
    }
  }

  void run() {
    if (!sample_until(window_start_)) return;
    before = timed_sample(before_at);
    std::unique_ptr<ServerProcess> perf;
    if (count_syscalls_) start_perf(perf);
    const bool completed = sample_until(window_end_);
    after = timed_sample(after_at);
    have_window = completed && after_at > before_at;
    pss_bytes = sample_process_group(pgid_, SampleDetail::kPss).pss_bytes;
    if (perf) stop_perf(*perf);
  }

  void start_perf(std::unique_ptr<ServerProcess>& perf) {
    // -p follows the threads and children these processes start later on, as perf's counters are inherited.
    try {
      perf = std::make_unique<ServerProcess>(
          "perf", std::vector<std::string>{"stat", "-I", "100", "-e", "raw_syscalls:sys_enter", "-x,", "-p",
                                           join_pids(before.pids)});
    } catch (const std::exception& error) {
      syscalls_note = std::string("perf: ") + error.what();
    }
  }

  void stop_perf(ServerProcess& perf) {
    // perf stat attached with -p counts until SIGINT, then prints the counts on stderr.
    perf.signal(SIGINT);
    if (!perf.wait_exit(std::chrono::seconds(3))) {
      perf.kill_group();
      syscalls_note = "perf did not stop within 3 s of SIGINT";
      return;
    }
    std::uint64_t count = 0;
    if (parse_perf_intervals(perf.stderr_text(), count, syscalls_seconds, syscalls_note)) syscalls = count;
  }

  pid_t pgid_;
  Clock::time_point window_start_, window_end_;
  bool count_syscalls_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

void copy_load_figures(const loadgen::LoadResult& load, RunRecord& record) {
  record.load_ran = true;
  record.messages = load.messages;
  record.bytes = load.bytes;
  record.seconds = load.seconds;
  record.msgs_per_s = load.seconds > 0 ? static_cast<double>(load.messages) / load.seconds : 0;
  record.bytes_per_s = load.seconds > 0 ? static_cast<double>(load.bytes) / load.seconds : 0;
  const auto& latency = load.latency;
  record.p50_ns = static_cast<double>(latency.value_at_percentile(50));
  record.p90_ns = static_cast<double>(latency.value_at_percentile(90));
  record.p99_ns = static_cast<double>(latency.value_at_percentile(99));
  record.p999_ns = static_cast<double>(latency.value_at_percentile(99.9));
  record.max_ns = static_cast<double>(latency.max());
  record.mean_ns = latency.mean();
  record.errors = load.errors();
  record.connect_errors = load.connect_errors;
  record.resets = load.resets;
  record.timeouts = load.timeouts;
  record.mismatches = load.mismatches;
  record.http_errors = load.http_errors;
  record.connections_opened = load.connections_opened;
  record.never_answered = load.connections_never_answered;
  record.first_error = load.first_error;
  record.client_cpu_seconds = load.client_cpu_seconds;
  record.idle_open = load.idle_open;
  record.slow_open = load.slow_open;
  record.held_not_established = load.background_not_established;
  record.held_closed = load.background_closed_by_server;
  record.held_setup_seconds = load.background_setup_seconds;
}

void copy_server_figures(const GroupSampler& sampler, std::chrono::nanoseconds window, RunRecord& record) {
  record.peak_rss_bytes = sampler.peak_rss;
  record.pss_bytes = sampler.pss_bytes;
  record.peak_threads = sampler.peak_threads;
  record.peak_processes = sampler.peak_processes;
  if (!sampler.have_window) return;
  // The server was sampled over most of the measured window, not all of it (see kSamplingMargin); its figures
  // are rates over the time between the two samples, scaled to the window's length.
  const double sampled = std::chrono::duration<double>(sampler.after_at - sampler.before_at).count();
  const double scale = static_cast<double>(window.count()) / 1e9 / sampled;
  record.server_sampled_seconds = sampled;
  // Times only grow, but a process that exits and is reaped by someone outside the group (init) takes its
  // time along: never report less than nothing.
  record.server_user_seconds = std::max(0.0, sampler.after.user_seconds - sampler.before.user_seconds) * scale;
  record.server_system_seconds =
      std::max(0.0, sampler.after.system_seconds - sampler.before.system_seconds) * scale;
  record.server_cpu_seconds = std::max(0.0, sampler.after.cpu_seconds - sampler.before.cpu_seconds) * scale;
  if (record.messages > 0) {
    record.cpu_us_per_msg = record.server_cpu_seconds * 1e6 / static_cast<double>(record.messages);
  }
  record.server_cpu_share = record.server_cpu_seconds / (static_cast<double>(window.count()) / 1e9);
  auto scaled_delta = [scale](std::uint64_t before, std::uint64_t after) {
    return after > before ? static_cast<std::uint64_t>(static_cast<double>(after - before) * scale + 0.5) : 0;
  };
  record.voluntary_switches = scaled_delta(sampler.before.voluntary_switches, sampler.after.voluntary_switches);
  record.involuntary_switches =
      scaled_delta(sampler.before.involuntary_switches, sampler.after.involuntary_switches);
  record.syscalls = sampler.syscalls;
  record.syscalls_note = sampler.syscalls_note;
  record.syscalls_seconds = sampler.syscalls_seconds;
  // perf counted over nearly but not exactly the measured window: compare rates rather than totals.
  if (record.syscalls && record.msgs_per_s > 0 && record.syscalls_seconds > 0) {
    record.syscalls_per_msg = static_cast<double>(*record.syscalls) / record.syscalls_seconds / record.msgs_per_s;
  }
}

void run_wrk(const CompareOptions& options, const ServerProcess& server, const Scenario& scenario,
             RunRecord& record) {
  const auto argv = wrk_command(server.host(), server.port(), scenario.connections, options.duration);
  const CommandResult result = run_command(
      argv, std::chrono::duration_cast<std::chrono::milliseconds>(options.duration) + std::chrono::seconds(10));
  if (!result.started) {
    record.wrk.error = "wrk: " + result.error;
  } else if (result.timed_out) {
    record.wrk.error = "wrk did not finish in time";
  } else {
    record.wrk = parse_wrk_output(result.out);
    if (!record.wrk.ran) record.wrk.error = "wrk: " + first_line(result.err.empty() ? result.out : result.err);
  }
}

void stop_server(const CompareOptions& options, ServerProcess& server, RunRecord& record) {
  const auto started = Clock::now();
  server.signal(SIGTERM);
  const std::optional<int> status = server.wait_exit(options.stop_timeout);
  record.stop_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  std::ostringstream deadline;
  deadline << options.stop_timeout.count() / 1000.0 << " s";
  if (!status) {
    record.stop_note = "did not exit within " + deadline.str() + " of SIGTERM (killed)";
  } else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    record.stop_note = describe_wait_status(*status) + " after SIGTERM";
  } else {
    int left = 0;
    for (const auto& member : process_group_members(server.pid())) left += member.state != 'Z';
    if (left > 0) {
      record.stop_note = "left " + std::to_string(left) + " process" + (left > 1 ? "es" : "") +
                         " running after SIGTERM (killed)";
    } else {
      record.stopped_cleanly = true;
    }
  }
  server.kill_group();
}

}  // namespace

loadgen::LoadConfig load_config(const CompareOptions& options, const Scenario& scenario, const std::string& host,
                                int port) {
  loadgen::LoadConfig config;
  config.host = host;
  config.port = port;
  config.connections = scenario.connections;
  config.threads = static_cast<int>(options.client_cpus.size());  // 0 (one per CPU) when not pinned
  config.duration = options.duration;
  config.warmup = options.warmup;
  config.message_size = scenario.size;
  config.pipeline = scenario.connect_per_message ? 1 : options.pipeline;
  config.rate = scenario.rate;
  config.connect_per_message = scenario.connect_per_message;
  config.idle = scenario.idle;
  config.slow = scenario.slow;
  config.slow_interval = scenario.slow_interval;
  config.http = options.http;
  config.cpus = options.client_cpus;
  // A client a model cannot serve yet (the iterative server's 49 others) waits the whole run: that is the model's
  // limit, reported as connections never answered, not a timeout counted as an error.
  config.timeout = std::max<std::chrono::nanoseconds>(std::chrono::seconds(5),
                                                      options.warmup + options.duration + std::chrono::seconds(1));
  return config;
}

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk: return "ok";
    case Outcome::kLimit: return "limit";
    case Outcome::kFailed: return "failed";
  }
  return "?";
}

ScopedAffinity::ScopedAffinity(const std::vector<int>& cpus) {
  if (cpus.empty()) return;
  cpu_set_t old_set;
  CPU_ZERO(&old_set);
  if (::sched_getaffinity(0, sizeof old_set, &old_set) != 0) return;
  cpu_set_t new_set;
  CPU_ZERO(&new_set);
  for (int cpu : cpus) CPU_SET(cpu, &new_set);
  if (::sched_setaffinity(0, sizeof new_set, &new_set) != 0) return;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &old_set)) previous_.push_back(cpu);
  }
  changed_ = true;
}

ScopedAffinity::~ScopedAffinity() {
  if (!changed_) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : previous_) CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

bool perf_can_count_syscalls(std::string& why_not) {
  const CommandResult result =
      run_command({"perf", "stat", "-e", "raw_syscalls:sys_enter", "-x,", "--", "true"}, std::chrono::seconds(10));
  if (!result.started) {
    why_not = "perf is not installed (" + result.error + ")";
    return false;
  }
  if (result.timed_out || !WIFEXITED(result.wait_status) || WEXITSTATUS(result.wait_status) != 0) {
    why_not = "perf cannot count raw_syscalls:sys_enter here: " + first_line(result.err);
    return false;
  }
  std::string reason;
  if (!parse_perf_count(result.err, reason)) {
    why_not = "perf cannot count raw_syscalls:sys_enter here: " + reason;
    return false;
  }
  return true;
}

RunRecord run_scenario(const RunContext& context, const std::string& model, const Scenario& scenario,
                       int repeat) {
  const CompareOptions& options = *context.options;
  RunRecord record;
  record.model = model;
  record.scenario = scenario;
  record.repeat = repeat;
  record.outcome = Outcome::kFailed;

  const ModelVariant variant = parse_model_variant(model);
  const std::string path = options.bin_dir + "/" + variant.binary;
  if (::access(path.c_str(), X_OK) != 0) {
    record.note = "failed: " + path + " not found";
    return record;
  }
  std::unique_ptr<ServerProcess> server;
  try {
    ScopedAffinity pinned(options.server_cpus);
    std::vector<std::string> args{"--port", "0"};
    args.insert(args.end(), variant.args.begin(), variant.args.end());
    // `ip netns exec` enters the namespace and execs the server: the pid, and the group sampled, are the server's.
    server = context.veth ? std::make_unique<ServerProcess>("ip", context.veth->wrap(path, args))
                          : std::make_unique<ServerProcess>(path, args);
  } catch (const std::exception& error) {
    record.note = std::string("failed: ") + error.what();
    return record;
  }
  if (!server->wait_for_banner(options.banner_timeout)) {
    if (server->running()) {
      record.note = "failed: no banner within " + std::to_string(options.banner_timeout.count()) + " ms";
    } else {
      record.note = "failed: " + describe_wait_status(server->exit_status().value_or(0)) + " before its banner";
    }
    record.server_stderr = last_lines(server->stderr_text(), 5);
    return record;  // the destructor kills and reaps the group
  }

  loadgen::LoadConfig config = load_config(options, scenario, server->host(), server->port());
  config.on_progress = context.on_progress;

  const CpuTimes cpu_before = read_cpu_times();
  const auto start = Clock::now();
  const auto window_start = start + options.warmup;
  const auto margin = std::min<std::chrono::nanoseconds>(kSamplingMargin, options.duration / 4);
  GroupSampler sampler(server->pid(), window_start, window_start + options.duration - margin,
                       options.syscalls && context.perf_usable);
  std::string load_error;
  try {
    copy_load_figures(loadgen::run_load(config), record);
  } catch (const std::exception& error) {
    load_error = error.what();
  }
  sampler.finish(!load_error.empty());
  const CpuTimes cpu_after = read_cpu_times();
  record.steal_share = steal_share(cpu_before, cpu_after);
  copy_server_figures(sampler, options.duration, record);
  {
    const int client_threads = std::max(1, std::min(config.connections, config.threads > 0 ? config.threads
                                                                          : static_cast<int>(allowed_cpus().size())));
    // The measured connections' threads, plus the thread holding idle and slow ones when there are any; that
    // thread is nearly always asleep, so the share is of the workers' CPUs.
    const double wall = static_cast<double>((options.warmup + options.duration).count()) / 1e9;
    record.client_cpu_share = record.client_cpu_seconds / (wall * client_threads);
    record.client_bound = record.load_ran && record.client_cpu_share >= options.client_bound_share;
  }
  if (options.syscalls && !context.perf_usable) record.syscalls_note = "perf unavailable";

  if (!server->running()) {
    record.note = "failed: " + describe_wait_status(server->exit_status().value_or(0)) + " during the run";
    record.server_stderr = last_lines(server->stderr_text(), 5);
    return record;
  }
  if (!load_error.empty()) {
    record.note = "failed: load generator: " + load_error;
  } else if (record.never_answered > 0) {
    record.outcome = Outcome::kLimit;
    record.note = "limit: " + std::to_string(record.never_answered) + "/" + std::to_string(scenario.connections) +
                  " connections never answered";
    if (record.held_not_established > 0) {
      record.note += ", " + std::to_string(record.held_not_established) + "/" +
                     std::to_string(scenario.idle + scenario.slow) + " held ones never accepted";
    }
  } else {
    record.outcome = Outcome::kOk;
  }
  if (options.wrk) run_wrk(options, *server, scenario, record);
  stop_server(options, *server, record);
  return record;
}

}  // namespace iomodels::compare
