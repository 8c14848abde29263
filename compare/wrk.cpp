#include "compare/wrk.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace iomodels::compare {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

std::optional<double> parse_double(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The sum of every "NAME N" pair of "connect 0, read 0, write 0, timeout 45".
std::uint64_t sum_counts(std::string_view text) {
  std::uint64_t total = 0;
  std::istringstream words{std::string(text)};
  std::string word;
  while (words >> word) {
    if (!word.empty() && word.back() == ',') word.pop_back();
    total += std::strtoull(word.c_str(), nullptr, 10);
  }
  return total;
}

}  // namespace

std::vector<std::string> wrk_command(const std::string& host, int port, int connections,
                                     std::chrono::nanoseconds duration) {
  const long long seconds = std::max<long long>(1, std::llround(static_cast<double>(duration.count()) / 1e9));
  const std::string authority = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return {"wrk", "-t1", "-c" + std::to_string(connections), "-d" + std::to_string(seconds) + "s", "--latency",
          "http://" + authority + ":" + std::to_string(port) + "/"};
}

std::optional<double> parse_wrk_latency(std::string_view text) {
  struct Unit {
    std::string_view suffix;
    double ns;
  };
  constexpr Unit kUnits[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  text = trim(text);
  for (const Unit& unit : kUnits) {
    if (text.ends_with(unit.suffix)) {
      const auto value = parse_double(text.substr(0, text.size() - unit.suffix.size()));
      if (!value) return std::nullopt;
      return *value * unit.ns;
    }
  }
  return std::nullopt;
}

WrkFigures parse_wrk_output(std::string_view output) {
  WrkFigures figures;
  bool have_rate = false;
  bool in_distribution = false;
  while (!output.empty()) {
    const auto newline = output.find('\n');
    const std::string_view line = trim(output.substr(0, newline));
    output.remove_prefix(newline == std::string_view::npos ? output.size() : newline + 1);

    if (line.starts_with("Latency Distribution")) {
      in_distribution = true;
      continue;
    }
    if (in_distribution) {
      // "50%  104.00us": two columns, or the end of the section.
      const auto space = line.find(' ');
      if (space != std::string_view::npos && line.substr(0, space).ends_with('%')) {
        const std::string_view percent = line.substr(0, space);
        const auto value = parse_wrk_latency(line.substr(space + 1));
        if (value && percent == "50%") figures.p50_ns = *value;
        if (value && percent == "99%") figures.p99_ns = *value;
        continue;
      }
      in_distribution = false;
    }
    if (line.starts_with("Requests/sec:")) {
      if (const auto rate = parse_double(trim(line.substr(13)))) {
        figures.requests_per_s = *rate;
        have_rate = true;
      }
    } else if (line.find(" requests in ") != std::string_view::npos) {
      figures.requests = std::strtoull(std::string(line).c_str(), nullptr, 10);
    } else if (line.starts_with("Socket errors:")) {
      figures.errors += sum_counts(line.substr(14));
    } else if (line.starts_with("Non-2xx or 3xx responses:")) {
      figures.errors += std::strtoull(std::string(trim(line.substr(25))).c_str(), nullptr, 10);
    }
  }
  figures.ran = have_rate;
  if (!have_rate) figures.error = "no Requests/sec line in wrk's output";
  return figures;
}

bool wrk_available() {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    dirs.remove_prefix(colon == std::string_view::npos ? dirs.size() : colon + 1);
    if (dir.empty()) dir = ".";
    if (::access((dir + "/wrk").c_str(), X_OK) == 0) return true;
  }
  return false;
}

}  // namespace iomodels::compare
