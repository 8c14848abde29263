#include "client/hdr_log.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <limits>
#include <stdexcept>

namespace iomodels::loadgen {
namespace {

constexpr std::uint32_t kCookieBase = 0x1c849303;
constexpr std::uint32_t kCompressedCookieBase = 0x1c849304;
// The low bit of the word-size nibble says "ZigZag LEB128 counts"; every V2 writer sets it.
constexpr std::uint32_t kWordSizeFlag = 0x10;
constexpr std::size_t kHeaderBytes = 40;
// HistogramLogWriter divides the max by this before printing it: nanoseconds become milliseconds.
constexpr double kMaxValueUnitRatio = 1e6;

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
void put_u64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
std::uint64_t get_be(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

// ZigZag maps small negative numbers to small unsigned ones; LEB128 then writes 7 bits a byte, low bits first,
// except that the ninth byte carries a full 8 bits (the "LEB128-64b9B" variant), so no value needs a tenth.
void put_varint(std::vector<std::uint8_t>& out, std::int64_t signed_value) {
  std::uint64_t v = (static_cast<std::uint64_t>(signed_value) << 1) ^ static_cast<std::uint64_t>(signed_value >> 63);
  for (int i = 0; i < 8; ++i) {
    if (v < 0x80) {
      out.push_back(static_cast<std::uint8_t>(v));
      return;
    }
    out.push_back(static_cast<std::uint8_t>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

bool get_varint(const std::uint8_t*& p, const std::uint8_t* end, std::int64_t& value) {
  std::uint64_t v = 0;
  int i = 0;
  for (;; ++i) {
    if (p == end) return false;
    const std::uint8_t byte = *p++;
    if (i == 8) {
      v |= static_cast<std::uint64_t>(byte) << 56;
      break;
    }
    v |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) break;
  }
  value = static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
  return true;
}

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::vector<std::uint8_t> inflate_all(const std::uint8_t* data, std::size_t length) {
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) throw std::runtime_error("inflateInit failed");
  std::vector<std::uint8_t> out;
  stream.next_in = const_cast<std::uint8_t*>(data);
  stream.avail_in = static_cast<uInt>(length);
  int status = Z_OK;
  while (status == Z_OK) {
    const std::size_t have = out.size();
    out.resize(have + 64 * 1024);
    stream.next_out = out.data() + have;
    stream.avail_out = 64 * 1024;
    status = inflate(&stream, Z_NO_FLUSH);
    out.resize(out.size() - stream.avail_out);
    if (status == Z_BUF_ERROR && stream.avail_in == 0) break;  // truncated: reported below
  }
  const std::string message = stream.msg ? stream.msg : "";
  inflateEnd(&stream);
  if (status != Z_STREAM_END) {
    throw std::runtime_error("the compressed histogram does not inflate (zlib: " +
                             (message.empty() ? std::to_string(status) : message) + ")");
  }
  return out;
}

void decode_uncompressed(const std::uint8_t* p, std::size_t length, Histogram& into) {
  if (length < kHeaderBytes) throw std::runtime_error("an encoded histogram shorter than its header");
  const auto cookie = static_cast<std::uint32_t>(get_be(p, 4));
  if ((cookie & ~0xf0U) != kCookieBase) throw std::runtime_error("not a V2 HdrHistogram encoding (cookie)");
  const std::uint64_t payload = get_be(p + 4, 4);
  const auto digits = static_cast<int>(get_be(p + 12, 4));
  const std::uint64_t lowest = get_be(p + 16, 8);
  // Only these two fix the bucket layout; the highest trackable value only says how far it goes.
  if (digits != Histogram::kSignificantDigits || lowest != Histogram::kLowestDiscernible) {
    throw std::runtime_error("a histogram of " + std::to_string(digits) + " significant digits from " +
                             std::to_string(lowest) + ", not ours (3 digits from 1 ns)");
  }
  if (payload > length - kHeaderBytes) throw std::runtime_error("an encoded histogram cut short");
  const std::uint8_t* cursor = p + kHeaderBytes;
  const std::uint8_t* end = cursor + payload;
  std::size_t index = 0;
  while (cursor < end) {
    std::int64_t count = 0;
    if (!get_varint(cursor, end, count)) throw std::runtime_error("an encoded histogram ends inside a count");
    if (count < 0) {
      index += static_cast<std::size_t>(-count);
    } else if (!into.add_at_index(index++, static_cast<std::uint64_t>(count))) {
      if (count > 0) throw std::runtime_error("an encoded histogram with values beyond 60 s");
    }
  }
}

std::string format_time(double epoch_s) {
  const auto seconds = static_cast<std::time_t>(epoch_s);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[64];
  // Java's Date.toString() form, which HistogramLogWriter prints: "Tue Dec 01 12:13:10 UTC 2026".
  std::strftime(text, sizeof text, "%a %b %d %H:%M:%S UTC %Y", &tm);
  return text;
}

double number_after(const std::string& line, std::string_view prefix) {
  const std::string rest = line.substr(prefix.size());
  char* end = nullptr;
  const double v = std::strtod(rest.c_str(), &end);
  if (end == rest.c_str()) throw std::runtime_error("no number after " + std::string(prefix));
  return v;
}

}  // namespace

std::string base64_encode(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t chunk = static_cast<std::uint32_t>(bytes[i]) << 16;
    if (n > 1) chunk |= static_cast<std::uint32_t>(bytes[i + 1]) << 8;
    if (n > 2) chunk |= bytes[i + 2];
    out += kBase64[(chunk >> 18) & 63];
    out += kBase64[(chunk >> 12) & 63];
    out += n > 1 ? kBase64[(chunk >> 6) & 63] : '=';
    out += n > 2 ? kBase64[chunk & 63] : '=';
  }
  return out;
}

bool base64_decode(std::string_view text, std::vector<std::uint8_t>& out) {
  out.clear();
  std::uint32_t chunk = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (char ch : text) {
    if (ch == '=') {
      ++padding;
      continue;
    }
    if (padding) return false;  // data after padding
    const char* at = std::strchr(kBase64, ch);
    if (ch == '\0' || at == nullptr) return false;
    chunk = (chunk << 6) | static_cast<std::uint32_t>(at - kBase64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(chunk >> bits));
    }
  }
  return padding <= 2 && (text.size() % 4 == 0 || padding == 0);
}

std::vector<std::uint8_t> encode_histogram(const Histogram& h) {
  const std::vector<std::uint64_t>& counts = h.counts();
  std::size_t limit = counts.size();
  while (limit > 0 && counts[limit - 1] == 0) --limit;  // the counts up to the max's bucket

  std::vector<std::uint8_t> out;
  put_u32(out, kCookieBase | kWordSizeFlag);
  put_u32(out, 0);  // the payload length, filled in below
  put_u32(out, 0);  // normalizing index offset: we never shift
  put_u32(out, static_cast<std::uint32_t>(Histogram::kSignificantDigits));
  put_u64(out, Histogram::kLowestDiscernible);
  put_u64(out, Histogram::kHighestTrackable);
  double ratio = 1.0;
  std::uint64_t ratio_bits = 0;
  std::memcpy(&ratio_bits, &ratio, sizeof ratio);
  put_u64(out, ratio_bits);
  for (std::size_t i = 0; i < limit;) {
    if (counts[i] != 0) {
      put_varint(out, static_cast<std::int64_t>(counts[i++]));
      continue;
    }
    std::size_t zeros = 0;
    while (i < limit && counts[i] == 0) ++zeros, ++i;
    // A single zero is written as 0: "-1" would be no shorter.
    put_varint(out, zeros == 1 ? 0 : -static_cast<std::int64_t>(zeros));
  }
  const auto payload = static_cast<std::uint32_t>(out.size() - kHeaderBytes);
  for (int b = 0; b < 4; ++b) out[4 + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(payload >> (24 - 8 * b));
  return out;
}

std::string encode_compressed_base64(const Histogram& h) {
  const std::vector<std::uint8_t> plain = encode_histogram(h);
  uLongf bound = compressBound(static_cast<uLong>(plain.size()));
  std::vector<std::uint8_t> out(8 + bound);
  // Level 9, as the Java writer (Deflater.BEST_COMPRESSION); compress2 writes the zlib wrapper Java's Deflater does.
  const int status = compress2(out.data() + 8, &bound, plain.data(), static_cast<uLong>(plain.size()), 9);
  if (status != Z_OK) throw std::runtime_error("compress2 failed with zlib status " + std::to_string(status));
  out.resize(8 + bound);
  const std::uint32_t cookie = kCompressedCookieBase | kWordSizeFlag;
  for (int b = 0; b < 4; ++b) {
    out[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(cookie >> (24 - 8 * b));
    out[4 + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(bound >> (24 - 8 * b));
  }
  return base64_encode(out);
}

void decode_compressed_base64(std::string_view text, Histogram& into) {
  std::vector<std::uint8_t> bytes;
  if (!base64_decode(text, bytes)) throw std::runtime_error("a histogram that is not base64");
  if (bytes.size() < 8) throw std::runtime_error("an encoded histogram of " + std::to_string(bytes.size()) + " bytes");
  const auto cookie = static_cast<std::uint32_t>(get_be(bytes.data(), 4));
  if ((cookie & ~0xf0U) == kCookieBase) return decode_uncompressed(bytes.data(), bytes.size(), into);
  if ((cookie & ~0xf0U) != kCompressedCookieBase) throw std::runtime_error("not a V2 HdrHistogram encoding (cookie)");
  const std::uint64_t length = get_be(bytes.data() + 4, 4);
  if (length > bytes.size() - 8) throw std::runtime_error("a compressed histogram cut short");
  const std::vector<std::uint8_t> plain = inflate_all(bytes.data() + 8, length);
  decode_uncompressed(plain.data(), plain.size(), into);
}

HdrLog read_hdr_log(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": " + std::strerror(errno));
  HdrLog log;
  bool have_base = false;
  std::string line;
  int number = 0;
  try {
    while (std::getline(in, line)) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.starts_with("#[StartTime: ")) {
        log.start_time_s = number_after(line, "#[StartTime: ");
      } else if (line.starts_with("#[BaseTime: ")) {
        log.base_time_s = number_after(line, "#[BaseTime: ");
        have_base = true;
      } else if (line.empty() || line.starts_with("#") || line.starts_with("\"")) {
        continue;
      } else {
        HdrLogInterval interval;
        std::string_view rest = line;
        if (rest.starts_with("Tag=")) {
          const auto comma = rest.find(',');
          if (comma == std::string_view::npos) throw std::runtime_error("a tag and nothing else");
          interval.tag = std::string(rest.substr(4, comma - 4));
          rest.remove_prefix(comma + 1);
        }
        double fields[3];
        for (double& field : fields) {
          const auto comma = rest.find(',');
          if (comma == std::string_view::npos) throw std::runtime_error("fewer than 4 columns");
          const std::string text(rest.substr(0, comma));
          char* end = nullptr;
          field = std::strtod(text.c_str(), &end);
          if (text.empty() || *end != '\0') throw std::runtime_error("'" + text + "' is not a number");
          rest.remove_prefix(comma + 1);
        }
        interval.start_s = fields[0];
        interval.length_s = fields[1];
        interval.max = fields[2];
        decode_compressed_base64(rest, interval.histogram);
        log.intervals.push_back(std::move(interval));
      }
    }
  } catch (const std::runtime_error& bad) {
    throw std::runtime_error(path + ":" + std::to_string(number) + ": " + bad.what());
  }
  // Without a BaseTime, HdrHistogram's readers take timestamps more than a year before StartTime as relative to it.
  if (!have_base && !log.intervals.empty() &&
      log.intervals.front().start_s < log.start_time_s - 365 * 24 * 3600.0) {
    log.base_time_s = log.start_time_s;
  }
  return log;
}

HdrLogWriter::HdrLogWriter(const std::string& path, double start_time_s, const std::string& comment)
    : file_(std::fopen(path.c_str(), "w")), path_(path) {
  if (!file_) throw std::runtime_error("--hdr-log: cannot create " + path + ": " + std::strerror(errno));
  if (!comment.empty()) std::fprintf(file_, "#%s\n", comment.c_str());
  std::fprintf(file_, "#[Histogram log format version 1.3]\n");
  std::fprintf(file_, "#[StartTime: %.3f (seconds since epoch), %s]\n", start_time_s, format_time(start_time_s).c_str());
  std::fprintf(file_, "#[BaseTime: %.3f (seconds since epoch)]\n", start_time_s);
  std::fprintf(file_, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n");
}

HdrLogWriter::~HdrLogWriter() {
  if (file_) std::fclose(file_);
}

void HdrLogWriter::write_interval(double start_s, double length_s, const Histogram& h, const std::string& tag) {
  if (!file_) return;
  const std::string encoded = encode_compressed_base64(h);
  const double max = static_cast<double>(h.max()) / kMaxValueUnitRatio;
  const int written = tag.empty()
                          ? std::fprintf(file_, "%.3f,%.3f,%.3f,%s\n", start_s, length_s, max, encoded.c_str())
                          : std::fprintf(file_, "Tag=%s,%.3f,%.3f,%.3f,%s\n", tag.c_str(), start_s, length_s, max,
                                         encoded.c_str());
  if (written < 0) failed_ = true;
}

void HdrLogWriter::close() {
  if (!file_) return;
  const bool flushed = std::fflush(file_) == 0;
  const int saved = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (failed_ || !flushed || !closed) {
    throw std::runtime_error("--hdr-log: cannot write " + path_ + ": " + std::strerror(flushed ? errno : saved));
  }
}

IntervalLog::IntervalLog(const std::string& path, std::int64_t interval_ns, std::int64_t measure_start,
                         std::int64_t end, double start_time_s, bool service_time, int workers,
                         const std::string& comment)
    : writer_(path, start_time_s, comment),
      interval_ns_(interval_ns),
      measure_start_(measure_start),
      end_(end),
      interval_total_((end - measure_start + interval_ns - 1) / interval_ns),
      service_time_(service_time),
      watermark_(static_cast<std::size_t>(workers), 0) {}

int IntervalLog::join() {
  std::lock_guard lock(mutex_);
  return joined_++;
}

void IntervalLog::deliver(int worker, std::int64_t index, Histogram&& latency, Histogram&& service_time,
                          std::int64_t recording) {
  std::lock_guard lock(mutex_);
  if (latency.count() > 0) {
    auto [slot, fresh] = pending_.try_emplace(index);
    if (fresh) {
      slot->second.latency = std::move(latency);
      slot->second.service_time = std::move(service_time);
    } else {
      slot->second.latency.merge(latency);
      slot->second.service_time.merge(service_time);
    }
  }
  watermark_[static_cast<std::size_t>(worker)] = std::max(watermark_[static_cast<std::size_t>(worker)], recording);
  write_ready_locked(*std::min_element(watermark_.begin(), watermark_.end()));
}

void IntervalLog::worker_done(int worker) {
  std::lock_guard lock(mutex_);
  watermark_[static_cast<std::size_t>(worker)] = interval_total_;
  write_ready_locked(*std::min_element(watermark_.begin(), watermark_.end()));
}

void IntervalLog::write_ready_locked(std::int64_t below) {
  const Histogram empty;
  for (; next_to_write_ < std::min(below, interval_total_); ++next_to_write_) {
    const std::int64_t from = static_cast<std::int64_t>(next_to_write_) * interval_ns_;
    const std::int64_t to = std::min(from + interval_ns_, end_ - measure_start_);
    const double start_s = static_cast<double>(from) / 1e9;
    const double length_s = static_cast<double>(to - from) / 1e9;
    const auto it = pending_.find(next_to_write_);
    writer_.write_interval(start_s, length_s, it == pending_.end() ? empty : it->second.latency);
    if (service_time_) {
      writer_.write_interval(start_s, length_s, it == pending_.end() ? empty : it->second.service_time,
                             "service_time");
    }
    if (it != pending_.end()) pending_.erase(it);
  }
}

void IntervalLog::close() {
  std::lock_guard lock(mutex_);
  write_ready_locked(interval_total_);
  writer_.close();
}

IntervalRecorder::IntervalRecorder(IntervalLog* log) : log_(log) {
  if (!log_) {
    next_boundary_ = std::numeric_limits<std::int64_t>::max();
    return;
  }
  slot_ = log_->join();
  next_boundary_ = log_->measure_start() + log_->interval_ns();
  latency_ = std::make_unique<Histogram>();
  service_time_ = std::make_unique<Histogram>();
}

void IntervalRecorder::roll(std::int64_t now) {
  const std::int64_t index = (now - log_->measure_start()) / log_->interval_ns();
  log_->deliver(slot_, index_, std::move(*latency_), std::move(*service_time_), index);
  latency_ = std::make_unique<Histogram>();
  service_time_ = std::make_unique<Histogram>();
  index_ = index;
  next_boundary_ = log_->measure_start() + (index + 1) * log_->interval_ns();
}

void IntervalRecorder::finish() {
  if (!log_) return;
  log_->deliver(slot_, index_, std::move(*latency_), std::move(*service_time_), index_ + 1);
  log_->worker_done(slot_);
  log_ = nullptr;
}

}  // namespace iomodels::loadgen
