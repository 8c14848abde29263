// What a server costs, read from /proc and summed over its whole process group: CPU time, memory, processes,
// threads and context switches. harness/server_process.hpp gives the group's members and RSS; the comparison also
// needs the figures below, which proc(5) spreads over /proc/PID/stat and /proc/PID/task/TID/status.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace iomodels::compare {

struct GroupSample {
  // utime + stime + cutime + cstime of every process of the group (proc(5), /proc/PID/stat fields 14-17), in
  // seconds; cutime and cstime hold the children a process has reaped. These are whole clock ticks (10 ms) per
  // process, rounded down, so a forking server's hundreds of children, each using a little CPU, would add up to
  // nothing. cpu_seconds is therefore read per task in nanoseconds from /proc/PID/task/TID/schedstat (its first
  // field, the time spent on a CPU; a zombie still has its task): for each process the larger of that sum and its
  // ticks (which also hold its threads that have exited), plus the ticks of the children it has reaped (which the
  // kernel sums in nanoseconds before rounding). kCounters samples only; user and system are the ticks' split.
  double user_seconds = 0;
  double system_seconds = 0;
  double cpu_seconds = 0;
  int processes = 0;  // members that are not zombies
  int threads = 0;    // num_threads (field 20) summed over those members
  std::size_t rss_bytes = 0;
  // Proportional set size (/proc/PID/smaps_rollup): each shared page divided among the processes that map it,
  // so unlike the RSS sum it does not count a forking server's shared pages once per child. kPss samples only.
  std::size_t pss_bytes = 0;
  // voluntary_ctxt_switches and nonvoluntary_ctxt_switches of every task (/proc/PID/task/TID/status): the
  // per-process file counts the main thread only. Tasks that have exited take their counts with them.
  // kCounters samples only.
  std::uint64_t voluntary_switches = 0;
  std::uint64_t involuntary_switches = 0;
  std::vector<pid_t> pids;  // the members, zombies included
};

// What a sample reads beyond the peaks (processes, threads, RSS), which cost two small files per process.
enum class SampleDetail {
  kPeaks,
  kCounters,  // and CPU time and context switches: two more files per thread
  kPss,       // and PSS, which makes the kernel walk every process's page tables
};

// Samples every process whose process group is pgid.
GroupSample sample_process_group(pid_t pgid, SampleDetail detail);

// The machine's CPU time so far, summed over its CPUs (the "cpu" line of /proc/stat, in clock ticks).
struct CpuTimes {
  std::uint64_t total = 0;  // every field: user nice system idle iowait irq softirq steal
  std::uint64_t steal = 0;  // time a virtual CPU wanted to run and the hypervisor ran something else
  std::uint64_t busy = 0;   // total less idle and iowait
};
CpuTimes read_cpu_times();
// Steal as a share of all CPU time between two readings (0 when no time passed).
double steal_share(const CpuTimes& before, const CpuTimes& after);

// The calibration: a fixed piece of integer work timed on one CPU, several times; the median nanoseconds per
// iteration. The same figure before and after a comparison says whether the machine itself changed speed (another
// job, a throttled or stolen CPU) while it ran. cpu < 0: wherever the thread runs.
struct Calibration {
  int cpu = -1;
  double ns_per_iteration = 0;  // median of the trials
  double min_ns = 0;
  double max_ns = 0;
};
Calibration calibrate_cpu(int cpu);

}  // namespace iomodels::compare
