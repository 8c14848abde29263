// What the load generator prints: a wrk-like summary, a progress line, and (to_json, declared in load.hpp) JSON.
#pragma once
#include <string>

#include "client/load.hpp"

namespace iomodels::loadgen {

// The percentiles every report gives.
inline constexpr double kReportedPercentiles[] = {50, 90, 99, 99.9, 99.99};

// "950ns", "45.12us", "1.20ms", "2.50s".
std::string format_duration_ns(double ns);
// "512B", "75.35KB", "1.20MB" (powers of 1024, as wrk prints them).
std::string format_bytes(double bytes);

// The line printed before a run starts, and the summary printed after it.
std::string format_header(const LoadConfig& config, int threads);
std::string format_summary(const LoadConfig& config, const LoadResult& result);
// One line, no newline: "[  3s] 123456 msgs  41152/s  0 errors".
std::string format_progress(const Progress& progress);

}  // namespace iomodels::loadgen
