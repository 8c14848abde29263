#include "client/segment.hpp"

#include <charconv>
#include <chrono>
#include <cmath>

#include "client/cli.hpp"

namespace iomodels::loadgen {
namespace {

std::optional<int> whole_number(std::string_view text) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<Segment> parse_segment(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto index = whole_number(text.substr(0, slash));
  const auto count = whole_number(text.substr(slash + 1));
  if (!index || !count || *count < 1 || *index < 1 || *index > *count) return std::nullopt;
  return Segment{*index, *count};
}

ConnectionRange segment_connections(int connections, Segment segment) {
  const auto c = static_cast<long long>(connections);
  return {static_cast<int>(c * (segment.index - 1) / segment.count),
          static_cast<int>(c * segment.index / segment.count)};
}

std::optional<double> parse_start_at(std::string_view text, double now_epoch_s) {
  if (text.starts_with('+')) {
    const auto delay = parse_duration(text.substr(1));
    if (!delay) return std::nullopt;
    return now_epoch_s + static_cast<double>(delay->count()) / 1e9;
  }
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

double epoch_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace iomodels::loadgen
