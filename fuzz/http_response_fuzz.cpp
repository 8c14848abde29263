// libFuzzer harness for the load generator's parser of HTTP response heads (client/http_response.*), which reads
// whatever a server under test sends, including a broken or hostile one.
//
// Input: 4 bytes of split seed, then the bytes a server sends. The bytes are fed to a ResponseHead whole (the
// reference) and again in pieces cut as the seed says, with reset() and a second response after a completed one.
// Invariants: the outcome (done or failed, status, Content-Length, Connection: close, chunked, head size, error) does
// not depend on the split; feed() never claims more bytes than it was given, and the bytes it claims for a complete
// head end exactly at the head's blank line; nothing is consumed once done or failed; a head over kMaxHeadBytes fails;
// a parsed status has three digits and a Content-Length is never negative.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "client/http_response.hpp"

namespace {

using iomodels::loadgen::ResponseHead;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

void check(bool condition, const char* what) {
  if (!condition) violated(what);
}

struct Outcome {
  bool done = false;
  bool failed = false;
  int status = 0;
  long long content_length = -1;
  bool close = false;
  bool chunked = false;
  std::size_t head_bytes = 0;
  std::string error;
  std::size_t used = 0;
  bool operator==(const Outcome&) const = default;
};

Outcome outcome(const ResponseHead& head, std::size_t used) {
  return {head.done(), head.failed(), head.status(), head.content_length(), head.connection_close(), head.chunked(),
          head.head_bytes(), head.error(), used};
}

// Feeds bytes in pieces (sizes from the seed; 0 means whole) until the head is done or failed or the bytes end.
Outcome parse(ResponseHead& head, std::string_view bytes, std::uint32_t* seed) {
  std::size_t used = 0;
  while (!bytes.empty() && !head.done() && !head.failed()) {
    std::size_t piece = bytes.size();
    if (seed != nullptr) {
      *seed = *seed * 1664525u + 1013904223u;  // an LCG is plenty to vary the cuts
      const std::uint32_t r = *seed >> 8;
      piece = (r & 3) == 0 ? 1 : 1 + r % bytes.size();
    }
    const std::size_t took = head.feed(bytes.substr(0, piece));
    check(took <= piece, "feed() claimed more bytes than it was given");
    if (!head.done() && !head.failed()) check(took == piece, "feed() left bytes unclaimed while still reading");
    used += took;
    bytes.remove_prefix(piece);
  }
  if (head.done() || head.failed()) check(head.feed("HTTP/1.1 200 OK\r\n\r\n") == 0, "feed() consumed after the end");
  return outcome(head, used);
}

void check_outcome(const Outcome& result, std::string_view bytes) {
  if (result.done) {
    check(result.head_bytes == result.used, "a complete head's size differs from the bytes claimed for it");
    check(result.head_bytes <= bytes.size() && bytes.substr(0, result.head_bytes).ends_with("\r\n\r\n") &&
              bytes.substr(0, result.head_bytes).find("\r\n\r\n") == result.head_bytes - 4,
          "a complete head does not end at the first blank line");
    check(result.status >= 0 && result.status <= 999, "status outside three digits");
    check(result.content_length >= -1, "negative Content-Length accepted");
    check(result.error.empty(), "an error message on a parsed head");
  }
  if (result.failed) check(!result.error.empty(), "failed without an error message");
  if (!result.done && bytes.find("\r\n\r\n") == std::string_view::npos && bytes.size() > ResponseHead::kMaxHeadBytes) {
    check(result.failed, "a head over kMaxHeadBytes did not fail");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  std::uint32_t seed = static_cast<std::uint32_t>(data[0]) << 24 | data[1] << 16 | data[2] << 8 | data[3];
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 4, size - 4);

  ResponseHead whole;
  const Outcome reference = parse(whole, bytes, nullptr);
  check_outcome(reference, bytes);

  ResponseHead pieces;
  const Outcome split = parse(pieces, bytes, &seed);
  if (!(split == reference)) violated("the same bytes split differently parsed differently");

  // The engine reuses one ResponseHead per connection: after reset() the rest of the stream is the next response.
  if (reference.done) {
    const std::string_view rest = bytes.substr(reference.used);
    ResponseHead fresh;
    const Outcome expected = parse(fresh, rest, nullptr);
    pieces.reset();
    check(pieces.status() == 0 && !pieces.done() && !pieces.failed() && pieces.content_length() == -1,
          "reset() left state behind");
    if (!(parse(pieces, rest, &seed) == expected)) violated("a reused ResponseHead parsed differently from a new one");
  }
  return 0;
}
