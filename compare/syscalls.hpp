// The system calls a model makes per message, call by call: the server is started under perf stat counting
// raw_syscalls:sys_enter and the syscalls:sys_enter_<call> tracepoints of the calls an echo server's message path
// makes (exact counters, inherited by its threads and children), driven
// with a scenario's load, and stopped; the counts are divided by the messages answered. This is a pass of its own,
// after the timed runs: several hundred counters slow every call, which the timed windows must not see. The counts
// span the server's whole life (start-up and shutdown add a few dozen calls, a few thousandths per message).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "compare/results.hpp"
#include "compare/scenario.hpp"

namespace iomodels::compare {

// Whether perf can count the syscalls:sys_enter_* tracepoints here; when not, why (for the report's notes).
bool perf_can_count_each_syscall(std::string& why_not);

// Counts model's calls under scenario's load (one window of options.duration, no warm-up).
SyscallMix count_syscall_mix(const CompareOptions& options, const std::string& model, const Scenario& scenario,
                             const std::string& work_dir);

// perf stat -x, output: "30015,,syscalls:sys_enter_recvfrom,400812741,100.00,," -> {"recvfrom", 30015}, per line.
std::vector<std::pair<std::string, std::uint64_t>> parse_syscall_counts(const std::string& perf_output);
// The raw_syscalls:sys_enter count of the same output: every call.
std::optional<std::uint64_t> parse_total_syscalls(const std::string& perf_output);

}  // namespace iomodels::compare
