#include "client/segment.hpp"

#include <chrono>

#include "client/option_values.hpp"

namespace iomodels::loadgen {

std::optional<Segment> parse_segment(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  int index = 0;
  int count = 0;
  if (!parse_int(text.substr(0, slash), index) || !parse_int(text.substr(slash + 1), count) || count < 1 ||
      index < 1 || index > count) {
    return std::nullopt;
  }
  return Segment{index, count};
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
  return parse_number(text);
}

double epoch_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace iomodels::loadgen
