// The load generator across several instances: HdrHistogram encoding and interval logs (read back by an
// independent implementation, hdr-histogram-js), --segment shares that add up to one instance's load, --start-at,
// and `loadgen merge`, which must add histogram counts rather than average percentiles.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "client/cli.hpp"
#include "client/hdr_log.hpp"
#include "client/load.hpp"
#include "client/merge.hpp"
#include "client/segment.hpp"
#include "tests/loadgen_fixture.hpp"

namespace iomodels::loadgen {
namespace {

using namespace std::chrono_literals;

constexpr double kPercentiles[] = {50, 90, 99, 99.9, 99.99, 100};

// A scratch directory for one test, removed with it.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/loadgen-multihost-XXXXXX";
    path_ = ::mkdtemp(pattern) ? pattern : "";
  }
  ~TempDir() {
    if (!path_.empty()) std::system(("rm -rf '" + path_ + "'").c_str());
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Values from 1 ns to past 60 s, log-uniform, so that every power of two's buckets get some.
Histogram spread_histogram(unsigned seed, int values) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> exponent(0, std::log(80e9));
  Histogram h;
  for (int i = 0; i < values; ++i) h.record(static_cast<std::uint64_t>(std::exp(exponent(random))));
  return h;
}

void expect_same_counts(const Histogram& a, const Histogram& b) {
  ASSERT_EQ(a.count(), b.count());
  EXPECT_TRUE(a.counts() == b.counts());
}

CommandResult run_node_check(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"node", "tests/js/check_hlog.js"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, 30s);
}

// The independent decoder must be installed (make deps does it); a missing one is a failure, not a skip, so that
// CI cannot pass without the check.
#define REQUIRE_JS_DECODER()                                                                                \
  do {                                                                                                     \
    ASSERT_EQ(::access("tests/js/node_modules/hdr-histogram-js/package.json", R_OK), 0)                    \
        << "hdr-histogram-js is not installed in tests/js (make deps runs npm ci there)";                  \
  } while (0)

TEST(HdrEncoding, RoundTripsEveryBucketAndHugeCounts) {
  Histogram h = spread_histogram(1, 20000);
  // Counts that need every byte of the 9-byte varint, and runs of zeros of every length.
  h.record_n(3, 1ULL << 40);
  h.record_n(1'000'000, (1ULL << 62) / 3);
  h.record_n(Histogram::kHighestTrackable, 7);
  Histogram decoded;
  decode_compressed_base64(encode_compressed_base64(h), decoded);
  expect_same_counts(h, decoded);
  for (double p : {50.0, 99.0, 99.9}) EXPECT_EQ(h.value_at_percentile(p), decoded.value_at_percentile(p)) << p;
}

TEST(HdrEncoding, EmptyHistogramEncodesAndDecodes) {
  Histogram decoded;
  decode_compressed_base64(encode_compressed_base64(Histogram()), decoded);
  EXPECT_EQ(decoded.count(), 0U);
}

TEST(HdrEncoding, KnownHeaderAndCookie) {
  Histogram h;
  h.record(1000);
  const std::vector<std::uint8_t> plain = encode_histogram(h);
  ASSERT_GE(plain.size(), 40U);
  // The V2 cookie with the ZigZag flag, digits 3, lowest 1, highest 60e9, ratio 1.0 (IEEE 754 0x3ff0...).
  EXPECT_EQ(plain[0], 0x1c);
  EXPECT_EQ(plain[1], 0x84);
  EXPECT_EQ(plain[2], 0x93);
  EXPECT_EQ(plain[3], 0x13);
  EXPECT_EQ(plain[15], 3);
  EXPECT_EQ(plain[23], 1);
  std::uint64_t highest = 0;
  for (int i = 24; i < 32; ++i) highest = (highest << 8) | plain[static_cast<std::size_t>(i)];
  EXPECT_EQ(highest, Histogram::kHighestTrackable);
  EXPECT_EQ(plain[32], 0x3f);
  EXPECT_EQ(plain[33], 0xf0);
  // Index 1000 (exact below 2048): a run of 1000 zeros (zigzag 1999, two bytes), then the count 1 (zigzag 2).
  const std::vector<std::uint8_t> payload(plain.begin() + 40, plain.end());
  EXPECT_EQ(payload, (std::vector<std::uint8_t>{0xcf, 0x0f, 0x02}));
  const std::string text = encode_compressed_base64(h);
  EXPECT_TRUE(text.starts_with("HISTFAAA")) << text;  // 0x1c849314, as every V2 compressed histogram begins
}

TEST(HdrEncoding, RejectsGarbageWithAReason) {
  Histogram h;
  EXPECT_THROW(decode_compressed_base64("not base64!", h), std::runtime_error);
  EXPECT_THROW(decode_compressed_base64("AAAAAAAAAAA=", h), std::runtime_error);
  std::string text = encode_compressed_base64(spread_histogram(2, 100));
  text[20] = text[20] == 'A' ? 'B' : 'A';  // inside the zlib stream
  EXPECT_THROW(decode_compressed_base64(text, h), std::runtime_error);
}

// Our writer, read by hdr-histogram-js: the same counts and percentiles in every interval's sum.
TEST(HdrLog, IndependentDecoderReadsWhatWeWrite) {
  REQUIRE_JS_DECODER();
  TempDir dir;
  Histogram total, service;
  {
    HdrLogWriter writer(dir.file("synthetic.hlog"), 1767225600.25, "[test]");
    for (int i = 0; i < 3; ++i) {
      const Histogram part = spread_histogram(10 + static_cast<unsigned>(i), 5000);
      const Histogram other = spread_histogram(20 + static_cast<unsigned>(i), 700);
      writer.write_interval(i * 1.0, 1.0, part);
      writer.write_interval(i * 1.0, 1.0, other, "service_time");
      total.merge(part);
      service.merge(other);
    }
    writer.close();
  }
  LoadResult result;
  result.latency = total;
  result.service_time = service;
  result.start_time = 1767225600.25;
  std::ofstream(dir.file("expected.json")) << to_json(LoadConfig{}, result).dump();
  const CommandResult check = run_node_check({dir.file("synthetic.hlog"), dir.file("expected.json"), "--intervals", "3"});
  ASSERT_TRUE(check.started) << check.error;
  EXPECT_EQ(loadgen_test::exit_code(check), 0) << check.err << check.out;

  // And a deliberately wrong expectation is caught: the checker can fail.
  result.latency.record(5);
  std::ofstream(dir.file("wrong.json")) << to_json(LoadConfig{}, result).dump();
  const CommandResult wrong = run_node_check({dir.file("synthetic.hlog"), dir.file("wrong.json")});
  EXPECT_EQ(loadgen_test::exit_code(wrong), 1) << wrong.out;
}

TEST(HdrLog, ReadsBackItsOwnIntervals) {
  TempDir dir;
  const Histogram a = spread_histogram(3, 300), b = spread_histogram(4, 400);
  {
    HdrLogWriter writer(dir.file("own.hlog"), 1767225600.0, "");
    writer.write_interval(0, 0.5, a);
    writer.write_interval(0.5, 0.25, b, "service_time");
    writer.close();
  }
  const HdrLog log = read_hdr_log(dir.file("own.hlog"));
  EXPECT_DOUBLE_EQ(log.start_time_s, 1767225600.0);
  EXPECT_DOUBLE_EQ(log.base_time_s, 1767225600.0);
  ASSERT_EQ(log.intervals.size(), 2U);
  EXPECT_EQ(log.intervals[1].tag, "service_time");
  EXPECT_DOUBLE_EQ(log.intervals[1].start_s, 0.5);
  EXPECT_DOUBLE_EQ(log.intervals[1].length_s, 0.25);
  expect_same_counts(log.intervals[0].histogram, a);
  expect_same_counts(log.intervals[1].histogram, b);
}

TEST(Segments, SharesCoverEveryConnectionOnce) {
  for (int connections : {1, 2, 3, 7, 50, 101}) {
    for (int n = 1; n <= std::min(connections, 6); ++n) {
      int next = 0;
      for (int i = 1; i <= n; ++i) {
        const ConnectionRange range = segment_connections(connections, Segment{i, n});
        EXPECT_EQ(range.first, next) << connections << " " << i << "/" << n;
        EXPECT_GE(range.size(), connections / n);
        EXPECT_LE(range.size(), connections / n + 1);
        next = range.last;
      }
      EXPECT_EQ(next, connections);
    }
  }
  EXPECT_FALSE(parse_segment("0/3"));
  EXPECT_FALSE(parse_segment("4/3"));
  EXPECT_FALSE(parse_segment("1/0"));
  EXPECT_FALSE(parse_segment("1-3"));
  EXPECT_FALSE(parse_segment("1/3x"));
  ASSERT_TRUE(parse_segment("2/3"));
  EXPECT_EQ(parse_segment("2/3")->index, 2);
}

// Three open-loop segments started together make the load of one instance: their connections and rates add up
// to the whole, their messages to what the whole rate gives over the window, and merging their JSON results gives
// exactly the histogram of all their messages together.
TEST(Segments, AddUpAndMergeExactly) {
  loadgen_test::RunningServer server(loadgen_test::bin_path("epoll"), {"--threads", "1"});
  if (!server.error().empty()) GTEST_SKIP() << server.error();
  TempDir dir;
  const double start_at = epoch_now() + 0.5;
  std::vector<std::future<LoadResult>> runs;
  std::vector<LoadConfig> configs;
  for (int i = 1; i <= 3; ++i) {
    LoadConfig config = server.config();
    config.connections = 10;
    config.rate = 3000;
    config.duration = 1500ms;
    config.segment = Segment{i, 3};
    config.start_at = start_at;
    configs.push_back(config);
  }
  for (const LoadConfig& config : configs) runs.push_back(std::async(std::launch::async, run_load, config));
  Histogram together;
  std::uint64_t messages = 0;
  int connections = 0;
  double rate = 0;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const LoadResult result = runs[i].get();
    EXPECT_EQ(result.errors(), 0U) << result.first_error;
    EXPECT_NEAR(result.start_time, start_at, 1e-3);
    together.merge(result.latency);
    messages += result.messages;
    connections += result.connections;
    rate += result.target_rate;
    files.push_back(dir.file("segment" + std::to_string(i + 1) + ".json"));
    std::ofstream(files.back()) << to_json(configs[i], result).dump(2);
  }
  EXPECT_EQ(connections, 10);
  EXPECT_DOUBLE_EQ(rate, 3000);
  // 3000/s for 1.5 s, whatever the split. A shared machine may fall behind; the window also counts replies to
  // messages due in the warm-up (0.5 s up to start_at) that came late, but never more than were ever due.
  EXPECT_LE(messages, 6000U);
  EXPECT_GE(messages, 4500U * 8 / 10);

  const MergedResult merged = merge_results(files);
  EXPECT_EQ(merged.result.messages, messages);
  EXPECT_EQ(merged.result.connections, 10);
  EXPECT_DOUBLE_EQ(merged.result.target_rate, 3000);
  EXPECT_NEAR(merged.result.seconds, 1.5, 1e-3);
  expect_same_counts(merged.result.latency, together);
  EXPECT_EQ(merged.result.latency.max(), together.max());
  EXPECT_EQ(merged.result.latency.min(), together.min());
  EXPECT_EQ(merged.result.latency.sum(), together.sum());
  for (double p : kPercentiles) {
    EXPECT_EQ(merged.result.latency.value_at_percentile(p), together.value_at_percentile(p)) << p;
  }
}

// A run's --hdr-log and --json agree, and the independent decoder sees the same messages and percentiles.
TEST(HdrLog, RunLogMatchesItsJsonInAnIndependentDecoder) {
  REQUIRE_JS_DECODER();
  LOADGEN_REQUIRE_BINARY(loadgen_test::bin_path("loadgen"));
  loadgen_test::RunningServer server(loadgen_test::bin_path("epoll"), {"--threads", "1"});
  if (!server.error().empty()) GTEST_SKIP() << server.error();
  TempDir dir;
  const CommandResult run = loadgen_test::run_loadgen(
      {"-q", "-c", "6", "-t", "2", "-R", "2000", "-d", "2s", "--warmup", "200ms", "--hdr-interval", "500ms",
       "--hdr-log", dir.file("run.hlog"), "--json", dir.file("run.json"), server.address()});
  ASSERT_EQ(loadgen_test::exit_code(run), 0) << run.err;
  const CommandResult check = run_node_check({dir.file("run.hlog"), dir.file("run.json"), "--intervals", "4"});
  ASSERT_TRUE(check.started) << check.error;
  EXPECT_EQ(loadgen_test::exit_code(check), 0) << check.err << check.out;

  // The merge of the log alone (our decoder) and of the JSON alone give the same messages and buckets.
  const MergedResult from_log = merge_results({dir.file("run.hlog")});
  const MergedResult from_json = merge_results({dir.file("run.json")});
  EXPECT_GT(from_json.result.messages, 0U);
  EXPECT_EQ(from_log.result.messages, from_json.result.messages);
  expect_same_counts(from_log.result.latency, from_json.result.latency);
  expect_same_counts(from_log.result.service_time, from_json.result.service_time);
}

TEST(StartAt, WarmsUpUntilTheAgreedTime) {
  loadgen_test::RunningServer server(loadgen_test::bin_path("epoll"), {"--threads", "1"});
  if (!server.error().empty()) GTEST_SKIP() << server.error();
  LoadConfig config = server.config();
  config.duration = 300ms;
  config.warmup = 0ms;  // replaced by the time left until start_at
  config.start_at = epoch_now() + 0.8;
  const auto began = std::chrono::steady_clock::now();
  const LoadResult result = run_load(config);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  EXPECT_NEAR(result.start_time, config.start_at, 1e-3);
  EXPECT_GE(took, 1.05);
  EXPECT_GT(result.messages, 0U);
}

TEST(Merge, BinaryPrintsLikeARunAndWritesJson) {
  LOADGEN_REQUIRE_BINARY(loadgen_test::bin_path("loadgen"));
  TempDir dir;
  LoadConfig config;
  config.connections = 4;
  config.port = 7000;
  LoadResult a, b;
  a.latency = spread_histogram(5, 1000);
  b.latency = spread_histogram(6, 3000);
  a.messages = a.latency.count();
  b.messages = b.latency.count();
  a.seconds = b.seconds = 2;
  a.connections = 2;
  b.connections = 2;
  a.timeouts = 3;
  a.first_error = "timeout on connection 1";
  a.connections_opened = b.connections_opened = 2;
  a.connections_open_at_end = 2;
  b.connections_open_at_end = 1;
  b.connections_never_answered = 1;
  std::ofstream(dir.file("a.json")) << to_json(config, a).dump();
  std::ofstream(dir.file("b.json")) << to_json(config, b).dump();
  const CommandResult merged =
      loadgen_test::run_loadgen({"merge", "--json", dir.file("m.json"), dir.file("a.json"), dir.file("b.json")});
  EXPECT_EQ(loadgen_test::exit_code(merged), 1) << merged.err;  // the timeouts are errors, as in a run
  EXPECT_NE(merged.out.find("Latency Distribution"), std::string::npos) << merged.out;
  EXPECT_NE(merged.out.find("4000 messages"), std::string::npos) << merged.out;
  EXPECT_NE(merged.out.find("timeout 3"), std::string::npos) << merged.out;
  EXPECT_NE(merged.out.find("Connections: 4 opened, 3 open at the end, 1 never answered"), std::string::npos)
      << merged.out;
  std::ifstream in(dir.file("m.json"));
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["messages"], 4000);
  EXPECT_EQ(j["errors"]["timeout"], 3);
  EXPECT_EQ(j["connections"], 4);
  EXPECT_EQ(j["connections_open_at_end"], 3);
  Histogram both = a.latency;
  both.merge(b.latency);
  EXPECT_EQ(j["latency_ns"]["p99"], both.value_at_percentile(99));
  EXPECT_EQ(j["latency_ns"]["max"], both.max());
}

struct BadUsage {
  const char* name;
  std::vector<std::string> args;
  const char* named;
};

class MultihostBadUsage : public testing::TestWithParam<BadUsage> {};

TEST_P(MultihostBadUsage, ExitsTwoWithOneLine) {
  LOADGEN_REQUIRE_BINARY(loadgen_test::bin_path("loadgen"));
  loadgen_test::expect_usage_error(GetParam().args, GetParam().named);
}

const std::string kTarget = "127.0.0.1:9";

INSTANTIATE_TEST_SUITE_P(
    Options, MultihostBadUsage,
    testing::Values(BadUsage{"SegmentZero", {"--segment", "0/3", kTarget}, "--segment"},
                    BadUsage{"SegmentPastCount", {"--segment", "4/3", kTarget}, "--segment"},
                    BadUsage{"SegmentOfNone", {"--segment", "1/0", kTarget}, "--segment"},
                    BadUsage{"SegmentNotAFraction", {"--segment", "half", kTarget}, "--segment"},
                    BadUsage{"SegmentWithoutConnections", {"-c", "2", "--segment", "1/3", kTarget}, "--segment"},
                    BadUsage{"StartAtGarbage", {"--start-at", "noon", kTarget}, "--start-at"},
                    BadUsage{"StartAtPast", {"--start-at", "1000000000", kTarget}, "--start-at"},
                    BadUsage{"StartAtFarAway", {"--start-at", "+25h", kTarget}, "--start-at"},
                    BadUsage{"StartAtNextYear", {"--start-at", "99999999999", kTarget}, "--start-at"},
                    BadUsage{"HdrIntervalZero", {"--hdr-interval", "0", kTarget}, "--hdr-interval"},
                    BadUsage{"HdrLogEmpty", {"--hdr-log=", kTarget}, "--hdr-log"},
                    BadUsage{"MergeNothing", {"merge"}, "FILE"},
                    BadUsage{"MergeUnknownOption", {"merge", "--frobnicate", "a.json"}, "frobnicate"}),
    [](const testing::TestParamInfo<BadUsage>& param) { return param.param.name; });

}  // namespace
}  // namespace iomodels::loadgen
