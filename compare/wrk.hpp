// wrk beside the suite's own load generator: the command the comparison runs and the figures read from its
// output, so that a reader can check loadgen's numbers against a tool everyone knows.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iomodels::compare {

struct WrkFigures {
  bool ran = false;
  std::string error;  // why there are no figures (wrk missing, failed, output not understood)
  double requests_per_s = 0;
  double p50_ns = 0;
  double p99_ns = 0;
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;  // socket errors of every kind plus non-2xx/3xx responses
};

// wrk -t1 -cN -dD --latency http://HOST:PORT/ (D in whole seconds, at least 1; wrk takes no fractions).
std::vector<std::string> wrk_command(const std::string& host, int port, int connections,
                                     std::chrono::nanoseconds duration);

// Reads "Requests/sec:", the 50% and 99% lines of "Latency Distribution", the request count, "Socket errors:"
// and "Non-2xx or 3xx responses:" from wrk's report. Sets error when the report has no Requests/sec line.
WrkFigures parse_wrk_output(std::string_view output);

// "104.00us", "1.51ms", "2.00s" -> nanoseconds; empty when the text is not such a latency.
std::optional<double> parse_wrk_latency(std::string_view text);

// Whether a wrk binary is on PATH.
bool wrk_available();

}  // namespace iomodels::compare
