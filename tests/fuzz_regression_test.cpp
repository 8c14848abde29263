// Inputs the fuzz harnesses (fuzz/) found, kept as regression tests: each one failed before its fix.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "client/http_response.hpp"
#include "common/session.hpp"

namespace iomodels {
namespace {

// Feeds bytes in reads of at most piece bytes (0: all at once), draining everything after each; returns the output.
std::string drive(const SessionConfig& config, std::string_view bytes, std::size_t piece) {
  Session session(config);
  std::string out;
  while (!bytes.empty() && session.wants_input()) {
    const std::size_t n = piece == 0 ? bytes.size() : std::min(piece, bytes.size());
    session.receive(bytes.substr(0, n));
    bytes.remove_prefix(n);
    const auto pending = session.pending_output();
    out.append(pending.data(), pending.size());
    session.consume_output(pending.size());
  }
  return out;
}

std::string repeated(std::string_view unit, std::size_t times) {
  std::string result;
  for (std::size_t i = 0; i < times; ++i) result.append(unit);
  return result;
}

// session_fuzz: a request line broken at its first bytes and running past the 8 KiB head limit got 431 when it
// arrived in one read (the head scanner saw the limit before llhttp saw a byte) but 400 when its first bytes came
// alone (llhttp refused them first). The status must not depend on how the bytes were split.
TEST(FuzzRegression, BrokenHeadOverTheLimitGetsTheSameStatusHoweverSplit) {
  const SessionConfig config{.mode = Mode::kHttp, .max_body = 64};
  const std::string bytes = repeated(std::string_view("N8\x01\x02\x03\x04\x05GEq", 10), 912);
  const std::string whole = drive(config, bytes, 0);
  EXPECT_TRUE(whole.starts_with("HTTP/1.1 400 ")) << whole.substr(0, 40);
  EXPECT_EQ(drive(config, bytes, 1), whole);
  EXPECT_EQ(drive(config, bytes, 10), whole);
  EXPECT_EQ(drive(config, bytes, 4096), whole);
}

// The same, in auto mode with a valid start: a header section that is fine up to 8 KiB still gets 431 in any split.
TEST(FuzzRegression, ValidHeadOverTheLimitGets431HoweverSplit) {
  const SessionConfig config{};
  const std::string bytes = "GET / HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n";
  const std::string whole = drive(config, bytes, 0);
  EXPECT_TRUE(whole.starts_with("HTTP/1.1 431 ")) << whole.substr(0, 40);
  EXPECT_EQ(drive(config, bytes, 1), whole);
  EXPECT_EQ(drive(config, bytes, 20), whole);
}

// session_fuzz: a CONNECT with a Content-Length got a head announcing the body, and then no body, because llhttp
// reads nothing after a CONNECT's head (what follows is the tunnel's); the next response then sat where the body
// belonged. A second input, two CONNECTs and bytes after them, came back differently in different splits. An echo
// server opens no tunnel: CONNECT gets 501 and the connection closes, in any split.
TEST(FuzzRegression, ConnectWithABodyGets501NotAHeadWithoutItsBody) {
  const SessionConfig config{.mode = Mode::kHttp, .max_body = 64};
  const std::string bytes = "CONNECT host: HTTP/1.1\r\nContent-Length:3 \r\n\r\nabc.1\n";
  const std::string whole = drive(config, bytes, 0);
  EXPECT_TRUE(whole.starts_with("HTTP/1.1 501 ")) << whole;
  EXPECT_NE(whole.find("Connection: close\r\n"), std::string::npos) << whole;
  EXPECT_EQ(whole.find("HTTP/1.1", 1), std::string::npos) << "one response, then the close: " << whole;
  EXPECT_EQ(drive(config, bytes, 1), whole);
  EXPECT_EQ(drive(config, bytes, 7), whole);
}

TEST(FuzzRegression, ConnectsFollowedByBytesGetTheSameAnswerHoweverSplit) {
  const SessionConfig config{.mode = Mode::kHttp, .max_body = 64};
  const std::string connect = "CONNECT host: HTTP/1.1\r\n\r\n";
  const std::string bytes = connect + connect + std::string("C=\xd4.1,\0\0\n=\xd4.1,\0T\x1a\x01\xcd&.'\0\n", 24);
  const std::string whole = drive(config, bytes, 0);
  EXPECT_TRUE(whole.starts_with("HTTP/1.1 501 ")) << whole;
  for (std::size_t piece : {1, 2, 5, 13, 29}) EXPECT_EQ(drive(config, bytes, piece), whole) << "reads of " << piece;
}

// session_fuzz: a header line without a colon after a Transfer-Encoding llhttp refuses got 400 when the head came in
// one read (the scanner refused the line before llhttp saw it) but 501 when it came in pieces (llhttp refused the
// coding first). Now whichever finds the first fault decides, in any split.
TEST(FuzzRegression, BadLineAfterABadTransferEncodingGetsTheSameStatusHoweverSplit) {
  const SessionConfig config{};
  const std::string bytes =
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\nTransked\r\n\r\n";
  const std::string whole = drive(config, bytes, 0);
  EXPECT_TRUE(whole.starts_with("HTTP/1.1 501 ")) << whole.substr(0, 40);
  for (std::size_t piece : {1, 2, 7, 50}) EXPECT_EQ(drive(config, bytes, piece), whole) << "pieces of " << piece;
}

// http_response_fuzz: std::from_chars reads "-12" as a number, so "HTTP/1.1 -12 OK" parsed as status -12.
TEST(FuzzRegression, LoadgenRefusesASignedStatus) {
  for (const char* head : {"HTTP/1.1 -12 OK\r\n\r\n", "HTTP/1.1 -1x OK\r\n\r\n", "HTTP/1.1 +12 OK\r\n\r\n"}) {
    loadgen::ResponseHead parser;
    parser.feed(head);
    EXPECT_TRUE(parser.failed()) << head << " parsed with status " << parser.status();
  }
}

}  // namespace
}  // namespace iomodels
