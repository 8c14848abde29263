// The bytes the load generator sends, and the check that every echoed byte is the one sent.
//
// One read-only pattern of pseudo-random bytes is shared by every thread. Message `seq` of connection `conn` is
// the window of `message_size` bytes starting at start(conn, seq), so payloads differ by connection and by message:
// a reply that went to the wrong connection, or came back out of order, does not match what was expected.
//
// The pattern holds no ASCII capital letter, so no message can begin like an HTTP request line (GET, HEAD, POST,
// PUT, DELETE, OPTIONS, PATCH): servers in --mode auto take such a connection for raw echo.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace iomodels::loadgen {

class Payload {
 public:
  static constexpr std::size_t kNoMismatch = static_cast<std::size_t>(-1);

  explicit Payload(std::size_t message_size);

  std::size_t size() const { return message_size_; }
  // The message_size bytes of one message.
  const char* message(std::uint64_t conn, std::uint64_t seq) const { return pattern_.data() + start(conn, seq); }
  // Compares `received` with the bytes of the message from `offset` on; answers the index within `received` of the
  // first byte that differs, or kNoMismatch.
  std::size_t find_mismatch(std::uint64_t conn, std::uint64_t seq, std::size_t offset,
                            std::string_view received) const;

 private:
  std::size_t start(std::uint64_t conn, std::uint64_t seq) const;

  std::size_t message_size_;
  std::vector<char> pattern_;
};

}  // namespace iomodels::loadgen
