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

}  // namespace iomodels::compare
