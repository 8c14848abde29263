#include "compare/syscalls.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>

#include "harness/server_process.hpp"

namespace iomodels::compare {
namespace {

constexpr const char* kPrefix = "syscalls:sys_enter_";
constexpr const char* kTotal = "raw_syscalls:sys_enter";
// The calls an echo server's message path can make, in any of the suite's models. Every call is counted in the
// total (raw_syscalls:sys_enter); the rest shows as "other". Each tracepoint counter costs perf tens of
// milliseconds to tear down (an RCU grace period each), so the list is kept to the calls that matter: all ~350
// would take half a minute per server.
constexpr const char* kCalls[] = {"read",       "write",      "readv",       "writev",       "recvfrom",
                                  "sendto",     "recvmsg",    "sendmsg",     "accept4",      "close",
                                  "epoll_wait", "epoll_pwait", "epoll_ctl",  "poll",         "ppoll",
                                  "select",     "pselect6",   "io_uring_enter", "io_getevents", "ioctl",
                                  "fcntl",      "futex",      "clone3",      "rt_sigtimedwait"};

std::string event_list() {
  std::string list = kTotal;
  for (const char* call : kCalls) list += std::string(",") + kPrefix + call;
  return list;
}

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace

std::vector<std::pair<std::string, std::uint64_t>> parse_syscall_counts(const std::string& output) {
  std::vector<std::pair<std::string, std::uint64_t>> counts;
  std::istringstream lines(output);
  const std::string prefix = kPrefix;
  for (std::string line; std::getline(lines, line);) {
    const auto first = line.find(',');
    if (first == std::string::npos) continue;
    const auto event = line.find(prefix, first);
    if (event == std::string::npos) continue;
    const std::string count = line.substr(0, first);
    if (count.empty() || count.find_first_not_of("0123456789") != std::string::npos) continue;  // <not counted>
    const auto end = line.find(',', event);
    const std::string name = line.substr(event + prefix.size(), end == std::string::npos ? end : end - event -
                                                                                                   prefix.size());
    const std::uint64_t value = std::stoull(count);
    if (value > 0) counts.emplace_back(name, value);
  }
  return counts;
}

std::optional<std::uint64_t> parse_total_syscalls(const std::string& output) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    const auto first = line.find(',');
    if (first == std::string::npos || line.find(kTotal, first) == std::string::npos) continue;
    const std::string count = line.substr(0, first);
    if (count.empty() || count.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::stoull(count);
  }
  return std::nullopt;
}

bool perf_can_count_each_syscall(std::string& why_not) {
  const CommandResult result = run_command({"perf", "stat", "-x,", "-e", event_list(), "--", "true"},
                                           std::chrono::seconds(20));
  if (!result.started) {
    why_not = "perf is not installed (" + result.error + "; Debian package linux-perf, make deps)";
    return false;
  }
  if (result.timed_out || !WIFEXITED(result.wait_status) || WEXITSTATUS(result.wait_status) != 0) {
    why_not = "perf cannot count the syscalls:sys_enter_* tracepoints here: " +
              result.err.substr(0, result.err.find('\n'));
    return false;
  }
  if (!parse_total_syscalls(result.err)) {
    why_not = "perf counted no raw_syscalls:sys_enter event of `true` (tracepoints unavailable?)";
    return false;
  }
  return true;
}

SyscallMix count_syscall_mix(const CompareOptions& options, const std::string& model, const Scenario& scenario,
                             const std::string& work_dir) {
  SyscallMix mix;
  mix.model = model;
  mix.scenario = scenario.name;
  const ModelVariant variant = parse_model_variant(model);
  const std::string path = options.bin_dir + "/" + variant.binary;
  std::string file_name = "syscalls-" + scenario.name + "-" + model + ".txt";
  for (char& c : file_name) {
    if (c == '/' || c == ':' || c == '=' || c == ' ') c = '_';
  }
  const std::string out_path = work_dir + "/" + file_name;
  std::vector<std::string> args{"stat", "-x,", "-o", out_path, "-e", event_list(), "--", path, "--port", "0"};
  args.insert(args.end(), variant.args.begin(), variant.args.end());
  std::unique_ptr<ServerProcess> perf;
  try {
    ScopedAffinity pinned(options.server_cpus);
    perf = std::make_unique<ServerProcess>("perf", args);
  } catch (const std::exception& error) {
    mix.note = std::string("perf: ") + error.what();
    return mix;
  }
  // perf opens several hundred counters before it starts the server: give it longer than a bare server.
  if (!perf->wait_for_banner(options.banner_timeout * 3)) {
    mix.note = "no banner under perf: " + perf->error();
    return mix;
  }
  loadgen::LoadConfig config = load_config(options, scenario, perf->host(), perf->port());
  config.warmup = std::chrono::nanoseconds(0);
  loadgen::LoadResult load;
  try {
    load = loadgen::run_load(config);
  } catch (const std::exception& error) {
    mix.note = std::string("load generator: ") + error.what();
    return mix;
  }
  // SIGTERM to the server's processes, not to perf: perf stat waits for the server it started to exit, then writes
  // the counts (a signal to perf alone leaves it waiting, and perf starts the server with SIGINT ignored).
  for (const GroupMember& member : process_group_members(perf->pid())) {
    if (member.pid != perf->pid() && member.state != 'Z') ::kill(member.pid, SIGTERM);
  }
  if (!perf->wait_exit(std::chrono::seconds(10))) {
    perf->kill_group();
    mix.note = "perf did not stop within 10 s of the server's SIGTERM";
    return mix;
  }
  const std::string output = read_text(out_path);
  const auto counts = parse_syscall_counts(output);
  const auto total = parse_total_syscalls(output);
  mix.messages = load.messages;
  if (!total || load.messages == 0) {
    mix.note = !total ? "perf wrote no counts" : "no message was answered";
    return mix;
  }
  mix.counted = true;
  std::uint64_t named = 0;
  for (const auto& [name, count] : counts) {
    named += count;
    mix.per_msg.emplace_back(name, static_cast<double>(count) / static_cast<double>(load.messages));
  }
  if (*total > named) {
    mix.per_msg.emplace_back("other", static_cast<double>(*total - named) / static_cast<double>(load.messages));
  }
  std::stable_sort(mix.per_msg.begin(), mix.per_msg.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  mix.total_per_msg = static_cast<double>(*total) / static_cast<double>(load.messages);
  if (load.errors() > 0 || load.connections_never_answered > 0) {
    mix.note = "the load was not served whole (" + std::to_string(load.connections_never_answered) +
               " connections never answered, " + std::to_string(load.errors()) + " errors)";
  }
  return mix;
}

}  // namespace iomodels::compare
