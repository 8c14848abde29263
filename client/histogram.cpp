#include "client/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace iomodels::loadgen {
namespace {

// 3 significant digits need 2 * 10^3 distinct sub-buckets per power of two; the next power of two is 2048.
constexpr int kSubBucketBits = 11;
constexpr std::uint64_t kSubBucketCount = 1ULL << kSubBucketBits;
constexpr int kHalfBits = kSubBucketBits - 1;
constexpr std::uint64_t kHalfCount = 1ULL << kHalfBits;

constexpr std::size_t bucket_count() {
  std::size_t buckets = 1;
  for (std::uint64_t untrackable = kSubBucketCount; untrackable <= Histogram::kHighestTrackable; untrackable <<= 1) {
    ++buckets;
  }
  return buckets;
}

// Bucket 0 uses all its sub-buckets; every later bucket only its upper half, the lower half being bucket 0's range
// at twice the resolution. Hence (buckets + 1) halves.
constexpr std::size_t kCountsLength = (bucket_count() + 1) * kHalfCount;

}  // namespace

Histogram::Histogram() : counts_(kCountsLength, 0) {}

std::size_t Histogram::index_of(std::uint64_t value) const {
  const int bucket = (64 - std::countl_zero(value | (kSubBucketCount - 1))) - kSubBucketBits;
  const std::uint64_t sub_bucket = value >> bucket;
  return (static_cast<std::size_t>(bucket + 1) << kHalfBits) + (sub_bucket - kHalfCount);
}

std::uint64_t Histogram::value_at_index(std::size_t index) {
  int bucket = static_cast<int>(index >> kHalfBits) - 1;
  std::uint64_t sub_bucket = (index & (kHalfCount - 1)) + kHalfCount;
  if (bucket < 0) {
    sub_bucket -= kHalfCount;
    bucket = 0;
  }
  return sub_bucket << bucket;
}

std::uint64_t Histogram::highest_equivalent(std::uint64_t value) {
  const int bucket = (64 - std::countl_zero(value | (kSubBucketCount - 1))) - kSubBucketBits;
  const std::uint64_t lowest = (value >> bucket) << bucket;
  return lowest + (1ULL << bucket) - 1;
}

void Histogram::record_n(std::uint64_t ns, std::uint64_t n) {
  if (n == 0) return;
  ns = std::min(ns, kHighestTrackable);
  counts_[index_of(ns)] += n;
  min_ = count_ ? std::min(min_, ns) : ns;
  max_ = std::max(max_, ns);
  count_ += n;
  sum_ += ns * n;
}

bool Histogram::add_at_index(std::size_t index, std::uint64_t n) {
  if (index >= counts_.size()) return false;
  if (n == 0) return true;
  counts_[index] += n;
  const std::uint64_t low = value_at_index(index);
  const std::uint64_t high = std::min(highest_equivalent(low), kHighestTrackable);
  min_ = count_ ? std::min(min_, low) : low;
  max_ = std::max(max_, high);
  count_ += n;
  sum_ += (low + (high - low) / 2) * n;
  return true;
}

void Histogram::set_exact_stats(std::uint64_t min, std::uint64_t max, std::uint64_t sum) {
  if (count_ == 0) return;
  min_ = min;
  max_ = max;
  sum_ = sum;
}

void Histogram::merge(const Histogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = count_ ? std::min(min_, other.min_) : other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

void Histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = min_ = max_ = sum_ = 0;
}

std::uint64_t Histogram::value_at_percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  if (p == 0.0) return min_;
  // The rank of the wanted value, 1-based: the smallest value with at least p% of the values at or below it.
  const auto wanted = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_) - 1e-9)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= wanted) return std::min(highest_equivalent(value_at_index(i)), max_);
  }
  return max_;
}

double Histogram::stddev() const {
  if (count_ == 0) return 0.0;
  const double m = mean();
  double squares = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    // The middle of the bucket stands for every value in it.
    const std::uint64_t low = value_at_index(i);
    const double mid = (static_cast<double>(low) + static_cast<double>(highest_equivalent(low))) / 2.0;
    squares += static_cast<double>(counts_[i]) * (mid - m) * (mid - m);
  }
  return std::sqrt(squares / static_cast<double>(count_));
}

}  // namespace iomodels::loadgen
