#include "compare/proc_stats.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

namespace iomodels::compare {
namespace {

bool parse_pid(const char* name, pid_t& pid) {
  const auto [end, error] = std::from_chars(name, name + std::strlen(name), pid);
  return error == std::errc() && *end == '\0';
}

std::string read_first_line(const std::string& path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return line;
}

// The fields of /proc/PID/stat after "pid (comm) ", numbered from 3 (state) as proc(5) numbers them. comm may
// hold spaces and parentheses, so the fields start after the last ')'.
struct StatFields {
  char state = '?';
  pid_t pgrp = 0;
  unsigned long long utime = 0, stime = 0;
  long long cutime = 0, cstime = 0;
  long num_threads = 0;
};

bool read_stat(pid_t pid, StatFields& fields) {
  const std::string line = read_first_line("/proc/" + std::to_string(pid) + "/stat");
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  std::vector<std::string_view> values;  // values[0] is field 3
  std::string_view rest = std::string_view(line).substr(close + 2);
  while (!rest.empty() && values.size() < 18) {
    const auto space = rest.find(' ');
    values.push_back(rest.substr(0, space));
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  if (values.size() < 18) return false;
  auto number = [&](int field) { return std::strtoll(std::string(values[field - 3]).c_str(), nullptr, 10); };
  fields.state = values[0].empty() ? '?' : values[0][0];
  fields.pgrp = static_cast<pid_t>(number(5));
  fields.utime = static_cast<unsigned long long>(number(14));
  fields.stime = static_cast<unsigned long long>(number(15));
  fields.cutime = number(16);
  fields.cstime = number(17);
  fields.num_threads = number(20);
  return true;
}

// The value in kB of the line starting with key ("VmRSS:") in a /proc file, in bytes; 0 when absent.
std::size_t read_kib_field(const std::string& path, std::string_view key) {
  std::ifstream file(path);
  std::string line;
  while (std::getline(file, line)) {
    if (line.starts_with(key)) return std::strtoull(line.c_str() + key.size(), nullptr, 10) * 1024;
  }
  return 0;
}

// Adds the context switches of every task of the process; returns the nanoseconds its tasks have spent on a CPU.
std::uint64_t add_task_figures(pid_t pid, GroupSample& sample) {
  std::uint64_t runtime_ns = 0;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(tasks.c_str());
  if (dir == nullptr) return 0;
  while (dirent* entry = ::readdir(dir)) {
    pid_t tid = 0;
    if (!parse_pid(entry->d_name, tid)) continue;
    const std::string task = tasks + "/" + entry->d_name;
    runtime_ns += std::strtoull(read_first_line(task + "/schedstat").c_str(), nullptr, 10);
    std::ifstream file(task + "/status");
    std::string line;
    while (std::getline(file, line)) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0) {
        sample.voluntary_switches += std::strtoull(line.c_str() + 24, nullptr, 10);
      } else if (line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
        sample.involuntary_switches += std::strtoull(line.c_str() + 27, nullptr, 10);
      }
    }
  }
  ::closedir(dir);
  return runtime_ns;
}

}  // namespace

GroupSample sample_process_group(pid_t pgid, bool detailed) {
  static const double kTicksPerSecond = static_cast<double>(::sysconf(_SC_CLK_TCK));
  GroupSample sample;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return sample;
  unsigned long long user_ticks = 0;
  unsigned long long system_ticks = 0;
  while (dirent* entry = ::readdir(proc)) {
    pid_t pid = 0;
    StatFields stat;
    // A process may exit between readdir and the read: it is then simply not a member any more.
    if (!parse_pid(entry->d_name, pid) || !read_stat(pid, stat) || stat.pgrp != pgid) continue;
    sample.pids.push_back(pid);
    const auto children = static_cast<unsigned long long>(stat.cutime + stat.cstime);
    user_ticks += stat.utime + static_cast<unsigned long long>(stat.cutime);
    system_ticks += stat.stime + static_cast<unsigned long long>(stat.cstime);
    if (detailed) {
      // A zombie still shows its task's runtime and switches until it is reaped: read it like a live process,
      // or a child that has just exited would take its CPU time out of the sum.
      const double own_ticks_s = static_cast<double>(stat.utime + stat.stime) / kTicksPerSecond;
      const double live_s = static_cast<double>(add_task_figures(pid, sample)) / 1e9;
      sample.cpu_seconds += std::max(own_ticks_s, live_s) + static_cast<double>(children) / kTicksPerSecond;
    }
    if (stat.state == 'Z') continue;
    ++sample.processes;
    sample.threads += static_cast<int>(stat.num_threads);
    sample.rss_bytes += read_kib_field("/proc/" + std::to_string(pid) + "/status", "VmRSS:");
    if (detailed) sample.pss_bytes += read_kib_field("/proc/" + std::to_string(pid) + "/smaps_rollup", "Pss:");
  }
  ::closedir(proc);
  sample.user_seconds = static_cast<double>(user_ticks) / kTicksPerSecond;
  sample.system_seconds = static_cast<double>(system_ticks) / kTicksPerSecond;
  return sample;
}

}  // namespace iomodels::compare
