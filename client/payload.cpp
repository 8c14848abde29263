#include "client/payload.hpp"

#include <algorithm>
#include <cstring>

namespace iomodels::loadgen {
namespace {

// The windows start at offsets modulo a prime, with strides coprime to it, so that two (connection, message) pairs
// rarely share a start. Past the prime the pattern repeats its beginning, so a window never wraps.
constexpr std::size_t kPatternPeriod = 65521;
constexpr std::uint64_t kConnectionStride = 40503;
constexpr std::uint64_t kMessageStride = 1009;

// splitmix64: a fixed seed keeps payloads reproducible from run to run, which makes a reported offset useful.
std::uint64_t next_random(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

Payload::Payload(std::size_t message_size) : message_size_(message_size), pattern_(kPatternPeriod + message_size) {
  std::uint64_t state = 0x10ad9e4e2a7e5eedULL;
  for (std::size_t i = 0; i < kPatternPeriod; ++i) {
    auto byte = static_cast<unsigned char>(next_random(state));
    if (byte >= 'A' && byte <= 'Z') byte = static_cast<unsigned char>(byte - 'A' + 'a');
    pattern_[i] = static_cast<char>(byte);
  }
  for (std::size_t i = kPatternPeriod; i < pattern_.size(); ++i) pattern_[i] = pattern_[i % kPatternPeriod];
}

std::size_t Payload::start(std::uint64_t conn, std::uint64_t seq) const {
  return static_cast<std::size_t>((conn * kConnectionStride + seq * kMessageStride) % kPatternPeriod);
}

std::size_t Payload::find_mismatch(std::uint64_t conn, std::uint64_t seq, std::size_t offset,
                                   std::string_view received) const {
  const char* expected = message(conn, seq) + offset;
  const std::size_t n = std::min(received.size(), message_size_ - std::min(offset, message_size_));
  if (std::memcmp(expected, received.data(), n) == 0) return n == received.size() ? kNoMismatch : n;
  const auto diff = std::mismatch(received.begin(), received.begin() + static_cast<std::ptrdiff_t>(n), expected);
  return static_cast<std::size_t>(diff.first - received.begin());
}

}  // namespace iomodels::loadgen
