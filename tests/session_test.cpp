// Unit tests of the protocol session (docs/PROTOCOL.md, "Modes" and the backpressure rule), without sockets.
// Bytes go in through the calls a server makes (read_buffer()/commit_read() or receive()), and whatever the
// session wants sent is drained as a server would drain it once the socket is writable. Detection and HTTP framing
// must not depend on how TCP happened to cut the stream, so most inputs are fed whole, byte by byte and split in
// two at every position, through both input paths, and every way must produce the same bytes.
#include "common/session.hpp"

#include <gtest/gtest.h>
#include <malloc.h>
#include <strings.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace iomodels {
namespace {

using namespace std::string_literals;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};

SessionConfig config_of(Mode mode, std::size_t max_body = kDefaultMaxBody) {
  SessionConfig config;
  config.mode = mode;
  config.max_body = max_body;
  return config;
}

// Shows control and non-ASCII bytes escaped, and long outputs cut, in failure messages.
std::string printable(std::string_view bytes, std::size_t limit = 400) {
  std::string text;
  for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\r') {
      text += "\\r";
    } else if (c == '\n') {
      text += "\\n";
    } else if (c == '\\') {
      text += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      text += hex;
    } else {
      text += static_cast<char>(c);
    }
  }
  if (bytes.size() > limit) text += "...(" + std::to_string(bytes.size()) + " bytes)";
  return text;
}

// A byte stream that is not periodic, so that a dropped, repeated or reordered block shows.
char pattern_byte(std::size_t position) {
  return static_cast<char>((static_cast<std::uint64_t>(position) * 0x9E3779B97F4A7C15ull) >> 56);
}

std::string pattern(std::size_t offset, std::size_t n) {
  std::string bytes(n, '\0');
  for (std::size_t i = 0; i < n; ++i) bytes[i] = pattern_byte(offset + i);
  return bytes;
}

// ---- driving a session like a server ---------------------------------------------------------------------------

enum class InputPath { kReadBuffer, kReceive };

const char* name_of(InputPath path) { return path == InputPath::kReadBuffer ? "read_buffer()" : "receive()"; }

// Sends everything the session has to send.
void drain(Session& session, std::string& sent) {
  while (session.has_output()) {
    const std::span<const char> out = session.pending_output();
    if (out.empty()) {
      ADD_FAILURE() << "has_output() but pending_output() is empty";
      return;
    }
    sent.append(out.data(), out.size());
    session.consume_output(out.size());
  }
  EXPECT_TRUE(session.pending_output().empty()) << "pending_output() not empty while !has_output()";
}

// One read into the session's own buffer: as much of `rest` as read_buffer() offers. Returns the bytes read; 0,
// with a failure, when the session offers no room.
std::size_t read_into(Session& session, std::string_view rest) {
  const std::span<char> room = session.read_buffer();
  const std::size_t n = std::min(room.size(), rest.size());
  if (n == 0) {
    ADD_FAILURE() << "read_buffer() offers no room for the next read";
    return 0;
  }
  std::memcpy(room.data(), rest.data(), n);
  session.commit_read(n);
  return n;
}

// Delivers one received piece: only while the session wants input (a server would not read otherwise), in reads
// no larger than read_buffer() offers, sending what each read produced before the next.
void deliver(Session& session, std::string_view piece, InputPath path, std::string& sent) {
  while (!piece.empty() && session.wants_input()) {
    if (path == InputPath::kReceive) {
      session.receive({piece.data(), piece.size()});
      piece = {};
    } else {
      const std::size_t n = read_into(session, piece);
      if (n == 0) return;
      piece.remove_prefix(n);
    }
    drain(session, sent);
  }
}

// What a connection looks like from outside once its input is exhausted.
struct Outcome {
  std::string sent;
  bool done = false;
  bool wants_input = false;
  Mode mode = Mode::kAuto;
  bool operator==(const Outcome&) const = default;
};

std::string describe(const Outcome& outcome) {
  static constexpr const char* kModes[] = {"auto", "echo", "http"};
  return "sent \"" + printable(outcome.sent) + "\", done " + (outcome.done ? "yes" : "no") + ", wants_input " +
         (outcome.wants_input ? "yes" : "no") + ", mode " + kModes[static_cast<int>(outcome.mode)];
}

Outcome run(const SessionConfig& config, const std::vector<std::string_view>& pieces, InputPath path, bool eof) {
  Session session(config);
  Outcome outcome;
  for (std::string_view piece : pieces) deliver(session, piece, path, outcome.sent);
  // A server only sees the half-close while it is reading.
  if (eof && session.wants_input()) {
    session.receive_eof();
    drain(session, outcome.sent);
  }
  outcome.done = session.done();
  outcome.wants_input = session.wants_input();
  outcome.mode = session.mode();
  return outcome;
}

struct Split {
  std::string name;
  std::vector<std::string_view> pieces;
};

// The whole input, all 1-byte pieces, and every 2-way split (for long inputs, every 2-way split near either end
// and a sample in between, to keep the suite fast).
std::vector<Split> splits_of(std::string_view bytes) {
  std::vector<Split> splits;
  splits.push_back({"whole", {bytes}});
  Split bytewise{"1-byte pieces", {}};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytewise.pieces.push_back(bytes.substr(i, 1));
  splits.push_back(std::move(bytewise));
  for (std::size_t i = 1; i < bytes.size(); ++i) {
    const bool near_an_end = i < 600 || bytes.size() - i < 600;
    if (!near_an_end && i % 61 != 0) continue;
    splits.push_back({"split at " + std::to_string(i), {bytes.substr(0, i), bytes.substr(i)}});
  }
  return splits;
}

// Feeds the input every way; reports the first way whose outcome differs from feeding it whole, and returns that.
Outcome feed_every_split(const SessionConfig& config, std::string_view input, bool eof = false) {
  const Outcome whole = run(config, {input}, InputPath::kReadBuffer, eof);
  for (const Split& split : splits_of(input)) {
    for (InputPath path : {InputPath::kReadBuffer, InputPath::kReceive}) {
      const Outcome outcome = run(config, split.pieces, path, eof);
      if (outcome != whole) {
        ADD_FAILURE() << "input \"" << printable(input) << "\" fed as " << split.name << " via " << name_of(path)
                      << "\n  gives: " << describe(outcome) << "\n  whole: " << describe(whole);
        return whole;
      }
    }
  }
  return whole;
}

Outcome feed_auto(std::string_view input, bool eof = false) { return feed_every_split(config_of(Mode::kAuto), input, eof); }

// Auto mode took `input` for raw echo and sent it back whole, however it was split.
void expect_auto_echoes(const std::string& input) {
  const Outcome outcome = feed_auto(input);
  EXPECT_EQ(outcome.mode, Mode::kEcho) << input;
  EXPECT_EQ(outcome.sent, input);
}

// ---- reading responses ---------------------------------------------------------------------------------------

struct Response {
  std::string status_line;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The value of the first header of that name (case-insensitive).
  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [field, value] : headers) {
      if (field.size() == name.size() && strncasecmp(field.data(), name.data(), name.size()) == 0) return value;
    }
    return std::nullopt;
  }
  int count(std::string_view name) const {
    int n = 0;
    for (const auto& header_line : headers) {
      const std::string& field = header_line.first;
      n += field.size() == name.size() && strncasecmp(field.data(), name.data(), name.size()) == 0;
    }
    return n;
  }
};

// Splits a stream of responses. answers_head[i] says the i-th final (non-1xx) response answers a HEAD request, so
// has a Content-Length but no body.
std::vector<Response> parse_responses(std::string_view stream, const std::vector<bool>& answers_head = {}) {
  std::vector<Response> responses;
  std::size_t finals = 0;
  while (!stream.empty()) {
    const std::size_t head_end = stream.find("\r\n\r\n");
    if (head_end == std::string_view::npos) {
      ADD_FAILURE() << "response head without an end: \"" << printable(stream) << "\"";
      break;
    }
    std::string_view head = stream.substr(0, head_end + 2);
    stream.remove_prefix(head_end + 4);
    Response response;
    const std::size_t line_end = head.find("\r\n");
    response.status_line = head.substr(0, line_end);
    head.remove_prefix(line_end + 2);
    if (response.status_line.size() < 12 || !response.status_line.starts_with("HTTP/1.") ||
        response.status_line[8] != ' ') {
      ADD_FAILURE() << "bad status line \"" << printable(response.status_line) << "\"";
      break;
    }
    response.status = std::atoi(response.status_line.substr(9, 3).c_str());
    while (!head.empty()) {
      const std::size_t end = head.find("\r\n");
      const std::string_view line = head.substr(0, end);
      head.remove_prefix(end + 2);
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        ADD_FAILURE() << "bad header line \"" << printable(line) << "\"";
        continue;
      }
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      response.headers.emplace_back(line.substr(0, colon), value);
    }
    if (response.status >= 200) {
      const bool head_request = finals < answers_head.size() && answers_head[finals];
      ++finals;
      const std::optional<std::string> length = response.header("Content-Length");
      if (!length) {
        ADD_FAILURE() << "response without Content-Length: \"" << printable(response.status_line) << "\"";
        responses.push_back(std::move(response));
        break;
      }
      const std::size_t n = head_request ? 0 : std::strtoull(length->c_str(), nullptr, 10);
      if (stream.size() < n) {
        ADD_FAILURE() << "body shorter (" << stream.size() << " bytes) than its Content-Length " << n;
        response.body = stream;
        responses.push_back(std::move(response));
        break;
      }
      response.body = stream.substr(0, n);
      stream.remove_prefix(n);
    }
    responses.push_back(std::move(response));
  }
  return responses;
}

// A 200 echo response (docs/PROTOCOL.md, "HTTP/1.x echo") carrying exactly this body.
void expect_echo(const Response& response, std::string_view body) {
  EXPECT_EQ(response.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(response.count("Content-Length"), 1);
  EXPECT_EQ(response.header("Content-Length").value_or("none"), std::to_string(body.size()));
  EXPECT_EQ(response.header("Content-Type").value_or("none"), "application/octet-stream");
  EXPECT_EQ(response.count("Transfer-Encoding"), 0);
  EXPECT_EQ(response.body, body) << "body \"" << printable(response.body) << "\"";
}

std::string connection_of(const Response& response) { return response.header("Connection").value_or(""); }

// The input gets one 200 echo response with this body, and the connection stays open.
void expect_single_echo(std::string_view request, std::string_view body, SessionConfig config = config_of(Mode::kAuto)) {
  SCOPED_TRACE("request \"" + printable(request) + "\"");
  const Outcome outcome = feed_every_split(config, request);
  EXPECT_EQ(outcome.mode, Mode::kHttp);
  const std::vector<Response> responses = parse_responses(outcome.sent);
  ASSERT_EQ(responses.size(), 1u) << "sent \"" << printable(outcome.sent) << "\"";
  expect_echo(responses[0], body);
  EXPECT_NE(connection_of(responses[0]), "close");
  EXPECT_FALSE(outcome.done);
  EXPECT_TRUE(outcome.wants_input);
}

// The input gets exactly one response, an error with this status that closes the connection; the bytes after the
// offending request (if any) are ignored.
void expect_error(std::string_view request, int status, SessionConfig config = config_of(Mode::kAuto)) {
  SCOPED_TRACE("request \"" + printable(request) + "\"");
  const Outcome outcome = feed_every_split(config, request);
  const std::vector<Response> responses = parse_responses(outcome.sent);
  ASSERT_EQ(responses.size(), 1u) << "sent \"" << printable(outcome.sent) << "\"";
  EXPECT_EQ(responses[0].status, status) << "sent \"" << printable(outcome.sent) << "\"";
  EXPECT_EQ(connection_of(responses[0]), "close");
  EXPECT_TRUE(outcome.done);
  EXPECT_FALSE(outcome.wants_input);
}

// Bytes used so far by the C heap (glibc's count of allocated chunks), or nullopt when something other than glibc's
// malloc serves allocations (a sanitizer's allocator), so that it cannot be observed.
std::optional<std::size_t> heap_in_use() {
  const std::size_t before = mallinfo2().uordblks;
  void* volatile probe = std::malloc(32 * 1024);
  const std::size_t with_probe = mallinfo2().uordblks;
  std::free(probe);
  if (with_probe < before + 32 * 1024) return std::nullopt;
  return mallinfo2().uordblks;
}

// ---- auto mode: detection -----------------------------------------------------------------------------------------

TEST(AutoDetect, EachMethodFollowedBySpaceIsHttp) {
  for (std::string_view method : kMethods) {
    SCOPED_TRACE(std::string(method));
    const std::string request = std::string(method) + " /x HTTP/1.1\r\nHost: h\r\n\r\n";
    const Outcome outcome = feed_auto(request);
    EXPECT_EQ(outcome.mode, Mode::kHttp);
    const bool head = method == "HEAD";
    const std::vector<Response> responses = parse_responses(outcome.sent, {head});
    ASSERT_EQ(responses.size(), 1u);
    if (head) {
      EXPECT_EQ(responses[0].status_line, "HTTP/1.1 200 OK");
      EXPECT_EQ(responses[0].header("Content-Length").value_or("none"), "2");
    } else {
      expect_echo(responses[0], "/x");
    }
  }
}

TEST(AutoDetect, MethodAndSpaceDecideHttpBeforeTheRequestLineEnds) {
  for (std::string_view method : kMethods) {
    SCOPED_TRACE(std::string(method));
    Session session(config_of(Mode::kAuto));
    std::string sent;
    const std::string prefix = std::string(method) + " ";
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      EXPECT_EQ(session.mode(), Mode::kAuto) << "after " << i << " bytes";
      deliver(session, prefix.substr(i, 1), InputPath::kReadBuffer, sent);
    }
    EXPECT_EQ(session.mode(), Mode::kHttp);
    EXPECT_EQ(sent, "");
    EXPECT_TRUE(session.wants_input());
    EXPECT_FALSE(session.done());
  }
}

TEST(AutoDetect, PrefixOfAMethodIsUndecidedAndSendsNothing) {
  for (std::string_view method : kMethods) {
    for (std::size_t n = 1; n <= method.size(); ++n) {
      for (InputPath path : {InputPath::kReadBuffer, InputPath::kReceive}) {
        SCOPED_TRACE(std::string(method.substr(0, n)) + " via " + name_of(path));
        Session session(config_of(Mode::kAuto));
        std::string sent;
        deliver(session, method.substr(0, n), path, sent);
        EXPECT_EQ(session.mode(), Mode::kAuto);
        EXPECT_EQ(sent, "");
        EXPECT_FALSE(session.has_output());
        EXPECT_TRUE(session.pending_output().empty());
        EXPECT_TRUE(session.wants_input());
        EXPECT_FALSE(session.done());
      }
    }
  }
}

// Each input becomes raw echo as soon as its first `decided_at` bytes rule out every method: the session sends
// nothing before, and everything received once it has decided.
struct EarlyEcho {
  std::string input;
  std::size_t decided_at;
};

void expect_echo_decided_at(const EarlyEcho& c) {
  for (InputPath path : {InputPath::kReadBuffer, InputPath::kReceive}) {
    SCOPED_TRACE("\"" + printable(c.input) + "\" via " + name_of(path));
    Session session(config_of(Mode::kAuto));
    std::string sent;
    for (std::size_t i = 0; i < c.input.size(); ++i) {
      deliver(session, std::string_view(c.input).substr(i, 1), path, sent);
      if (i + 1 < c.decided_at) {
        EXPECT_EQ(session.mode(), Mode::kAuto) << "after " << i + 1 << " bytes";
        EXPECT_EQ(sent, "") << "after " << i + 1 << " bytes";
      } else {
        EXPECT_EQ(session.mode(), Mode::kEcho) << "after " << i + 1 << " bytes";
        EXPECT_EQ(sent, c.input.substr(0, i + 1)) << "after " << i + 1 << " bytes";
      }
    }
    EXPECT_FALSE(session.done());
  }
}

TEST(AutoDetect, DecidesRawEchoAtTheFirstByteNoMethodAllows) {
  const EarlyEcho cases[] = {
      {"X", 1},       {"Xyz", 1},       {"GX", 2},        {"GEX", 3},         {"PX", 2},
      {"POX", 3},     {"PAX", 3},       {"PUX", 3},       {"DELETX", 6},      {"OPTIONSX", 8},
      {"HEAD/", 5},   {"PATCH\r\n", 6}, {"\r\nGET ", 1},  {" GET /", 1},      {"E", 1},
  };
  for (const EarlyEcho& c : cases) expect_echo_decided_at(c);
}

TEST(AutoDetect, LowercaseMethodIsRawEcho) {
  expect_echo_decided_at({"get / HTTP/1.1\r\n\r\n", 1});
  expect_auto_echoes("get / HTTP/1.1\r\nHost: h\r\n\r\n");
  expect_echo_decided_at({"Get /", 2});
}

TEST(AutoDetect, TabAfterMethodIsRawEcho) {
  expect_echo_decided_at({"GET\t/ HTTP/1.1\r\n\r\n", 4});
  expect_auto_echoes("GET\t/ HTTP/1.1\r\n\r\n");
}

TEST(AutoDetect, TwoSpacesAfterMethodIsHttpBecauseOneSpaceDecides) {
  // The separator is one space, so "GET " has decided before the second space arrives; the parser then judges it.
  Session session(config_of(Mode::kAuto));
  std::string sent;
  deliver(session, "GET ", InputPath::kReadBuffer, sent);
  EXPECT_EQ(session.mode(), Mode::kHttp);
}

TEST(AutoDetect, MethodFollowedByLetterIsRawEcho) {
  expect_echo_decided_at({"GETX / HTTP/1.1\r\n\r\n", 4});
  expect_auto_echoes("GETX / HTTP/1.1\r\n\r\n");
}

TEST(AutoDetect, ConnectIsRawEcho) {
  expect_echo_decided_at({"CONNECT example.com:443 HTTP/1.1\r\n\r\n", 1});
  expect_auto_echoes("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n");
}

TEST(AutoDetect, OtherHttpMethodsAreRawEcho) {
  for (std::string_view method : {"TRACE ", "PROPFIND ", "OPTION ", "DELET "}) {
    expect_auto_echoes(std::string(method) + "/ HTTP/1.1\r\n\r\n");
  }
}

TEST(AutoDetect, BinaryBytesAreRawEcho) {
  const std::string input = "\x00\x01\xff\xfeGET \x80\r\n\r\n"s;
  const Outcome outcome = feed_auto(input);
  EXPECT_EQ(outcome.mode, Mode::kEcho);
  EXPECT_EQ(outcome.sent, input);
  EXPECT_FALSE(outcome.done);
  EXPECT_TRUE(outcome.wants_input);
}

TEST(AutoDetect, HalfCloseWhileUndecidedEchoesTheBytesThenDone) {
  for (std::string_view input : {"G", "GE", "GET", "DELETE", "OPTIONS", "P", "PA"}) {
    SCOPED_TRACE(std::string(input));
    const Outcome outcome = feed_auto(input, /*eof=*/true);
    EXPECT_EQ(outcome.sent, input);
    EXPECT_EQ(outcome.mode, Mode::kEcho);
    EXPECT_TRUE(outcome.done);
    EXPECT_FALSE(outcome.wants_input);
  }
}

TEST(AutoDetect, HalfCloseBeforeAnyByteIsDoneWithoutOutput) {
  Session session(config_of(Mode::kAuto));
  session.receive_eof();
  EXPECT_FALSE(session.has_output());
  EXPECT_TRUE(session.pending_output().empty());
  EXPECT_FALSE(session.wants_input());
  EXPECT_TRUE(session.done());
}

TEST(AutoDetect, UndecidedBytesAreNotLostWhenHttpIsDecided) {
  // "GE" waits unsent; once "T " decides HTTP, those bytes are the start of the request line, not output.
  Session session(config_of(Mode::kAuto));
  std::string sent;
  deliver(session, "GE", InputPath::kReceive, sent);
  deliver(session, "T /ge HTTP/1.1\r\n\r\n", InputPath::kReadBuffer, sent);
  const std::vector<Response> responses = parse_responses(sent);
  ASSERT_EQ(responses.size(), 1u);
  expect_echo(responses[0], "/ge");
}

// ---- raw echo -------------------------------------------------------------------------------------------------------

std::string every_byte_value() {
  std::string bytes;
  for (int c = 0; c < 256; ++c) bytes += static_cast<char>(c);
  return bytes;
}

TEST(RawEcho, EchoesAllByteValuesExactly) {
  const std::string input = every_byte_value() + every_byte_value();
  for (Mode mode : {Mode::kEcho, Mode::kAuto}) {
    const Outcome outcome = feed_every_split(config_of(mode), input);
    EXPECT_EQ(outcome.sent, input);
    EXPECT_EQ(outcome.mode, Mode::kEcho);
    EXPECT_FALSE(outcome.done);
    EXPECT_TRUE(outcome.wants_input);
  }
}

TEST(RawEcho, HalfCloseSendsEverythingOwedThenDone) {
  const std::string input = every_byte_value();
  const Outcome outcome = feed_every_split(config_of(Mode::kEcho), input, /*eof=*/true);
  EXPECT_EQ(outcome.sent, input);
  EXPECT_TRUE(outcome.done);
  EXPECT_FALSE(outcome.wants_input);
}

TEST(RawEcho, HalfCloseWithUnsentOutputIsDoneOnlyOnceSent) {
  Session session(config_of(Mode::kEcho));
  const std::string input = pattern(0, 3 * kReadChunk + 17);
  std::size_t received = 0;
  while (received < input.size()) {
    const std::size_t n = read_into(session, std::string_view(input).substr(received));
    ASSERT_NE(n, 0u);
    received += n;
  }
  session.receive_eof();
  EXPECT_FALSE(session.wants_input());
  EXPECT_TRUE(session.read_buffer().empty());
  std::string sent;
  while (session.has_output()) {
    EXPECT_FALSE(session.done());
    const std::span<const char> out = session.pending_output();
    ASSERT_FALSE(out.empty());
    // A slow peer: a few bytes per write.
    const std::size_t n = std::min<std::size_t>(out.size(), 4093);
    sent.append(out.data(), n);
    session.consume_output(n);
  }
  EXPECT_TRUE(session.done());
  EXPECT_TRUE(sent == input) << "sent " << sent.size() << " bytes of " << input.size();
}

TEST(RawEcho, NeverClosesFirstNorSendsAnythingExtra) {
  Session session(config_of(Mode::kEcho));
  std::string sent;
  deliver(session, "ping\n", InputPath::kReadBuffer, sent);
  deliver(session, "pong\n", InputPath::kReceive, sent);
  EXPECT_EQ(sent, "ping\npong\n");
  EXPECT_FALSE(session.has_output());
  EXPECT_FALSE(session.done());
  EXPECT_TRUE(session.wants_input());
  session.receive_eof();
  drain(session, sent);
  EXPECT_EQ(sent, "ping\npong\n");
  EXPECT_TRUE(session.done());
}

TEST(RawEcho, LargeInputEchoedInOrderThroughBothPaths) {
  // 8 MiB in reads of whatever size read_buffer() offers, or of 100000 bytes through receive(); the peer reads
  // back in uneven amounts, so the output buffer is compacted and grown along the way.
  const std::string input = pattern(0, 8 << 20);
  for (InputPath path : {InputPath::kReadBuffer, InputPath::kReceive}) {
    SCOPED_TRACE(name_of(path));
    Session session(config_of(Mode::kAuto));
    std::string sent;
    std::size_t received = 0;
    std::size_t turn = 0;
    while (sent.size() < input.size()) {
      if (received < input.size() && session.wants_input()) {
        if (path == InputPath::kReceive) {
          const std::size_t n = std::min<std::size_t>(100000, input.size() - received);
          session.receive({input.data() + received, n});
          received += n;
        } else {
          const std::size_t n = read_into(session, std::string_view(input).substr(received));
          ASSERT_NE(n, 0u);
          received += n;
        }
      }
      const std::span<const char> out = session.pending_output();
      const std::size_t n = std::min(out.size(), std::size_t{1} + (turn++ * 7919) % 150000);
      sent.append(out.data(), n);
      session.consume_output(n);
    }
    EXPECT_EQ(session.mode(), Mode::kEcho);
    ASSERT_EQ(sent.size(), input.size());
    EXPECT_TRUE(sent == input) << "the echo differs first at byte "
                               << (std::mismatch(sent.begin(), sent.end(), input.begin()).first - sent.begin());
    EXPECT_FALSE(session.has_output());
  }
}

TEST(RawEcho, ModeEchoTreatsHttpRequestAsRawBytes) {
  const std::string input = "GET /hello HTTP/1.1\r\nHost: h\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx";
  const Outcome outcome = feed_every_split(config_of(Mode::kEcho), input);
  EXPECT_EQ(outcome.mode, Mode::kEcho);
  EXPECT_EQ(outcome.sent, input);
  EXPECT_FALSE(outcome.done);
}

TEST(RawEcho, ModeEchoIsDecidedBeforeAnyByte) {
  Session session(config_of(Mode::kEcho));
  EXPECT_EQ(session.mode(), Mode::kEcho);
  std::string sent;
  deliver(session, "G", InputPath::kReadBuffer, sent);
  EXPECT_EQ(sent, "G");
}

TEST(RawEcho, NoInputWantedAfterHalfClose) {
  Session session(config_of(Mode::kEcho));
  session.receive_eof();
  EXPECT_FALSE(session.wants_input());
  EXPECT_TRUE(session.read_buffer().empty());
  EXPECT_TRUE(session.done());
}

TEST(RawEcho, IdleSessionHoldsNoBuffer) {
  // The per-connection cost of an idle connection is the Session object alone (docs/PROTOCOL.md asks for nothing more,
  // and the comparison counts it): its buffers are released once drained.
  EXPECT_LE(sizeof(Session), 128u);
  if (!heap_in_use()) GTEST_SKIP() << "heap use is not observable with this allocator (sanitizer build?)";
  for (Mode mode : {Mode::kAuto, Mode::kEcho}) {
    for (InputPath path : {InputPath::kReadBuffer, InputPath::kReceive}) {
      std::string sent;
      sent.reserve(64);
      Session session(config_of(mode));
      const std::size_t before = *heap_in_use();
      deliver(session, "hello, idle", path, sent);
      const std::size_t idle = *heap_in_use();
      EXPECT_EQ(sent, "hello, idle");
      EXPECT_LT(idle - std::min(idle, before), 256u)
          << "an idle raw echo session holds " << idle - before << " bytes of heap (" << name_of(path) << ")";
    }
  }
}

// ---- backpressure ---------------------------------------------------------------------------------------------------

TEST(Backpressure, RawEchoReadBufferNeverOffersMoreThanTheRoomLeft) {
  Session session(config_of(Mode::kEcho));
  std::size_t received = 0;
  while (session.wants_input()) {
    const std::span<char> room = session.read_buffer();
    ASSERT_FALSE(room.empty()) << "after " << received << " bytes";
    ASSERT_LE(received + room.size(), kMaxPendingOutput) << "read_buffer() offers past the bound";
    for (std::size_t i = 0; i < room.size(); ++i) room[i] = pattern_byte(received + i);
    session.commit_read(room.size());
    received += room.size();
  }
  EXPECT_EQ(received, kMaxPendingOutput);
  EXPECT_TRUE(session.read_buffer().empty());
  EXPECT_TRUE(session.has_output());
  EXPECT_FALSE(session.done());

  // The peer reads 10 bytes: there is room for exactly 10 more.
  std::string sent;
  std::span<const char> out = session.pending_output();
  sent.append(out.data(), 10);
  session.consume_output(10);
  EXPECT_TRUE(session.wants_input());
  const std::span<char> room = session.read_buffer();
  ASSERT_FALSE(room.empty());
  EXPECT_LE(room.size(), 10u);
  for (std::size_t i = 0; i < room.size(); ++i) room[i] = pattern_byte(received + i);
  session.commit_read(room.size());
  received += room.size();

  drain(session, sent);
  EXPECT_TRUE(sent == pattern(0, received)) << "the echo was reordered or lost bytes under backpressure";
  EXPECT_TRUE(session.wants_input());
}

TEST(Backpressure, WantsInputFollowsPendingOutputThroughReceive) {
  Session session(config_of(Mode::kEcho));
  const std::string chunk = pattern(0, 64 * 1024);
  std::size_t pending = 0;
  while (session.wants_input()) {
    ASSERT_LT(pending, kMaxPendingOutput);
    session.receive({chunk.data(), chunk.size()});
    pending += chunk.size();
  }
  EXPECT_GE(pending, kMaxPendingOutput);
  EXPECT_TRUE(session.read_buffer().empty());
  session.consume_output(pending - kMaxPendingOutput);
  EXPECT_FALSE(session.wants_input()) << "at exactly kMaxPendingOutput the session must not read";
  session.consume_output(1);
  EXPECT_TRUE(session.wants_input());
  EXPECT_FALSE(session.read_buffer().empty());
}

TEST(Backpressure, InputRoomIsExactlyWhatAReceiveMayAddBeforeTheSessionStopsReading) {
  // io_uring caps a multishot recv at input_room(): receiving that much must end wants_input(), and no less may.
  Session session(config_of(Mode::kEcho));
  EXPECT_EQ(session.input_room(), kMaxPendingOutput);
  const std::string first = pattern(0, 1000);
  session.receive({first.data(), first.size()});
  ASSERT_EQ(session.input_room(), kMaxPendingOutput - first.size());
  const std::string rest = pattern(first.size(), session.input_room() - 1);
  session.receive({rest.data(), rest.size()});
  EXPECT_TRUE(session.wants_input());
  EXPECT_EQ(session.input_room(), 1u);
  session.receive({"x", 1});
  EXPECT_FALSE(session.wants_input());
  EXPECT_EQ(session.input_room(), 0u);
  session.consume_output(100);
  EXPECT_EQ(session.input_room(), 100u);
  session.receive_eof();
  EXPECT_EQ(session.input_room(), 0u) << "after the peer's half-close nothing more is taken";
}

TEST(Backpressure, HttpStopsReadingWhileResponsesArePending) {
  // Pipelined requests whose responses add up past the bound, delivered before the peer reads anything.
  Session session(config_of(Mode::kHttp, 1 << 20));
  const std::string body = pattern(0, 300 * 1024);
  const std::string request = "POST /p HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  int requests = 0;
  while (session.wants_input()) {
    session.receive({request.data(), request.size()});
    ++requests;
    ASSERT_LT(requests, 10);
  }
  EXPECT_EQ(requests, 4);
  EXPECT_TRUE(session.read_buffer().empty());
  EXPECT_FALSE(session.done());
  std::string sent;
  drain(session, sent);
  EXPECT_TRUE(session.wants_input());
  const std::vector<Response> responses = parse_responses(sent);
  ASSERT_EQ(responses.size(), 4u);
  for (const Response& response : responses) expect_echo(response, body);
}

TEST(Backpressure, HttpBodyStreamsThroughABoundedOutput) {
  // A 3 MiB body, read only while the session wants input, while the peer reads only once a lot is pending and
  // then only part of it: reading stops, output stays near the bound (one read past it at most), the body arrives whole.
  const std::string body = pattern(7, 3 << 20);
  const std::string request = "PUT /big HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  Session session(config_of(Mode::kAuto, 4 << 20));
  std::string sent;
  std::size_t received = 0;
  std::size_t most_pending = 0;
  int throttled = 0;
  while (received < request.size() || session.has_output()) {
    if (received < request.size() && session.wants_input()) {
      const std::size_t n = read_into(session, std::string_view(request).substr(received));
      ASSERT_NE(n, 0u);
      received += n;
    }
    const std::span<const char> out = session.pending_output();
    most_pending = std::max(most_pending, out.size());
    if (!session.wants_input() && received < request.size()) {
      ++throttled;
      EXPECT_TRUE(session.read_buffer().empty());
    }
    if (out.size() >= kMaxPendingOutput || received == request.size()) {
      const std::size_t n = std::min<std::size_t>(out.size(), 200000);
      sent.append(out.data(), n);
      session.consume_output(n);
    }
  }
  EXPECT_GT(throttled, 0);
  EXPECT_LE(most_pending, kMaxPendingOutput + kReadChunk + 256);
  const std::vector<Response> responses = parse_responses(sent);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status_line, "HTTP/1.1 200 OK");
  EXPECT_TRUE(responses[0].body == body) << "the echoed body differs";
}

// ---- HTTP: echo ---------------------------------------------------------------------------------------------------

TEST(Http, GetAnswersTheTarget) {
  expect_single_echo("GET /hello HTTP/1.1\r\nHost: localhost\r\nUser-Agent: t\r\n\r\n", "/hello");
  expect_single_echo("GET /a/b?c=d&e=%20 HTTP/1.1\r\n\r\n", "/a/b?c=d&e=%20");
}

TEST(Http, PostEchoesTheContentLengthBody) {
  expect_single_echo("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world", "hello world");
  expect_single_echo("PUT /p HTTP/1.1\r\ncontent-length: 3\r\n\r\n\r\n\x00"s, "\r\n\x00"s);
}

TEST(Http, BodyWithAllByteValuesEchoedExactly) {
  const std::string body = every_byte_value();
  expect_single_echo("POST / HTTP/1.1\r\nContent-Length: 256\r\n\r\n" + body, body);
}

TEST(Http, ChunkedBodyEchoedDecodedWithContentLength) {
  expect_single_echo(
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "6;flag\r\n world\r\n"
      "B;q=\"quoted; value\"\r\n 0123456789\r\n"
      "0\r\nTrailer-One: 1\r\nTrailer-Two: two\r\n\r\n",
      "hello world 0123456789");
  expect_single_echo("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "abc");
  expect_single_echo("POST /c HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n00003\r\nabc\r\n000\r\n\r\n", "abc");
}

TEST(Http, ChunkWithSeveralExtensionsAccepted) {
  // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ).
  expect_single_echo("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a;b=c\r\nhello\r\n0\r\n\r\n", "hello");
  expect_single_echo("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c=d\r\nhello\r\n0\r\n\r\n", "hello");
  expect_single_echo("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c\r\nhello\r\n0;x=y;z\r\n\r\n", "hello");
}

TEST(Http, ChunkExtensionWithQuotedPairAccepted) {
  // RFC 9110 §5.6.4: a quoted-string may hold an escaped quote.
  expect_single_echo("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;q=\"a\\\"b\"\r\nhello\r\n0\r\n\r\n",
                     "hello");
}

TEST(Http, ChunkExtensionWithOptionalWhitespaceAccepted) {
  // BWS ("bad" whitespace) is in the chunk-ext grammar of RFC 9112 §7.1.1; RFC 9110 §5.6.3 has recipients accept it.
  expect_single_echo("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 ;a=b\r\nhello\r\n0\r\n\r\n", "hello");
  expect_single_echo("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5; a=b\r\nhello\r\n0\r\n\r\n", "hello");
  expect_single_echo("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a = b\r\nhello\r\n0\r\n\r\n", "hello");
}

TEST(Http, ChunkedBodyFollowedByAnotherRequestIsFramedExactly) {
  const Outcome outcome = feed_auto(
      "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1f\r\n" + std::string(31, 'z') +
      "\r\n0\r\nX-Trailer: yes\r\n\r\nGET /after HTTP/1.1\r\n\r\n");
  const std::vector<Response> responses = parse_responses(outcome.sent);
  ASSERT_EQ(responses.size(), 2u);
  expect_echo(responses[0], std::string(31, 'z'));
  expect_echo(responses[1], "/after");
}

TEST(Http, ZeroLengthBodyCountsAsNone) {
  expect_single_echo("POST /z HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "/z");
  expect_single_echo("POST /zc HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "/zc");
}

TEST(Http, HeadGetsTheHeadersOfGetWithoutBody) {
  const Outcome outcome = feed_auto("HEAD /abc HTTP/1.1\r\n\r\nGET /abc HTTP/1.1\r\n\r\n");
  const std::vector<Response> responses = parse_responses(outcome.sent, {true, false});
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].status_line, responses[1].status_line);
  EXPECT_EQ(responses[0].headers, responses[1].headers);
  EXPECT_EQ(responses[0].header("Content-Length").value_or("none"), "4");
  EXPECT_EQ(responses[0].body, "");
  expect_echo(responses[1], "/abc");
  EXPECT_FALSE(outcome.done);
}

TEST(Http, HeadWithBodyGetsItsLengthButNoBody) {
  const Outcome outcome = feed_auto("HEAD /h HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\n\r\n");
  const std::vector<Response> responses = parse_responses(outcome.sent, {true, false});
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(responses[0].header("Content-Length").value_or("none"), "5");
  expect_echo(responses[1], "/next");
}

TEST(Http, ModeHttpAnswersARequest) {
  expect_single_echo("GET /m HTTP/1.1\r\n\r\n", "/m", config_of(Mode::kHttp));
}

TEST(Http, ModeHttpAnswersNonHttpWith400) {
  expect_error("hello world\r\n\r\n", 400, config_of(Mode::kHttp));
  expect_error("get / HTTP/1.1\r\n\r\n", 400, config_of(Mode::kHttp));
  expect_error("\x00\x01\x02\xff\r\n\r\n"s, 400, config_of(Mode::kHttp));
}

TEST(Http, ModeHttpDecidesBeforeAnyByte) {
  Session session(config_of(Mode::kHttp));
  EXPECT_EQ(session.mode(), Mode::kHttp);
}

// ---- HTTP: persistence ----------------------------------------------------------------------------------------------

TEST(Http, Http11KeepsAliveByDefault) {
  const Outcome outcome = feed_auto("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
  const std::vector<Response> responses = parse_responses(outcome.sent);
  ASSERT_EQ(responses.size(), 2u);
  for (const Response& response : responses) EXPECT_NE(connection_of(response), "close");
  EXPECT_FALSE(outcome.done);
  EXPECT_TRUE(outcome.wants_input);
}

TEST(Http, ConnectionCloseIsAnsweredWithCloseThenDone) {
  for (std::string_view value : {"close", "Close", "CLOSE"}) {
    const Outcome outcome = feed_auto("GET /bye HTTP/1.1\r\nConnection: " + std::string(value) + "\r\n\r\n");
    const std::vector<Response> responses = parse_responses(outcome.sent);
    ASSERT_EQ(responses.size(), 1u) << value;
    expect_echo(responses[0], "/bye");
    EXPECT_EQ(connection_of(responses[0]), "close") << value;
    EXPECT_TRUE(outcome.done) << value;
    EXPECT_FALSE(outcome.wants_input) << value;
  }
}

TEST(Http, ConnectionCloseIsDoneOnlyOnceTheResponseIsSent) {
  Session session(config_of(Mode::kAuto));
  session.receive(std::string_view("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
  EXPECT_FALSE(session.wants_input());
  EXPECT_TRUE(session.read_buffer().empty());
  EXPECT_TRUE(session.has_output());
  EXPECT_FALSE(session.done());
  const std::size_t n = session.pending_output().size();
  session.consume_output(n - 1);
  EXPECT_FALSE(session.done());
  session.consume_output(1);
  EXPECT_TRUE(session.done());
}

TEST(Http, BytesAfterConnectionCloseAreIgnored) {
  const Outcome outcome =
      feed_auto("GET /1 HTTP/1.1\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\n\r\nnot even http\r\n");
  const std::vector<Response> responses = parse_responses(outcome.sent);
  ASSERT_EQ(responses.size(), 1u);
  expect_echo(responses[0], "/1");
  EXPECT_TRUE(outcome.done);

  Session session(config_of(Mode::kAuto));
  std::string sent;
  deliver(session, "GET /1 HTTP/1.1\r\nConnection: close\r\n\r\n", InputPath::kReceive, sent);
  session.receive(std::string_view("GET /2 HTTP/1.1\r\n\r\n"));
  EXPECT_FALSE(session.has_output());
  EXPECT_TRUE(session.done());
}

TEST(Http, Http10ClosesByDefault) {
  const Outcome outcome = feed_auto("GET /old HTTP/1.0\r\nHost: h\r\n\r\nGET /ignored HTTP/1.0\r\n\r\n");
  const std::vector<Response> responses = parse_responses(outcome.sent);
  ASSERT_EQ(responses.size(), 1u);
  expect_echo(responses[0], "/old");
  EXPECT_EQ(connection_of(responses[0]), "close");
  EXPECT_TRUE(outcome.done);
}

TEST(Http, Http10KeepAliveStaysOpenAndSaysKeepAlive) {
  const Outcome outcome = feed_auto(
      "GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
      "POST /2 HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\n\r\ntwo");
  const std::vector<Response> responses = parse_responses(outcome.sent);
  ASSERT_EQ(responses.size(), 2u);
  expect_echo(responses[0], "/1");
  expect_echo(responses[1], "two");
  EXPECT_EQ(connection_of(responses[0]), "keep-alive");
  EXPECT_EQ(connection_of(responses[1]), "keep-alive");
  EXPECT_FALSE(outcome.done);
  EXPECT_TRUE(outcome.wants_input);
}

TEST(Http, Http10KeepAliveThenPlainRequestCloses) {
  const Outcome outcome = feed_auto("GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n");
  const std::vector<Response> responses = parse_responses(outcome.sent);
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(connection_of(responses[0]), "keep-alive");
  EXPECT_EQ(connection_of(responses[1]), "close");
  EXPECT_TRUE(outcome.done);
}

TEST(Http, HalfCloseAfterARequestSendsTheResponseThenDone) {
  const Outcome outcome = feed_auto("GET /last HTTP/1.1\r\n\r\n", /*eof=*/true);
  const std::vector<Response> responses = parse_responses(outcome.sent);
  ASSERT_EQ(responses.size(), 1u);
  expect_echo(responses[0], "/last");
  EXPECT_TRUE(outcome.done);
}

TEST(Http, PipelinedRequestsAnsweredInOrder) {
  const Outcome outcome = feed_auto(
      "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /two HTTP/1.1\r\nContent-Length: 3\r\n\r\ntwo"
      "HEAD /three HTTP/1.1\r\n\r\n"
      "PATCH /four HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nfour\r\n0\r\n\r\n"
      "DELETE /five HTTP/1.1\r\n\r\n"
      "OPTIONS /six HTTP/1.1\r\n\r\n");
  const std::vector<Response> responses = parse_responses(outcome.sent, {false, false, true, false, false, false});
  ASSERT_EQ(responses.size(), 6u);
  expect_echo(responses[0], "/one");
  expect_echo(responses[1], "two");
  EXPECT_EQ(responses[2].header("Content-Length").value_or("none"), "6");
  expect_echo(responses[3], "four");
  expect_echo(responses[4], "/five");
  expect_echo(responses[5], "/six");
  EXPECT_FALSE(outcome.done);
}

TEST(Http, ManyPipelinedRequestsInOneReadAllAnswered) {
  std::string input;
  for (int i = 0; i < 500; ++i) input += "GET /" + std::to_string(i) + " HTTP/1.1\r\n\r\n";
  Session session(config_of(Mode::kAuto));
  std::string sent;
  deliver(session, input, InputPath::kReadBuffer, sent);
  const std::vector<Response> responses = parse_responses(sent);
  ASSERT_EQ(responses.size(), 500u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(responses[i].body, "/" + std::to_string(i));
}

TEST(Http, MovedSessionContinuesTheExchange) {
  Session first(config_of(Mode::kAuto));
  std::string sent;
  deliver(first, "POST /m HTTP/1.1\r\nContent-Length: 4\r\n\r\nab", InputPath::kReceive, sent);
  Session second(std::move(first));
  deliver(second, "cd", InputPath::kReadBuffer, sent);
  const std::vector<Response> responses = parse_responses(sent);
  ASSERT_EQ(responses.size(), 1u);
  expect_echo(responses[0], "abcd");
}

// ---- HTTP: Expect ---------------------------------------------------------------------------------------------------

TEST(Http, ExpectContinueGets100BeforeTheResponse) {
  const Outcome outcome =
      feed_auto("POST /e HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabcGET /n HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(outcome.sent.starts_with(kContinue)) << printable(outcome.sent);
  const std::vector<Response> responses = parse_responses(outcome.sent);
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[0].status, 100);
  expect_echo(responses[1], "abc");
  expect_echo(responses[2], "/n");
}

TEST(Http, ExpectContinueIsSentBeforeTheBodyArrives) {
  for (std::string_view framing : {"Content-Length: 5", "Transfer-Encoding: chunked"}) {
    SCOPED_TRACE(std::string(framing));
    Session session(config_of(Mode::kAuto));
    std::string sent;
    deliver(session, "PUT /e HTTP/1.1\r\nExpect: 100-continue\r\n" + std::string(framing) + "\r\n\r\n",
            InputPath::kReadBuffer, sent);
    ASSERT_TRUE(sent.starts_with(kContinue)) << printable(sent);
    const bool chunked = framing.starts_with("Transfer");
    deliver(session, chunked ? "5\r\nhello\r\n0\r\n\r\n" : "hello", InputPath::kReadBuffer, sent);
    const std::vector<Response> responses = parse_responses(sent);
    ASSERT_EQ(responses.size(), 2u);
    EXPECT_EQ(responses[0].status, 100);
    expect_echo(responses[1], "hello");
  }
}

TEST(Http, ExpectContinueCaseInsensitive) {
  const Outcome outcome = feed_auto("POST /e HTTP/1.1\r\nexpect: 100-Continue\r\ncontent-length: 1\r\n\r\nx");
  EXPECT_TRUE(outcome.sent.starts_with(kContinue)) << printable(outcome.sent);
}

// ---- HTTP: --max-body -----------------------------------------------------------------------------------------------

TEST(Http, ContentLengthBodyOfExactlyMaxBodyIsEchoed) {
  expect_single_echo("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", "0123456789", config_of(Mode::kAuto, 10));
}

TEST(Http, ContentLengthBodyOverMaxBodyGets413) {
  expect_error("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n0123456789a", 413, config_of(Mode::kAuto, 10));
  // Refused from the header alone, before any of the body arrives.
  expect_error("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 413, config_of(Mode::kAuto, 10));
  expect_error("POST / HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n", 413, config_of(Mode::kAuto, 10));
}

TEST(Http, ChunkedBodyOfExactlyMaxBodyIsEchoed) {
  expect_single_echo("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n",
                     "0123456789", config_of(Mode::kAuto, 10));
}

TEST(Http, ChunkedBodyOverMaxBodyGets413) {
  // The decoded size counts: 5 + 6 = 11 bytes, though each chunk alone is under the limit.
  expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n6\r\n56789a\r\n0\r\n\r\n", 413,
               config_of(Mode::kAuto, 10));
  expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n0123456789a\r\n0\r\n\r\n", 413,
               config_of(Mode::kAuto, 10));
}

TEST(Http, DefaultMaxBodyIsOneMebibyteInclusive) {
  const std::string body = pattern(3, kDefaultMaxBody);
  Session session(config_of(Mode::kAuto));
  std::string sent;
  deliver(session, "POST / HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
          InputPath::kReceive, sent);
  std::vector<Response> responses = parse_responses(sent);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status_line, "HTTP/1.1 200 OK");
  EXPECT_TRUE(responses[0].body == body);

  Session over(config_of(Mode::kAuto));
  sent.clear();
  deliver(over, "POST / HTTP/1.1\r\nContent-Length: " + std::to_string(body.size() + 1) + "\r\n\r\n",
          InputPath::kReceive, sent);
  responses = parse_responses(sent);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 413);
  EXPECT_TRUE(over.done());
}

// ---- HTTP: 400, 501, 431 --------------------------------------------------------------------------------------------

TEST(Http, HeaderLineWithoutColonGets400) {
  expect_error("GET / HTTP/1.1\r\nHost: h\r\nNoColonHere\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\nX\r\n\r\n", 400);
}

TEST(Http, WhitespaceBeforeColonGets400) {
  expect_error("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400);
  expect_error("POST / HTTP/1.1\r\nContent-Length : 3\r\n\r\nabc", 400);
}

TEST(Http, ObsoleteLineFoldingGets400) {
  expect_error("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n", 400);
  // A first header line that starts with whitespace.
  expect_error("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400);
}

TEST(Http, BareCrGets400) {
  expect_error("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\nX-A: a\r\r\n\r\n", 400);
  expect_error("GET /a\rb HTTP/1.1\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\rX: y\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\nX-A: a\r\n\r\r\n", 400);
}

TEST(Http, NonNumericContentLengthGets400) {
  expect_error("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400);
  expect_error("POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabc", 400);
  expect_error("POST / HTTP/1.1\r\nContent-Length: 0x3\r\n\r\nabc", 400);
  expect_error("POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc", 400);
  expect_error("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400);
}

TEST(Http, NegativeContentLengthGets400) {
  expect_error("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400);
}

TEST(Http, DifferingContentLengthsGet400) {
  expect_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400);
  expect_error("POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\nabcd", 400);
}

TEST(Http, ContentLengthAndTransferEncodingTogetherGet400) {
  expect_error("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400);
  expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400);
}

TEST(Http, TransferEncodingInHttp10Gets400) {
  expect_error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400);
}

TEST(Http, BadChunkSizeGets400) {
  expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400);
  expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n", 400);
  expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n", 400);
}

TEST(Http, RequestLineWithoutVersionGets400) {
  expect_error("GET /\r\n\r\n", 400);
  expect_error("GET /\r\nHost: h\r\n\r\n", 400);
}

TEST(Http, TransferEncodingOtherThanChunkedGets501) {
  expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc", 501);
}

TEST(Http, ConnectGets501WithOrWithoutBytesAfterIt) {
  // CONNECT is not among auto mode's methods (it would be raw echo there): in HTTP mode it asks for a tunnel.
  expect_error("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501, config_of(Mode::kHttp));
  expect_error("CONNECT h:1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n", 501,
               config_of(Mode::kHttp));
}

// A request whose header section, from the request line to the empty line that ends it, is n bytes.
std::string request_with_header_section_of(std::size_t n) {
  const std::string start = "GET /big HTTP/1.1\r\nX-Pad: ";
  const std::string end = "\r\n\r\n";
  return start + std::string(n - start.size() - end.size(), 'p') + end;
}

TEST(Http, HeaderSectionOfExactly8KiBIsAccepted) {
  const std::string request = request_with_header_section_of(kMaxHeaderBytes);
  ASSERT_EQ(request.size(), 8192u);
  expect_single_echo(request, "/big");
}

TEST(Http, HeaderSectionOver8KiBGets431) {
  expect_error(request_with_header_section_of(kMaxHeaderBytes + 1), 431);
  // The request line counts too.
  expect_error("GET /" + std::string(kMaxHeaderBytes, 'a') + " HTTP/1.1\r\n\r\n", 431);
}

TEST(Http, OversizedHeaderSectionIsRefusedBeforeItEnds) {
  // A peer that never ends its headers is cut off once it passes the limit, not buffered forever.
  Session session(config_of(Mode::kAuto));
  std::string sent;
  deliver(session, "GET / HTTP/1.1\r\n", InputPath::kReadBuffer, sent);
  const std::string line = "X-Pad: " + std::string(100, 'p') + "\r\n";
  for (int i = 0; i < 200 && session.wants_input(); ++i) deliver(session, line, InputPath::kReadBuffer, sent);
  const std::vector<Response> responses = parse_responses(sent);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 431);
  EXPECT_TRUE(session.done());
}

TEST(Http, HeaderLimitAppliesToEachRequestAlone) {
  const std::string request = request_with_header_section_of(6000);
  const Outcome outcome = feed_auto(request + request + request);
  const std::vector<Response> responses = parse_responses(outcome.sent);
  ASSERT_EQ(responses.size(), 3u);
  for (const Response& response : responses) expect_echo(response, "/big");
}

TEST(Http, ErrorAfterAValidRequestComesAfterItsResponse) {
  const Outcome outcome = feed_auto("GET /ok HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nBad Header: x\r\n\r\nGET /no HTTP/1.1\r\n\r\n");
  const std::vector<Response> responses = parse_responses(outcome.sent);
  ASSERT_EQ(responses.size(), 2u);
  expect_echo(responses[0], "/ok");
  EXPECT_EQ(responses[1].status, 400);
  EXPECT_EQ(connection_of(responses[1]), "close");
  EXPECT_TRUE(outcome.done);
}

TEST(Http, BytesAfterAnErrorAreIgnored) {
  expect_error("GET / HTTP/1.1\r\nNoColon\r\n\r\nGET /second HTTP/1.1\r\n\r\n", 400);
  Session session(config_of(Mode::kAuto));
  std::string sent;
  deliver(session, "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", InputPath::kReadBuffer, sent);
  EXPECT_TRUE(session.done());
  EXPECT_TRUE(session.read_buffer().empty());
  session.receive(std::string_view("GET /more HTTP/1.1\r\n\r\n"));
  EXPECT_FALSE(session.has_output());
  EXPECT_TRUE(session.done());
}

TEST(Http, IdleKeepAliveSessionHoldsNoBuffer) {
  if (!heap_in_use()) GTEST_SKIP() << "heap use is not observable with this allocator (sanitizer build?)";
  std::string sent;
  sent.reserve(4096);
  Session session(config_of(Mode::kAuto));
  const std::size_t before = *heap_in_use();
  deliver(session, "POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", InputPath::kReadBuffer, sent);
  deliver(session, "GET /g HTTP/1.1\r\n\r\n", InputPath::kReceive, sent);
  const std::size_t idle = *heap_in_use();
  EXPECT_EQ(parse_responses(sent).size(), 2u);
  // The parser's state stays while the connection is HTTP; no read or output buffer does.
  EXPECT_LT(idle - std::min(idle, before), 1024u) << "an idle HTTP session holds " << idle - before << " bytes";
}

}  // namespace
}  // namespace iomodels
