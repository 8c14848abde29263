// Execution segments, as k6 splits one test over several load generators: instance I of N (1-based) runs the
// connections [floor(C*(I-1)/N), floor(C*I/N)) of the C that one instance would run, with the same per-connection
// schedule (an open loop keeps each connection's interval and phase), so the N instances together send exactly
// the messages one instance would, at the same moments, and its --rate is split in proportion to the connections.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace iomodels::loadgen {

struct Segment {
  int index = 1;  // 1..count
  int count = 1;
  bool whole() const { return count == 1; }
};

// "2/3". Empty when the text is not I/N with 1 <= I <= N.
std::optional<Segment> parse_segment(std::string_view text);

// The connection ids [first, last) that `segment` runs out of `connections`.
struct ConnectionRange {
  int first = 0;
  int last = 0;
  int size() const { return last - first; }
};
ConnectionRange segment_connections(int connections, Segment segment);

// "--start-at" values: an epoch second, fractions allowed ("1767225600.5"), or "+T" for a duration from now
// ("+5s"), which is convenient by hand but useless across hosts. Empty when the text is neither.
std::optional<double> parse_start_at(std::string_view text, double now_epoch_s);

// The wall clock, in seconds since the epoch.
double epoch_now();

}  // namespace iomodels::loadgen
