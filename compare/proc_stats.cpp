#include "compare/proc_stats.hpp"

#include <dirent.h>
#include <sched.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <vector>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace iomodels::compare {
namespace {

// /proc files are read with plain read(2) into a buffer on the stack: the sampler reads hundreds of them a few
// times a second on the load generator's core, and an ifstream per file costs several times as much.
class ProcFile {
 public:
  // Reads the whole file (up to the buffer's size); empty when it cannot be opened, e.g. the process is gone.
  // text() is always NUL-terminated, so strtoull and strchr may read it.
  explicit ProcFile(const char* path) {
    buffer_[0] = '\0';
    text_ = std::string_view(buffer_, 0);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    std::size_t used = 0;
    for (;;) {
      const ssize_t n = ::read(fd, buffer_ + used, sizeof buffer_ - 1 - used);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      used += static_cast<std::size_t>(n);
      if (used == sizeof buffer_ - 1) break;
    }
    ::close(fd);
    buffer_[used] = '\0';
    text_ = std::string_view(buffer_, used);
  }
  std::string_view text() const { return text_; }

  // The number after "key" (e.g. "VmRSS:"), skipping blanks; 0 when the key is absent.
  unsigned long long field(std::string_view key) const {
    std::size_t at = 0;
    while ((at = text_.find(key, at)) != std::string_view::npos) {
      if (at == 0 || text_[at - 1] == '\n') return std::strtoull(buffer_ + at + key.size(), nullptr, 10);
      at += key.size();
    }
    return 0;
  }

 private:
  char buffer_[4096];
  std::string_view text_;
};

struct Path {
  char text[64];
  Path(pid_t pid, const char* file) { std::snprintf(text, sizeof text, "/proc/%d/%s", pid, file); }
  Path(pid_t pid, pid_t tid, const char* file) {
    std::snprintf(text, sizeof text, "/proc/%d/task/%d/%s", pid, tid, file);
  }
};

bool parse_pid(const char* name, pid_t& pid) {
  const auto [end, error] = std::from_chars(name, name + std::strlen(name), pid);
  return error == std::errc() && *end == '\0';
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
  const ProcFile file(Path(pid, "stat").text);
  const std::string_view line = file.text();
  const auto close = line.rfind(')');
  if (close == std::string_view::npos || close + 2 >= line.size()) return false;
  long long values[18] = {};  // values[0] is field 3
  const char* at = line.data() + close + 2;
  const char* const end = line.data() + line.size();
  fields.state = *at;
  int count = 1;
  at = std::find(at, end, ' ');
  while (count < 18 && at < end) {
    ++at;
    const auto [next, error] = std::from_chars(at, end, values[count]);
    if (error != std::errc()) return false;
    at = next;
    ++count;
  }
  if (count < 18) return false;
  auto field = [&](int number) { return values[number - 3]; };
  fields.pgrp = static_cast<pid_t>(field(5));
  fields.utime = static_cast<unsigned long long>(field(14));
  fields.stime = static_cast<unsigned long long>(field(15));
  fields.cutime = field(16);
  fields.cstime = field(17);
  fields.num_threads = field(20);
  return true;
}

// Adds the context switches of every task of the process; returns the nanoseconds its tasks have spent on a CPU.
std::uint64_t add_task_figures(pid_t pid, GroupSample& sample) {
  std::uint64_t runtime_ns = 0;
  DIR* dir = ::opendir(Path(pid, "task").text);
  if (dir == nullptr) return 0;
  while (dirent* entry = ::readdir(dir)) {
    pid_t tid = 0;
    if (!parse_pid(entry->d_name, tid)) continue;
    runtime_ns += std::strtoull(ProcFile(Path(pid, tid, "schedstat").text).text().data(), nullptr, 10);
    const ProcFile status(Path(pid, tid, "status").text);
    sample.voluntary_switches += status.field("voluntary_ctxt_switches:");
    sample.involuntary_switches += status.field("nonvoluntary_ctxt_switches:");
  }
  ::closedir(dir);
  return runtime_ns;
}

}  // namespace

GroupSample sample_process_group(pid_t pgid, SampleDetail detail) {
  static const double kTicksPerSecond = static_cast<double>(::sysconf(_SC_CLK_TCK));
  static const std::size_t kPageSize = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const bool counters = detail == SampleDetail::kCounters;
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
    user_ticks += stat.utime + static_cast<unsigned long long>(stat.cutime);
    system_ticks += stat.stime + static_cast<unsigned long long>(stat.cstime);
    if (counters) {
      // A zombie still shows its task's runtime and switches until it is reaped: read it like a live process,
      // or a child that has just exited would take its CPU time out of the sum.
      const double own_ticks_s = static_cast<double>(stat.utime + stat.stime) / kTicksPerSecond;
      const double live_s = static_cast<double>(add_task_figures(pid, sample)) / 1e9;
      const double children_s = static_cast<double>(stat.cutime + stat.cstime) / kTicksPerSecond;
      sample.cpu_seconds += std::max(own_ticks_s, live_s) + children_s;
    }
    if (stat.state == 'Z') continue;
    ++sample.processes;
    sample.threads += static_cast<int>(stat.num_threads);
    // statm's second field is the resident pages: VmRSS without formatting all of /proc/PID/status.
    const ProcFile statm(Path(pid, "statm").text);
    const char* resident = std::strchr(statm.text().data(), ' ');
    if (resident != nullptr) sample.rss_bytes += std::strtoull(resident + 1, nullptr, 10) * kPageSize;
    if (detail == SampleDetail::kPss) {
      sample.pss_bytes += ProcFile(Path(pid, "smaps_rollup").text).field("Pss:") * 1024;
    }
  }
  ::closedir(proc);
  sample.user_seconds = static_cast<double>(user_ticks) / kTicksPerSecond;
  sample.system_seconds = static_cast<double>(system_ticks) / kTicksPerSecond;
  return sample;
}

}  // namespace iomodels::compare

namespace iomodels::compare {

CpuTimes read_cpu_times() {
  CpuTimes times;
  FILE* file = std::fopen("/proc/stat", "re");
  if (file == nullptr) return times;
  unsigned long long field[8] = {};
  const int read = std::fscanf(file, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &field[0], &field[1], &field[2],
                               &field[3], &field[4], &field[5], &field[6], &field[7]);
  std::fclose(file);
  if (read < 4) return times;
  for (int i = 0; i < read; ++i) times.total += field[i];
  times.steal = read >= 8 ? field[7] : 0;
  times.busy = times.total - field[3] - (read >= 5 ? field[4] : 0);
  return times;
}

double steal_share(const CpuTimes& before, const CpuTimes& after) {
  if (after.total <= before.total || after.steal < before.steal) return 0;
  return static_cast<double>(after.steal - before.steal) / static_cast<double>(after.total - before.total);
}

Calibration calibrate_cpu(int cpu) {
  Calibration result;
  result.cpu = cpu;
  cpu_set_t old_set;
  CPU_ZERO(&old_set);
  const bool pinned = cpu >= 0 && ::sched_getaffinity(0, sizeof old_set, &old_set) == 0;
  if (pinned) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    ::sched_setaffinity(0, sizeof set, &set);
  }
  // A linear congruential step per iteration: a dependency chain the compiler cannot fold or vectorise.
  constexpr std::uint64_t kIterations = 20'000'000;
  std::vector<double> trials;
  for (int trial = 0; trial < 7; ++trial) {
    volatile std::uint64_t seed = 12345 + static_cast<std::uint64_t>(trial);
    std::uint64_t x = seed;
    const auto started = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < kIterations; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const auto took = std::chrono::steady_clock::now() - started;
    seed = x;
    trials.push_back(std::chrono::duration<double, std::nano>(took).count() / static_cast<double>(kIterations));
  }
  if (pinned) ::sched_setaffinity(0, sizeof old_set, &old_set);
  std::sort(trials.begin(), trials.end());
  result.ns_per_iteration = trials[trials.size() / 2];
  result.min_ns = trials.front();
  result.max_ns = trials.back();
  return result;
}

}  // namespace iomodels::compare
