// A high-dynamic-range latency histogram: log-linear buckets that keep 3 significant digits from 1 ns to 60 s.
//
// Values (nanoseconds) fall in buckets whose width doubles every power of two, and each power of two is split into
// 1024 equal sub-buckets, so any recorded value is known to within 1/1024 of itself (better than 0.1%):
//
//   [0, 2048)        width 1 ns      (bucket 0 covers its whole 2048 sub-buckets)
//   [2048, 4096)     width 2 ns
//   [4096, 8192)     width 4 ns      ... and so on up to 2^36 ns (68.7 s).
//
// Recording is an index computation and an increment: cheap enough for every message on the hot path.
#pragma once
#include <cstdint>
#include <vector>

namespace iomodels::loadgen {

class Histogram {
 public:
  // Values above this are recorded as this.
  static constexpr std::uint64_t kHighestTrackable = 60'000'000'000ULL;
  // The same layout in HdrHistogram's terms (its lowestDiscernibleValue, highestTrackableValue and
  // numberOfSignificantValueDigits), which an encoded histogram carries so that other implementations rebuild it.
  static constexpr std::uint64_t kLowestDiscernible = 1;
  static constexpr int kSignificantDigits = 3;

  Histogram();

  void record(std::uint64_t ns) { record_n(ns, 1); }
  void record_n(std::uint64_t ns, std::uint64_t n);
  void merge(const Histogram& other);
  void reset();

  // The value at or below which p percent of the recorded values lie (p in [0, 100]); 0 when empty.
  // Like HdrHistogram it answers the highest value equivalent to the bucket reached, capped at max().
  std::uint64_t value_at_percentile(double p) const;
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  std::uint64_t count() const { return count_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  double stddev() const;
  std::uint64_t sum() const { return sum_; }

  // The bucket counts, for encoding (client/hdr_log.*); index i holds the values from value_at_index(i) to
  // highest_equivalent(value_at_index(i)).
  const std::vector<std::uint64_t>& counts() const { return counts_; }
  std::size_t index_of(std::uint64_t value) const;
  static std::uint64_t value_at_index(std::size_t index);
  static std::uint64_t highest_equivalent(std::uint64_t value);
  // Adds n values to bucket `index`, as a decoder does: min, max and sum can then only be known to within the
  // bucket (min its lowest value, max its highest, the sum from its middle), as in HdrHistogram.
  // Returns false when the index is outside the layout.
  bool add_at_index(std::size_t index, std::uint64_t n);
  // Replaces min, max and sum with exact figures kept beside an encoding (a JSON result carries them).
  void set_exact_stats(std::uint64_t min, std::uint64_t max, std::uint64_t sum);

 private:

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = 0;
  std::uint64_t max_ = 0;
  // 2^64 ns is 584 years of summed latency: a run cannot overflow it.
  std::uint64_t sum_ = 0;
};

}  // namespace iomodels::loadgen
