// Unit tests of the byte buffer every session sends from: bytes come out in the order they went in, the storage
// is reused in place when the consumed front makes room, and an emptied buffer gives its storage back.
#include "common/buffer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace iomodels {
namespace {

void write(Buffer& buffer, std::string_view bytes) {
  if (bytes.empty()) return;
  const std::span<char> space = buffer.writable(bytes.size(), bytes.size());
  ASSERT_GE(space.size(), bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  buffer.commit(bytes.size());
}

TEST(Buffer, StartsEmptyWithoutStorage) {
  const Buffer buffer;
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.size(), 0u);
  EXPECT_EQ(buffer.capacity(), 0u);
  EXPECT_TRUE(buffer.readable().empty());
  EXPECT_EQ(buffer.view(), "");
}

TEST(Buffer, AppendedBytesAreReadableInOrder) {
  Buffer buffer;
  buffer.append("hello, ");
  buffer.append("world");
  EXPECT_EQ(buffer.size(), 12u);
  EXPECT_FALSE(buffer.empty());
  EXPECT_EQ(buffer.view(), "hello, world");
  const std::span<const char> readable = buffer.readable();
  EXPECT_EQ(std::string_view(readable.data(), readable.size()), "hello, world");
}

TEST(Buffer, AppendingNothingAllocatesNothing) {
  Buffer buffer;
  buffer.append("");
  EXPECT_EQ(buffer.capacity(), 0u);
}

TEST(Buffer, ConsumeDropsBytesFromTheFront) {
  Buffer buffer;
  buffer.append("abcdef");
  buffer.consume(2);
  EXPECT_EQ(buffer.view(), "cdef");
  buffer.consume(3);
  EXPECT_EQ(buffer.view(), "f");
}

TEST(Buffer, DrainingReleasesTheStorage) {
  Buffer buffer;
  buffer.append(std::string(10000, 'x'));
  EXPECT_GE(buffer.capacity(), 10000u);
  buffer.consume(9999);
  EXPECT_GT(buffer.capacity(), 0u);
  buffer.consume(1);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.capacity(), 0u);
}

TEST(Buffer, ClearReleasesTheStorage) {
  Buffer buffer;
  buffer.append("abc");
  buffer.clear();
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.capacity(), 0u);
  buffer.append("again");
  EXPECT_EQ(buffer.view(), "again");
}

TEST(Buffer, WritableOffersAtLeastMinAndAtMostMax) {
  Buffer buffer;
  std::span<char> space = buffer.writable(16, 64);
  EXPECT_GE(space.size(), 16u);
  EXPECT_LE(space.size(), 64u);
  space = buffer.writable(1000, 1000);
  EXPECT_EQ(space.size(), 1000u);
  space = buffer.writable(1, 3);
  EXPECT_GE(space.size(), 1u);
  EXPECT_LE(space.size(), 3u);
}

TEST(Buffer, CommitMakesWrittenBytesReadable) {
  Buffer buffer;
  write(buffer, "abc");
  EXPECT_EQ(buffer.view(), "abc");
  // Committing less than was offered keeps only what was written.
  std::span<char> space = buffer.writable(10, 10);
  std::memcpy(space.data(), "de", 2);
  buffer.commit(2);
  EXPECT_EQ(buffer.view(), "abcde");
}

TEST(Buffer, WritableKeepsUnreadBytes) {
  Buffer buffer;
  buffer.append("keep me");
  buffer.writable(1 << 20, 1 << 20);
  EXPECT_EQ(buffer.view(), "keep me");
  EXPECT_GE(buffer.capacity(), (1u << 20) + 7);
}

TEST(Buffer, ReusesTheConsumedFrontInsteadOfGrowing) {
  Buffer buffer;
  write(buffer, std::string(100, 'a'));
  const std::size_t capacity = buffer.capacity();
  buffer.consume(100 - 10);
  buffer.append(std::string(capacity - 10, 'b'));
  EXPECT_EQ(buffer.capacity(), capacity);
  EXPECT_EQ(buffer.view(), std::string(10, 'a') + std::string(capacity - 10, 'b'));
}

TEST(Buffer, GrowsKeepingEveryByteInOrder) {
  Buffer buffer;
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    const std::string piece = std::to_string(i) + ",";
    buffer.append(piece);
    expected += piece;
  }
  EXPECT_EQ(buffer.view(), expected);
}

TEST(Buffer, InterleavedAppendAndConsumeMatchAQueue) {
  // Against a std::string used as the reference queue, with uneven sizes so that both compaction and growth happen.
  Buffer buffer;
  std::string queue;
  unsigned next = 0;
  for (unsigned step = 0; step < 5000; ++step) {
    const std::size_t n = (step * 7919u) % 3001u;
    std::string piece(n, '\0');
    for (char& c : piece) c = static_cast<char>(next++ * 131u >> 3);
    if (step % 3 == 0) {
      write(buffer, piece);
    } else {
      buffer.append(piece);
    }
    queue += piece;
    const std::size_t drop = std::min<std::size_t>(queue.size(), (step * 104729u) % 4000u);
    buffer.consume(drop);
    queue.erase(0, drop);
    ASSERT_EQ(buffer.size(), queue.size()) << "step " << step;
    ASSERT_TRUE(buffer.view() == queue) << "step " << step;
    ASSERT_EQ(buffer.capacity() == 0, queue.empty()) << "step " << step;
  }
}

TEST(Buffer, MoveTakesTheBytesAndLeavesTheSourceEmpty) {
  Buffer source;
  source.append("moved bytes");
  source.consume(6);
  Buffer target(std::move(source));
  EXPECT_EQ(target.view(), "bytes");
  EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move): the session reuses a moved-from buffer.
  EXPECT_EQ(source.capacity(), 0u);

  Buffer other;
  other.append("old");
  other = std::move(target);
  EXPECT_EQ(other.view(), "bytes");
  EXPECT_TRUE(target.empty());  // NOLINT(bugprone-use-after-move)
  source.append("reusable");
  EXPECT_EQ(source.view(), "reusable");
}

// Misuse is a bug in the caller, caught at the call like muduo's Buffer, not clamped into silent data loss.
TEST(BufferDeathTest, ConsumingPastTheReadableBytesAborts) {
  Buffer buffer;
  buffer.append("abc");
  EXPECT_DEATH(buffer.consume(4), "consume past the readable bytes");
}

TEST(BufferDeathTest, CommittingPastTheWritableSpaceAborts) {
  Buffer buffer;
  const std::size_t shown = buffer.writable(8, 8).size();
  EXPECT_DEATH(buffer.commit(buffer.capacity() + 1), "commit past the writable space");
  EXPECT_GE(shown, 8u);
}

}  // namespace
}  // namespace iomodels

