// libFuzzer harness for the protocol Session (common/session.*, common/http_exchange.*): every server runs this
// code on bytes from the network, so it is where hostile input lands first.
//
// Input: an 8-byte header, then the bytes a peer sends (the payload).
//   byte 0  bits 0-1 mode (0 auto, 1 echo, 2 http, 3 auto), bit 2 half-close after the payload,
//           bit 3 a small --max-body (64 bytes, so 413 is reachable with short inputs), bits 4-6 equal to 5: repeat
//   byte 1  when repeating: the payload is sent (byte1 + 1) * 64 times over, capped at kMaxRawStream (raw echo) or
//           kMaxHttpStream (anything that may be HTTP, whose responses outgrow the requests), so that the
//           backpressure bound can be crossed although libFuzzer's inputs are small. Such long streams cost a
//           thousand short inputs each, hence one flag value in eight, and they are cut into at most about
//           kMaxPieces reads
//   bytes 2-7  seed of the splits: how the payload is cut into reads, which reads go through read_buffer() and
//           which through receive(), and how much output is drained when
// Each input is driven twice: once as the reference (large reads, everything drained at once) and once split as
// the seed says. The invariants, checked on every input (a violation aborts with a message, which libFuzzer
// reports as a crash):
//   - the same bytes split differently give the same output, byte for byte, and end in the same state;
//   - raw echo returns exactly its input;
//   - pending output never exceeds the backpressure bound (kPendingBound below), a raw read never offers more room
//     than the bound leaves, and an input-refusing session has output or is finished;
//   - every HTTP response is well formed, has an allowed status, a body within the protocol's limits, and an error
//     response is the last thing sent;
//   - after a half-close and a full drain the session is done.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "common/limits.hpp"
#include "common/session.hpp"

namespace {

using iomodels::Mode;
using iomodels::Session;
using iomodels::SessionConfig;

constexpr std::size_t kHeaderBytes = 8;
constexpr std::size_t kSmallMaxBody = 64;
constexpr std::size_t kMaxRawStream = 3 << 19;
constexpr std::size_t kMaxHttpStream = 384 << 10;
constexpr std::size_t kMaxPieces = 4096;
// Per request, what a response may add beyond the bytes received: the head (at most ~110 bytes with
// "Connection: keep-alive"), a "100 Continue" (25 bytes), or an error response (~120 bytes).
constexpr std::size_t kMaxResponseOverhead = 256;

[[noreturn]] void violated(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "invariant violated: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
  std::abort();
}

void check(bool condition, const char* what, const std::string& detail = {}) {
  if (!condition) violated(what, detail);
}

// splitmix64: the split decisions, reproducible from the seed in the input.
class Splits {
 public:
  // grain: the smallest piece, so that a long stream is not cut into millions of reads.
  Splits(std::uint64_t seed, std::size_t grain) : state_(seed), grain_(grain) { fine_ = next() % 4 == 0; }
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // A size in grain..max. One input in four is cut finely (byte by byte, a few bytes, sometimes large), the
  // others at random points (a few reads per input), which keeps the fuzzer fast on long inputs.
  std::size_t size(std::size_t max) {
    if (max <= grain_) return max;
    if (!fine_) return grain_ + next() % (max - grain_ + 1);
    switch (next() % 4) {
      case 0: return grain_;
      case 1: return grain_ + next() % std::min<std::size_t>(max - grain_ + 1, 16);
      case 2: return grain_ + next() % (max - grain_ + 1);
      default: return max;
    }
  }
  bool coin() { return next() & 1; }

 private:
  std::uint64_t state_;
  std::size_t grain_;
  bool fine_ = false;
};

struct Config {
  SessionConfig session;
  bool half_close = false;
};

// The largest pending output the session may hold: the backpressure bound, plus what the one read that crossed
// it may add. In raw echo a read never crosses it (read_buffer() offers only the room left). In HTTP the read that
// crosses it may complete requests: their responses (at most the bytes of that read plus an overhead per request,
// one request per 16 bytes at the least) and the one chunked body the read completes (up to --max-body, decoded
// bodies are held until their size is known), or a target held from earlier reads (under the 8 KiB head limit).
std::size_t pending_bound(const Config& config) {
  const std::size_t read = iomodels::kReadChunk;
  return iomodels::kMaxPendingOutput + read + (read / 16 + 1) * kMaxResponseOverhead +
         std::max(config.session.max_body, iomodels::kMaxHeaderBytes);
}

struct Outcome {
  std::string output;
  std::size_t consumed = 0;  // payload bytes the session took before it refused more (closing)
  Mode mode = Mode::kAuto;
  bool done = false;
  bool wants_input = false;
};

void drain(Session& session, std::string& out, std::size_t n) {
  const auto pending = session.pending_output();
  n = std::min(n, pending.size());
  out.append(pending.data(), n);
  session.consume_output(n);
}

// reference: large reads, everything drained whenever the session stops reading. Otherwise, cut as splits says.
// result is reused across inputs, so that its output keeps its capacity.
void drive(const Config& config, std::string_view stream, Splits* splits, Outcome& result) {
  Session session(config.session);
  result.output.clear();
  const std::size_t bound = pending_bound(config);
  std::size_t fed = 0;
  while (fed < stream.size()) {
    const std::size_t pending = session.pending_output().size();
    check(pending <= bound, "pending output over the backpressure bound",
          std::to_string(pending) + " > " + std::to_string(bound));
    if (!session.wants_input()) {
      // Refusing input is allowed only while output is owed (backpressure) or once the session is finishing.
      if (!session.has_output()) break;
      drain(session, result.output, splits != nullptr ? splits->size(pending) : pending);
      continue;
    }
    const std::size_t left = stream.size() - fed;
    std::size_t n = 0;
    if (splits == nullptr || splits->coin()) {
      const std::size_t want = splits != nullptr ? splits->size(left) : left;
      const std::span<char> room = session.read_buffer();
      check(!room.empty(), "read_buffer() empty while wants_input()");
      if (session.mode() != Mode::kHttp) {
        check(room.size() <= iomodels::kMaxPendingOutput - session.pending_output().size(),
              "raw read_buffer() offers more than the room under the backpressure bound");
      }
      n = std::min(want, room.size());
      std::memcpy(room.data(), stream.data() + fed, n);
      session.commit_read(n);
      // A read that finds nothing next (EAGAIN) gives its buffer back; it must not lose or change anything.
      if (splits != nullptr && splits->coin()) session.release_read_buffer();
    } else {
      // receive() copies a model's own buffer in; models hand it at most one read's worth.
      n = std::min(splits->size(left), iomodels::kReadChunk);
      session.receive({stream.data() + fed, n});
    }
    fed += n;
    if (splits != nullptr && splits->coin()) {
      drain(session, result.output, splits->size(session.pending_output().size() + 1));
    }
  }
  result.consumed = fed;
  if (config.half_close) session.receive_eof();
  while (session.has_output()) {
    const std::size_t pending = session.pending_output().size();
    check(pending <= bound, "pending output over the backpressure bound after the input");
    drain(session, result.output, splits != nullptr ? splits->size(pending) : pending);
  }
  check(session.pending_output().empty(), "pending_output() not empty without has_output()");
  result.mode = session.mode();
  result.done = session.done();
  result.wants_input = session.wants_input();
  if (config.half_close) check(result.done, "not done after a half-close and a full drain");
}

std::size_t parse_size(std::string_view digits, bool* ok) {
  std::size_t value = 0;
  *ok = !digits.empty() && digits.size() <= 9;
  for (char c : digits) {
    if (c < '0' || c > '9') *ok = false;
    value = value * 10 + static_cast<std::size_t>(c - '0');
  }
  return value;
}

// Walks the responses of an HTTP session. HEAD responses carry a Content-Length but no body, which the output
// alone cannot tell apart, so a stream with "HEAD " in it is checked only for its first status line.
void check_http_output(const Config& config, std::string_view stream, std::string_view output) {
  if (output.empty()) return;
  check(output.starts_with("HTTP/1.1 "), "HTTP output does not begin with a status line");
  if (stream.find("HEAD ") != std::string_view::npos) return;
  const std::size_t max_200_body = std::max(config.session.max_body, iomodels::kMaxHeaderBytes);
  while (!output.empty()) {
    const auto end = output.find("\r\n\r\n");
    check(end != std::string_view::npos, "HTTP response head without its end");
    const std::string_view head = output.substr(0, end + 2);
    output.remove_prefix(end + 4);
    check(head.size() > 12 && head.starts_with("HTTP/1.1 "), "malformed status line", std::string(head.substr(0, 40)));
    const std::string_view code = head.substr(9, 3);
    if (code == "100") {
      check(head == "HTTP/1.1 100 Continue\r\n", "malformed 100 Continue");
      continue;
    }
    const bool ok = code == "200";
    check(ok || code == "400" || code == "413" || code == "431" || code == "501", "status outside the protocol",
          std::string(code));
    const auto at = head.find("\r\nContent-Length: ");
    check(at != std::string_view::npos, "response without Content-Length");
    const auto value_end = head.find("\r\n", at + 18);
    bool valid = false;
    const std::size_t length = parse_size(head.substr(at + 18, value_end - at - 18), &valid);
    check(valid, "bad Content-Length in a response");
    // A 200's head goes out before a Content-Length body has all arrived: only the last one may be cut short.
    if (length > output.size()) {
      check(ok, "error response shorter than its Content-Length");
      break;
    }
    check(!ok || length <= max_200_body, "200 body over the protocol's limits", std::to_string(length));
    output.remove_prefix(length);
    if (!ok) {
      check(head.find("\r\nConnection: close\r\n") != std::string_view::npos, "error response without Connection: close");
      check(output.empty(), "bytes sent after an error response");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < kHeaderBytes) return 0;
  Config config;
  const std::uint8_t flags = data[0];
  switch (flags & 3) {
    case 1: config.session.mode = Mode::kEcho; break;
    case 2: config.session.mode = Mode::kHttp; break;
    default: config.session.mode = Mode::kAuto; break;
  }
  config.half_close = flags & 4;
  config.session.max_body = (flags & 8) ? kSmallMaxBody : iomodels::kDefaultMaxBody;
  std::uint64_t seed = 0;
  for (std::size_t i = 2; i < kHeaderBytes; ++i) seed = seed << 8 | data[i];
  const std::string_view payload(reinterpret_cast<const char*>(data) + kHeaderBytes, size - kHeaderBytes);

  // Kept across inputs (cleared, not freed): fresh megabytes per input would cost more page faults than the
  // session's own work.
  static std::string stream;
  stream.assign(payload);
  if (!payload.empty() && ((flags >> 4) & 7) == 5) {
    const bool raw = config.session.mode == Mode::kEcho || (config.session.mode == Mode::kAuto &&
                                                            (payload[0] < 'A' || payload[0] > 'Z'));
    const std::size_t repeat = (static_cast<std::size_t>(data[1]) + 1) * 64;
    const std::size_t copies = std::min(repeat, (raw ? kMaxRawStream : kMaxHttpStream) / payload.size());
    stream.reserve(payload.size() * copies);
    for (std::size_t i = 1; i < copies; ++i) stream.append(payload);
  }

  static Outcome reference;
  static Outcome split;
  drive(config, stream, nullptr, reference);
  Splits splits(seed, stream.size() / kMaxPieces + 1);
  drive(config, stream, &splits, split);

  if (split.output != reference.output) {
    std::size_t at = 0;
    while (at < split.output.size() && at < reference.output.size() && split.output[at] == reference.output[at]) ++at;
    violated("the same bytes split differently gave different output",
             "first difference at byte " + std::to_string(at) + " of " + std::to_string(reference.output.size()) +
                 " / " + std::to_string(split.output.size()));
  }
  // (How much of the stream was taken may differ: a session that decides to close ignores the rest of the read
  // that made it decide, and reads are cut differently.)
  check(split.mode == reference.mode && split.done == reference.done && split.wants_input == reference.wants_input,
        "the same bytes split differently ended in a different state");

  if (reference.mode == Mode::kEcho) {
    check(reference.output == std::string_view(stream).substr(0, reference.consumed), "raw echo changed its input");
    check(reference.consumed == stream.size(), "raw echo refused input");
  } else if (reference.mode == Mode::kHttp) {
    check_http_output(config, stream, reference.output);
  } else {
    check(reference.output.empty(), "output before the mode was decided");
  }
  return 0;
}
