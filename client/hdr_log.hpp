// HdrHistogram's interchange formats for our latency histograms: the V2 compressed encoding (base64 text), and the
// interval log (.hlog) that HdrHistogram's HistogramLogWriter writes and its readers (Java, C, JS, Go, Rust) parse.
//
// Histogram (client/histogram.hpp) already has HdrHistogram's bucket layout for lowestDiscernibleValue 1,
// highestTrackableValue 60 s and 3 significant digits, values in nanoseconds; its counts array index for index is
// the one HdrHistogram uses, so the encoding is the counts array as it stands.
//
// The V2 encoding, all integers big-endian:
//   int32 cookie 0x1c849313 | int32 payload length | int32 normalizing index offset (0) | int32 significant digits
//   | int64 lowest discernible value | int64 highest trackable value | float64 integer-to-double ratio (1.0)
//   | payload: the counts from index 0 to the index of the max, each a ZigZag LEB128 varint (at most 9 bytes, the
//     ninth carrying 8 bits), a run of two or more zero counts written as one negative number (minus its length).
// Compressed: int32 cookie 0x1c849314 | int32 length of what follows | zlib stream (RFC 1950) of the above.
//
// The log: comment lines starting with '#', a legend line, then one line per interval:
//   [Tag=NAME,]START,LENGTH,MAX,BASE64
// START is seconds since the BaseTime (we log BaseTime = StartTime, the start of the measured window), LENGTH the
// interval's length in seconds, MAX the interval's max divided by 10^6 (milliseconds for nanosecond values, the
// Java writer's default ratio), all with three decimals.
#pragma once
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "client/histogram.hpp"

namespace iomodels::loadgen {

std::string base64_encode(const std::vector<std::uint8_t>& bytes);
// Empty optional-like result: returns false when the text is not base64.
bool base64_decode(std::string_view text, std::vector<std::uint8_t>& out);

// The V2 encoding, uncompressed and compressed (the form logs and our JSON carry, base64).
std::vector<std::uint8_t> encode_histogram(const Histogram& h);
std::string encode_compressed_base64(const Histogram& h);
// Adds the counts of an encoded histogram (compressed or not, base64) to `into`. Throws std::runtime_error naming
// what is wrong: not base64, a bad cookie, a zlib error, a layout other than ours.
void decode_compressed_base64(std::string_view text, Histogram& into);

// One interval line of a log.
struct HdrLogInterval {
  std::string tag;  // empty: untagged
  double start_s = 0;
  double length_s = 0;
  double max = 0;  // as written: the max / 10^6
  Histogram histogram;
};

struct HdrLog {
  double start_time_s = 0;  // #[StartTime: ...], seconds since the epoch; 0 when absent
  double base_time_s = 0;   // #[BaseTime: ...]; START columns are relative to it
  std::vector<HdrLogInterval> intervals;
};

// Reads a whole log. Throws std::runtime_error with the file name and line number of the first bad line.
HdrLog read_hdr_log(const std::string& path);

// Writes a log the way HistogramLogWriter does: its header lines, then interval lines as they are given.
class HdrLogWriter {
 public:
  // Opens (truncates) `path`; throws std::runtime_error with the errno text when it cannot.
  HdrLogWriter(const std::string& path, double start_time_s, const std::string& comment);
  ~HdrLogWriter();
  HdrLogWriter(const HdrLogWriter&) = delete;
  HdrLogWriter& operator=(const HdrLogWriter&) = delete;

  void write_interval(double start_s, double length_s, const Histogram& h, const std::string& tag = "");
  // Flushes and closes; throws std::runtime_error when anything could not be written (a full disk).
  void close();

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
  bool failed_ = false;
};

// The interval log of one run: workers hand in their interval histograms (IntervalRecorder), and each interval is
// written once every worker has moved past it, so the log grows while the run goes on and memory stays bounded.
class IntervalLog {
 public:
  // Intervals of `interval_ns` from `measure_start` (a now_ns() time) to `end`; `start_time_s` is the wall-clock
  // time of measure_start. `service_time` adds a Tag=service_time line per interval (open loop).
  IntervalLog(const std::string& path, std::int64_t interval_ns, std::int64_t measure_start, std::int64_t end,
              double start_time_s, bool service_time, int workers, const std::string& comment);

  std::int64_t interval_ns() const { return interval_ns_; }
  std::int64_t measure_start() const { return measure_start_; }
  int join();  // a worker's slot, 0..workers-1
  // Interval `index` of one worker, which now records interval `recording` (> index; intervals between had none).
  void deliver(int worker, std::int64_t index, Histogram&& latency, Histogram&& service_time,
               std::int64_t recording);
  void worker_done(int worker);
  // Writes what is left (every interval, empty ones too, up to the end of the window) and closes the file.
  void close();

 private:
  void write_ready_locked(std::int64_t below);

  std::mutex mutex_;
  HdrLogWriter writer_;
  std::int64_t interval_ns_;
  std::int64_t measure_start_;
  std::int64_t end_;
  std::int64_t interval_total_;
  bool service_time_;
  int joined_ = 0;
  std::vector<std::int64_t> watermark_;  // per worker: the interval it is still recording
  std::int64_t next_to_write_ = 0;
  struct Pending {
    Histogram latency, service_time;
  };
  std::map<std::int64_t, Pending> pending_;
};

// One worker's current interval. record() is on the hot path: a comparison, and two histogram increments.
class IntervalRecorder {
 public:
  explicit IntervalRecorder(IntervalLog* log);
  bool active() const { return log_ != nullptr; }
  void record(std::int64_t now, std::uint64_t latency_ns, std::uint64_t service_ns) {
    if (now >= next_boundary_) roll(now);
    latency_->record(latency_ns);
    service_time_->record(service_ns);
  }
  void finish();

 private:
  void roll(std::int64_t now);

  IntervalLog* log_;
  int slot_ = 0;
  std::int64_t index_ = 0;
  std::int64_t next_boundary_ = 0;
  // Allocated only when logging: a histogram is some 220 KB.
  std::unique_ptr<Histogram> latency_, service_time_;
};

}  // namespace iomodels::loadgen
