// The load generator's parser of HTTP response heads, fed whole, byte by byte, and broken.
#include <gtest/gtest.h>

#include <string>

#include "client/http_response.hpp"

namespace iomodels::loadgen {
namespace {

const std::string kHead =
    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\ncontent-length: 5\r\n\r\n";

TEST(LoadgenResponseHead, ParsesAWholeHeadAndStopsAtItsEnd) {
  ResponseHead head;
  const std::string bytes = kHead + "hello";
  EXPECT_EQ(head.feed(bytes), kHead.size());
  ASSERT_TRUE(head.done());
  EXPECT_EQ(head.status(), 200);
  EXPECT_EQ(head.content_length(), 5);
  EXPECT_FALSE(head.connection_close());
  EXPECT_EQ(head.head_bytes(), kHead.size());
  EXPECT_EQ(head.feed("more"), 0u);
}

TEST(LoadgenResponseHead, ParsesAHeadThatArrivesByteByByte) {
  ResponseHead head;
  std::size_t used = 0;
  for (char c : kHead) {
    ASSERT_FALSE(head.done());
    used += head.feed(std::string(1, c));
  }
  EXPECT_EQ(used, kHead.size());
  ASSERT_TRUE(head.done());
  EXPECT_EQ(head.content_length(), 5);
  EXPECT_EQ(head.head_bytes(), kHead.size());
}

TEST(LoadgenResponseHead, SplitInsideTheBlankLineUsesOnlyTheHead) {
  ResponseHead head;
  const std::string first = kHead.substr(0, kHead.size() - 3);
  EXPECT_EQ(head.feed(first), first.size());
  EXPECT_EQ(head.feed("\n\r\nbody"), 3u);
  EXPECT_TRUE(head.done());
}

TEST(LoadgenResponseHead, SeesConnectionClose) {
  ResponseHead head;
  head.feed("HTTP/1.1 400 Bad Request\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(head.done());
  EXPECT_EQ(head.status(), 400);
  EXPECT_TRUE(head.connection_close());
}

TEST(LoadgenResponseHead, ResetReadiesItForTheNextResponse) {
  ResponseHead head;
  head.feed("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
  head.reset();
  head.feed(kHead);
  EXPECT_EQ(head.status(), 200);
  EXPECT_FALSE(head.connection_close());
}

TEST(LoadgenResponseHead, NoContentLengthIsReported) {
  ResponseHead head;
  head.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_TRUE(head.done());
  EXPECT_EQ(head.content_length(), -1);
  EXPECT_TRUE(head.chunked());
}

struct Broken {
  const char* name;
  const char* bytes;
};

class LoadgenResponseHeadBroken : public testing::TestWithParam<Broken> {};

TEST_P(LoadgenResponseHeadBroken, Fails) {
  ResponseHead head;
  head.feed(GetParam().bytes);
  EXPECT_TRUE(head.failed());
  EXPECT_FALSE(head.error().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Heads, LoadgenResponseHeadBroken,
    testing::Values(Broken{"NotHttp", "HTTX/1.1 200 OK\r\n\r\n"}, Broken{"ShortStatus", "HTTP/1.1 20 OK\r\n\r\n"},
                    Broken{"LetterStatus", "HTTP/1.1 2x0 OK\r\n\r\n"},
                    Broken{"NoColon", "HTTP/1.1 200 OK\r\nContent-Length 5\r\n\r\n"},
                    Broken{"NegativeLength", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n"},
                    Broken{"DifferingLengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"},
                    Broken{"NumberThenJunk", "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n"}),
    [](const testing::TestParamInfo<Broken>& param) { return param.param.name; });

TEST(LoadgenResponseHead, AnEndlessHeadFails) {
  ResponseHead head;
  head.feed("HTTP/1.1 200 OK\r\n");
  const std::string filler = "X-Filler: " + std::string(1000, 'a') + "\r\n";
  for (int i = 0; i < 20 && !head.failed(); ++i) head.feed(filler);
  EXPECT_TRUE(head.failed());
}

}  // namespace
}  // namespace iomodels::loadgen
