// The load generator's latency histogram, on synthetic data whose percentiles are known exactly.
#include <gtest/gtest.h>

#include <cmath>

#include "client/histogram.hpp"

namespace iomodels::loadgen {
namespace {

// 3 significant digits: a value is known to within 1/1024 of itself.
void expect_close(std::uint64_t actual, double expected) {
  EXPECT_LE(std::fabs(static_cast<double>(actual) - expected), expected / 1000.0 + 1)
      << "got " << actual << ", expected " << expected;
}

TEST(LoadgenHistogram, EmptyAnswersZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.value_at_percentile(50), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(LoadgenHistogram, SmallValuesAreExact) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 1000; ++v) h.record(v);
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_EQ(h.value_at_percentile(50), 500u);
  EXPECT_EQ(h.value_at_percentile(90), 900u);
  EXPECT_EQ(h.value_at_percentile(99), 990u);
  EXPECT_EQ(h.value_at_percentile(100), 1000u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 1000u);
  EXPECT_DOUBLE_EQ(h.mean(), 500.5);
}

TEST(LoadgenHistogram, UniformMicrosecondsToOneHundredMilliseconds) {
  Histogram h;
  for (std::uint64_t us = 1; us <= 100'000; ++us) h.record(us * 1000);
  expect_close(h.value_at_percentile(50), 50'000'000);
  expect_close(h.value_at_percentile(90), 90'000'000);
  expect_close(h.value_at_percentile(99), 99'000'000);
  expect_close(h.value_at_percentile(99.9), 99'900'000);
  expect_close(h.value_at_percentile(99.99), 99'990'000);
  EXPECT_EQ(h.max(), 100'000'000u);
  EXPECT_NEAR(h.mean(), 50'000'500.0, 1.0);
  // The standard deviation of a uniform distribution of width w is w / sqrt(12).
  EXPECT_NEAR(h.stddev(), 1e8 / std::sqrt(12.0), 1e8 / std::sqrt(12.0) / 1000);
}

TEST(LoadgenHistogram, BimodalTailIsFoundAtItsRank) {
  Histogram h;
  h.record_n(100'000, 9'900);      // 99% at 100 us
  h.record_n(10'000'000, 90);      // 0.9% at 10 ms
  h.record_n(2'000'000'000, 10);   // 0.1% at 2 s
  expect_close(h.value_at_percentile(50), 100'000);
  expect_close(h.value_at_percentile(99), 100'000);
  expect_close(h.value_at_percentile(99.5), 10'000'000);
  expect_close(h.value_at_percentile(99.9), 10'000'000);
  expect_close(h.value_at_percentile(99.99), 2'000'000'000);
  EXPECT_EQ(h.max(), 2'000'000'000u);
}

TEST(LoadgenHistogram, MergeEqualsRecordingInOne) {
  Histogram a, b, both;
  for (std::uint64_t v = 1; v <= 50'000; ++v) {
    (v % 3 ? a : b).record(v * 37);
    both.record(v * 37);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), both.count());
  EXPECT_EQ(a.min(), both.min());
  EXPECT_EQ(a.max(), both.max());
  EXPECT_DOUBLE_EQ(a.mean(), both.mean());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
    EXPECT_EQ(a.value_at_percentile(p), both.value_at_percentile(p)) << "p" << p;
  }
}

TEST(LoadgenHistogram, ValuesAboveSixtySecondsAreClamped) {
  Histogram h;
  h.record(3'600'000'000'000ULL);
  EXPECT_EQ(h.max(), Histogram::kHighestTrackable);
  expect_close(h.value_at_percentile(50), 60e9);
}

TEST(LoadgenHistogram, ResetEmptiesIt) {
  Histogram h;
  h.record(5);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.value_at_percentile(99), 0u);
}

}  // namespace
}  // namespace iomodels::loadgen
