// The load generator's payloads: distinct per connection and per message, never mistaken for HTTP, and a
// mismatch found at its exact byte.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "client/payload.hpp"

namespace iomodels::loadgen {
namespace {

TEST(LoadgenPayload, NoMessageBeginsWithACapitalLetter) {
  // The servers take a connection for HTTP when it begins with GET, HEAD, POST, PUT, DELETE, OPTIONS or PATCH.
  const Payload payload(16);
  for (std::uint64_t conn = 0; conn < 200; ++conn) {
    for (std::uint64_t seq = 0; seq < 500; ++seq) {
      const char first = payload.message(conn, seq)[0];
      ASSERT_FALSE(first >= 'A' && first <= 'Z') << "connection " << conn << " message " << seq;
    }
  }
}

TEST(LoadgenPayload, DiffersByConnectionAndByMessage) {
  const Payload payload(64);
  const std::string_view first(payload.message(0, 0), 64);
  EXPECT_NE(first, std::string_view(payload.message(1, 0), 64));
  EXPECT_NE(first, std::string_view(payload.message(0, 1), 64));
  for (std::uint64_t seq = 0; seq < 1000; ++seq) {
    ASSERT_NE(std::string_view(payload.message(7, seq), 64), std::string_view(payload.message(7, seq + 1), 64));
  }
}

TEST(LoadgenPayload, IsTheSameEveryTime) {
  const Payload a(100), b(100);
  EXPECT_EQ(std::string_view(a.message(3, 9), 100), std::string_view(b.message(3, 9), 100));
}

TEST(LoadgenPayload, FindsTheFirstDifferingByte) {
  const Payload payload(64);
  std::string echoed(payload.message(2, 5), 64);
  EXPECT_EQ(payload.find_mismatch(2, 5, 0, echoed), Payload::kNoMismatch);
  EXPECT_EQ(payload.find_mismatch(2, 5, 10, std::string_view(echoed).substr(10)), Payload::kNoMismatch);
  echoed[17] ^= 0x01;
  EXPECT_EQ(payload.find_mismatch(2, 5, 0, echoed), 17u);
  EXPECT_EQ(payload.find_mismatch(2, 5, 10, std::string_view(echoed).substr(10)), 7u);
  // The reply to another message is caught at its first byte that differs.
  EXPECT_NE(payload.find_mismatch(2, 6, 0, std::string_view(payload.message(2, 5), 64)), Payload::kNoMismatch);
}

TEST(LoadgenPayload, BytesPastTheMessageAreAMismatch) {
  const Payload payload(8);
  const std::string longer = std::string(payload.message(0, 0), 8) + "x";
  EXPECT_EQ(payload.find_mismatch(0, 0, 0, longer), 8u);
}

TEST(LoadgenPayload, LargeMessagesAreWhole) {
  const Payload payload(1 << 20);
  const char* m = payload.message(12345, 678);
  EXPECT_EQ(payload.find_mismatch(12345, 678, 0, std::string_view(m, 1 << 20)), Payload::kNoMismatch);
}

}  // namespace
}  // namespace iomodels::loadgen
