// The server contract of docs/PROTOCOL.md, checked end to end over real sockets against every row of models.txt
// (tests/servers.hpp). Each test starts its own server on 127.0.0.1 port 0, learns the port from the banner, and
// leaves it to ServerTest::TearDown to stop the server and check its exit status, zombies and leftover processes.
//
// The session's parsing and splitting at every byte boundary are unit-tested in session_test.cpp; here each rule
// gets one or two cases, enough to show that a model drives the session correctly.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "harness/server_process.hpp"
#include "tests/sanitizer_support.hpp"
#include "tests/server_fixture.hpp"
#include "tests/servers.hpp"
#include "tests/test_support.hpp"

namespace iomodels::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMiB = 1 << 20;
// The backpressure tests stop writing here even if the server never stops reading.
constexpr std::size_t kBackpressureBytes = 64 * kMiB;
// The memory a server may gain while a peer refuses to read (docs/PROTOCOL.md allows 1 MiB of pending output).
constexpr std::size_t kMaxGrowth = 16 * kMiB;
// A write that makes no progress for this long means the server has stopped taking bytes.
constexpr Millis kStallWindow{300};
// docs/PROTOCOL.md: SIGINT / SIGTERM exit 0 within one second.
constexpr Millis kShutdownLimit{1000};

// The echo of payload comes back whole and unchanged.
::testing::AssertionResult echoes(Client& client, std::string_view payload, Millis timeout = kIoTimeout) {
  ReadResult echo = echo_exchange(client, payload, timeout);
  if (echo.end != ReadEnd::kComplete) {
    return ::testing::AssertionFailure() << "echo of " << payload.size() << " bytes: " << echo.describe();
  }
  if (echo.data != payload) return ::testing::AssertionFailure() << first_difference(payload, echo.data);
  return ::testing::AssertionSuccess();
}

bool exited_with(const std::optional<int>& status, int code) {
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == code;
}

std::string status_text(const std::optional<int>& status) {
  return status ? describe_wait_status(*status) : std::string("still running at the deadline");
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::size_t line_count(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

// The arguments that set a pool's worker count; other models get none.
std::vector<std::string> workers(const ServerSpec& spec, int count) {
  if (!spec.limit_is_threads) return {};
  return {"--threads", std::to_string(count)};
}

// ---------------------------------------------------------------------------------------------------------------
// Start-up and options

class Startup : public ServerTest {};

TEST_P(Startup, PrintsBannerWithBoundPortAndNothingElseOnStdout) {
  ASSERT_NO_FATAL_FAILURE(start());
  EXPECT_EQ(server().banner(), "listening on 127.0.0.1:" + std::to_string(server().port()));
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  EXPECT_TRUE(echoes(client, "hello"));
  EXPECT_EQ(server().stdout_text(), server().banner() + "\n");
}

TEST_P(Startup, HelpGoesToStdoutAndExitsZero) {
  Finished run = run_to_exit(spec(), {"--help"});
  EXPECT_TRUE(exited_with(run.status, 0)) << status_text(run.status) << "; stderr: " << run.err;
  EXPECT_NE(run.out.find("--port"), std::string::npos) << "usage without --port: " << run.out;
  EXPECT_EQ(run.err, "");
  if (spec().limit > 0) {
    EXPECT_NE(lowercase(run.out).find("limit"), std::string::npos) << "--help does not state the model's limit";
  }
  if (spec().threads == ThreadsFlag::kRequired) {
    EXPECT_NE(run.out.find("--threads"), std::string::npos) << "--help does not document --threads";
  }
}

TEST_P(Startup, UnknownOptionExitsTwoWithOneLineNamingIt) {
  Finished run = run_to_exit(spec(), {"--port", "0", "--no-such-option"});
  EXPECT_TRUE(exited_with(run.status, 2)) << status_text(run.status);
  EXPECT_EQ(line_count(run.err), 1u) << "stderr: " << run.err;
  EXPECT_NE(run.err.find("no-such-option"), std::string::npos) << "stderr: " << run.err;
  EXPECT_EQ(run.out, "");
}

TEST_P(Startup, BadOptionValueExitsTwoNamingTheOption) {
  Finished run = run_to_exit(spec(), {"--port", "seventy"});
  EXPECT_TRUE(exited_with(run.status, 2)) << status_text(run.status);
  EXPECT_EQ(line_count(run.err), 1u) << "stderr: " << run.err;
  EXPECT_NE(run.err.find("port"), std::string::npos) << "stderr: " << run.err;
}

TEST_P(Startup, PortInUseExitsOneNamingTheAddress) {
  BusyPort busy = occupy_port();
  ASSERT_TRUE(busy.fd) << "could not make a port busy";
  std::vector<std::string> args = spec().args;
  args.insert(args.end(), {"--host", "127.0.0.1", "--port", std::to_string(busy.port)});
  Finished run = run_to_exit(spec(), args);
  EXPECT_TRUE(exited_with(run.status, 1)) << status_text(run.status) << "; stdout: " << run.out;
  const std::string expected = "bind 127.0.0.1:" + std::to_string(busy.port) + ": Address already in use";
  EXPECT_NE(run.err.find(expected), std::string::npos) << "stderr: " << run.err;
  EXPECT_EQ(run.out, "") << "the banner came out although nothing listens";
}

// SO_REUSEPORT is set only when one server opens several listeners: a lone server keeps its port to itself, so a
// second copy started by mistake fails to bind instead of silently taking half the connections.
TEST_P(Startup, ASecondServerOnTheSamePortExitsOne) {
  const auto& shape = spec().args;
  for (const char* several : {"--threads", "--processes"}) {
    if (std::find(shape.begin(), shape.end(), several) != shape.end()) {
      GTEST_SKIP() << "several loops or processes share their port with SO_REUSEPORT by design";
    }
  }
  ASSERT_NO_FATAL_FAILURE(start());
  std::vector<std::string> args = shape;
  args.insert(args.end(), {"--host", "127.0.0.1", "--port", std::to_string(server().port())});
  Finished run = run_to_exit(spec(), args);
  EXPECT_TRUE(exited_with(run.status, 1)) << status_text(run.status) << "; stdout: " << run.out;
  EXPECT_NE(run.err.find("Address already in use"), std::string::npos) << "stderr: " << run.err;
}

INSTANTIATE_TEST_SUITE_P(Servers, Startup, ::testing::ValuesIn(all_servers()), server_label);

class ThreadsOption : public ServerTest {};

TEST_P(ThreadsOption, RejectedWithExitTwoByModelsWithoutWorkers) {
  Finished run = run_to_exit(spec(), {"--port", "0", "--threads", "2"});
  EXPECT_TRUE(exited_with(run.status, 2)) << status_text(run.status);
  EXPECT_EQ(line_count(run.err), 1u) << "stderr: " << run.err;
  EXPECT_NE(run.err.find("threads"), std::string::npos) << "stderr: " << run.err;
}

INSTANTIATE_TEST_SUITE_P(Servers, ThreadsOption,
                         ::testing::ValuesIn(servers_where(
                             [](const ServerSpec& s) { return s.threads == ThreadsFlag::kRejected; })),
                         server_label);

// ---------------------------------------------------------------------------------------------------------------
// Raw echo

class Echo : public ServerTest {};

TEST_P(Echo, OneByteComesBack) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  EXPECT_TRUE(echoes(client, "x"));
}

TEST_P(Echo, SixtyFourBytesComeBack) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  EXPECT_TRUE(echoes(client, pattern_bytes(64, 3)));
}

TEST_P(Echo, EveryByteValueComesBackUnchanged) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  std::string all(256, '\0');
  for (int i = 0; i < 256; ++i) all[i] = static_cast<char>(i);
  EXPECT_TRUE(echoes(client, all));
}

TEST_P(Echo, FourMebibytesWrittenWhileReadingComeBackExactly) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  EXPECT_TRUE(echoes(client, pattern_bytes(4 * kMiB, 4), 30s));
}

TEST_P(Echo, ManyRoundTripsOnOneConnection) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(echoes(client, "message " + std::to_string(i) + "\n")) << "round trip " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Servers, Echo, ::testing::ValuesIn(all_servers()), server_label);

// ---------------------------------------------------------------------------------------------------------------
// Concurrency and the models' inherent limits

class Concurrency : public ServerTest {};

TEST_P(Concurrency, ManyClientsEachGetTheirOwnBytes) {
  // A model without a limit serves every client at once: all stay connected until every echo is in.
  // A limited model serves its clients in turn: each is read and closed, which frees a worker for the next.
  constexpr int kPoolThreads = 4;
  const bool limited = spec().limit > 0;
  const int count = !limited ? 64 : spec().limit_is_threads ? 3 * kPoolThreads : 8;
  ASSERT_NO_FATAL_FAILURE(start(workers(spec(), kPoolThreads)));
  std::vector<Client> clients;
  std::vector<std::string> payloads;
  for (int i = 0; i < count; ++i) {
    clients.push_back(connect());
    ASSERT_TRUE(clients.back().connected()) << "client " << i << ": " << clients.back().error();
    payloads.push_back("client " + std::to_string(i) + ": " + pattern_bytes(2000, 100 + i));
    ASSERT_TRUE(clients.back().write_all(payloads.back())) << "client " << i << ": " << clients.back().error();
  }
  for (int i = 0; i < count; ++i) {
    ReadResult echo = clients[i].read_exactly(payloads[i].size());
    ASSERT_EQ(echo.end, ReadEnd::kComplete) << "client " << i << ": " << echo.describe();
    EXPECT_TRUE(echo.data == payloads[i]) << "client " << i << ": " << first_difference(payloads[i], echo.data);
    if (limited) clients[i].close();
  }
}

INSTANTIATE_TEST_SUITE_P(Servers, Concurrency, ::testing::ValuesIn(all_servers()), server_label);

class IterativeLimit : public ServerTest {};

TEST_P(IterativeLimit, SecondClientGetsNoEchoUntilTheFirstLeaves) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client first = connect();
  ASSERT_TRUE(first.connected()) << first.error();
  ASSERT_TRUE(echoes(first, "first"));
  // The kernel completes the second handshake and queues it in the backlog; nothing reads it yet.
  Client second = connect();
  ASSERT_TRUE(second.connected()) << second.error();
  ASSERT_TRUE(second.write_all("second"));
  ReadResult early = second.read_for(kQuietPeriod);
  EXPECT_TRUE(early.data.empty() && early.end == ReadEnd::kTimeout)
      << "served while the first client was connected: " << early.describe();
  EXPECT_TRUE(echoes(first, "first again"));
  first.close();
  ReadResult late = second.read_exactly(6);
  EXPECT_EQ(late.end, ReadEnd::kComplete) << late.describe();
  EXPECT_EQ(late.data, "second");
}

INSTANTIATE_TEST_SUITE_P(Servers, IterativeLimit,
                         ::testing::ValuesIn(servers_where(is_iterative)),
                         server_label);

class PoolLimit : public ServerTest {};

TEST_P(PoolLimit, WithTwoThreadsAThirdClientWaitsForAFreeWorker) {
  ASSERT_NO_FATAL_FAILURE(start({"--threads", "2"}));
  Client a = connect();
  Client b = connect();
  ASSERT_TRUE(a.connected() && b.connected()) << a.error() << b.error();
  ASSERT_TRUE(echoes(a, "a"));
  ASSERT_TRUE(echoes(b, "b"));
  Client c = connect();
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.write_all("third"));
  ReadResult early = c.read_for(kQuietPeriod);
  EXPECT_TRUE(early.data.empty() && early.end == ReadEnd::kTimeout)
      << "a third client was served by two workers: " << early.describe();
  EXPECT_TRUE(echoes(b, "b again"));
  a.close();
  ReadResult late = c.read_exactly(5);
  EXPECT_EQ(late.end, ReadEnd::kComplete) << late.describe();
  EXPECT_EQ(late.data, "third");
}

INSTANTIATE_TEST_SUITE_P(Servers, PoolLimit,
                         ::testing::ValuesIn(servers_where([](const ServerSpec& s) { return s.limit_is_threads; })),
                         server_label);

// ---------------------------------------------------------------------------------------------------------------
// Half-close, faults, address families, modes, --max-conns

class HalfClose : public ServerTest {};

TEST_P(HalfClose, EchoesEverythingThenCloses) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  const std::string payload = pattern_bytes(100 * 1024, 5);
  ASSERT_TRUE(client.write_all(payload)) << client.error();
  client.shutdown_write();
  ReadResult rest = client.read_until_eof();
  EXPECT_EQ(rest.end, ReadEnd::kEof) << rest.describe();
  EXPECT_TRUE(rest.data == payload) << first_difference(payload, rest.data);
}

TEST_P(HalfClose, BeforeTheModeIsDecidedTheBytesAreEchoedRaw) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  // "GE" could still begin "GET ", so the server has not decided yet when the peer half-closes.
  ASSERT_TRUE(client.write_all("GE"));
  client.shutdown_write();
  ReadResult rest = client.read_until_eof();
  EXPECT_EQ(rest.end, ReadEnd::kEof) << rest.describe();
  EXPECT_EQ(rest.data, "GE");
}

INSTANTIATE_TEST_SUITE_P(Servers, HalfClose, ::testing::ValuesIn(all_servers()), server_label);

class Faults : public ServerTest {
 protected:
  // A client that stays connected across a fault, except with the iterative server, which could not serve
  // anyone else while it is connected.
  void connect_bystander() {
    if (is_iterative(spec())) return;
    bystander_ = connect();
    ASSERT_TRUE(bystander_.connected()) << bystander_.error();
    ASSERT_TRUE(echoes(bystander_, "before"));
  }
  void check_still_serving() {
    if (bystander_.connected()) {
      EXPECT_TRUE(echoes(bystander_, "after")) << "the connected bystander";
    }
    Client fresh = connect();
    ASSERT_TRUE(fresh.connected()) << fresh.error();
    EXPECT_TRUE(echoes(fresh, "fresh")) << "a new connection";
  }
  Client bystander_;
};

TEST_P(Faults, PeerResettingMidEchoLeavesOthersServed) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(connect_bystander());
  Client rude = connect();
  ASSERT_TRUE(rude.connected()) << rude.error();
  const std::string payload = pattern_bytes(kMiB, 6);
  // Half the echo read, the rest in flight when the RST arrives.
  ASSERT_TRUE(rude.write_all(std::string_view(payload).substr(0, kMiB / 2)));
  ReadResult part = rude.read_exactly(1000);
  ASSERT_EQ(part.end, ReadEnd::kComplete) << part.describe();
  rude.write_some(std::string_view(payload).substr(kMiB / 2));
  rude.reset();
  check_still_serving();
}

TEST_P(Faults, PeerClosingBeforeReadingLeavesOthersServed) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(connect_bystander());
  Client hasty = connect();
  ASSERT_TRUE(hasty.connected()) << hasty.error();
  ASSERT_TRUE(hasty.write_all(pattern_bytes(256 * 1024, 7)));
  hasty.close();
  check_still_serving();
}

INSTANTIATE_TEST_SUITE_P(Servers, Faults, ::testing::ValuesIn(all_servers()), server_label);

class Ipv6 : public ServerTest {};

TEST_P(Ipv6, BannerBracketsTheAddressAndEchoWorks) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback (::1) on this machine";
  ASSERT_NO_FATAL_FAILURE(start({}, "::1"));
  EXPECT_EQ(server().banner(), "listening on [::1]:" + std::to_string(server().port()));
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  EXPECT_TRUE(echoes(client, "over IPv6"));
}

INSTANTIATE_TEST_SUITE_P(Servers, Ipv6, ::testing::ValuesIn(all_servers()), server_label);

class Modes : public ServerTest {};

TEST_P(Modes, EchoModeTreatsAnHttpRequestAsRawBytes) {
  ASSERT_NO_FATAL_FAILURE(start({"--mode", "echo"}));
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  EXPECT_TRUE(echoes(client, "GET / HTTP/1.1\r\n\r\n"));
}

TEST_P(Modes, AutoModeEchoesBytesThatAreNotAMethodRaw) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  // Methods are case-sensitive (RFC 9110 §9.1): "get" is not one.
  EXPECT_TRUE(echoes(client, "get / HTTP/1.1\r\n\r\n"));
}

INSTANTIATE_TEST_SUITE_P(Servers, Modes, ::testing::ValuesIn(all_servers()), server_label);

// A server without HTTP says so, and refuses to be asked for it rather than echo HTTP requests back raw.
class RawOnly : public ServerTest {};

TEST_P(RawOnly, ModeHttpExitsTwoWithOneLine) {
  Finished run = run_to_exit(spec(), {"--port", "0", "--mode", "http"});
  EXPECT_TRUE(exited_with(run.status, 2)) << status_text(run.status);
  EXPECT_EQ(line_count(run.err), 1u) << "stderr: " << run.err;
  EXPECT_NE(run.err.find("http"), std::string::npos) << "stderr: " << run.err;
  EXPECT_EQ(run.out, "");
}

TEST_P(RawOnly, HelpSaysThereIsNoHttpMode) {
  Finished run = run_to_exit(spec(), {"--help"});
  EXPECT_TRUE(exited_with(run.status, 0)) << status_text(run.status);
  EXPECT_NE(run.out.find("no HTTP mode"), std::string::npos) << run.out;
}

TEST_P(RawOnly, AnHttpRequestInAutoModeIsEchoedRaw) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  EXPECT_TRUE(echoes(client, "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n"));
}

INSTANTIATE_TEST_SUITE_P(Servers, RawOnly,
                         ::testing::ValuesIn(servers_where([](const ServerSpec& s) { return s.python; })),
                         server_label);

class MaxConns : public ServerTest {};

TEST_P(MaxConns, ConnectionOverTheLimitIsAcceptedAndClosedAtOnce) {
  if (spec().python) GTEST_SKIP() << kNoMaxConnsSkip;
  ASSERT_NO_FATAL_FAILURE(start({"--max-conns", "2"}));
  Client a = connect();
  Client b = connect();
  ASSERT_TRUE(a.connected() && b.connected()) << a.error() << b.error();
  ASSERT_TRUE(echoes(a, "a"));
  ASSERT_TRUE(echoes(b, "b"));
  Client over = connect();
  ASSERT_TRUE(over.connected()) << over.error();
  ReadResult refused = over.wait_closed();
  EXPECT_TRUE(closed_by_peer(refused.end) && refused.data.empty()) << "the third connection: " << refused.describe();
  EXPECT_TRUE(echoes(a, "a again"));
  EXPECT_TRUE(echoes(b, "b again"));
  // Once the server has seen a leave, there is room again; it may take the server a moment to notice.
  a.close();
  EXPECT_TRUE(served_again(server())) << "no new connection was served after one of the two left";
}

// The iterative server never has two connections open, so --max-conns 2 is never reached there.
INSTANTIATE_TEST_SUITE_P(Servers, MaxConns,
                         ::testing::ValuesIn(servers_where([](const ServerSpec& s) { return !is_iterative(s); })),
                         server_label);

// ---------------------------------------------------------------------------------------------------------------
// HTTP/1.x echo

class Http : public ServerTest {
 protected:
  void SetUp() override {
    if (GetParam().python) GTEST_SKIP() << kRawOnlySkip;
    ServerTest::SetUp();
  }
  // Sends request on a new connection and reads one response.
  HttpRead exchange(Client& client, const std::string& request, bool head = false) {
    if (!client.write_all(request)) return {std::nullopt, "write: " + client.error()};
    return read_http_response(client, head);
  }
  // A response, the connection then closed by the server.
  void expect_closes(Client& client) {
    ReadResult after = client.wait_closed();
    EXPECT_TRUE(closed_by_peer(after.end) && after.data.empty()) << "after the response: " << after.describe();
  }
};

TEST_P(Http, GetAnswersWithTheTargetAsBody) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  HttpRead read = exchange(client, http_request("GET", "/hello", {}, {"Host: test"}));
  ASSERT_TRUE(read.response) << read.error;
  EXPECT_EQ(read.response->status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(read.response->body, "/hello");
  EXPECT_EQ(read.response->header("Content-Length"), "6");
  EXPECT_EQ(read.response->header("Content-Type"), "application/octet-stream");
}

TEST_P(Http, PostEchoesAContentLengthBody) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  const std::string body = pattern_bytes(5000, 8);
  HttpRead read = exchange(client, http_request("POST", "/upload", body, {"Host: test"}));
  ASSERT_TRUE(read.response) << read.error;
  EXPECT_EQ(read.response->status, 200);
  EXPECT_TRUE(read.response->body == body) << first_difference(body, read.response->body);
}

TEST_P(Http, PostEchoesADecodedChunkedBody) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  // A chunk extension and a trailer field are accepted and not echoed (RFC 9112 §7.1).
  const std::string request =
      "POST /c HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n";
  HttpRead read = exchange(client, request);
  ASSERT_TRUE(read.response) << read.error;
  EXPECT_EQ(read.response->status, 200);
  EXPECT_EQ(read.response->body, "hello, world");
  EXPECT_EQ(read.response->header("Content-Length"), "12");
}

TEST_P(Http, ZeroLengthBodyCountsAsNone) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  HttpRead read = exchange(client, http_request("POST", "/empty", {}, {"Content-Length: 0"}));
  ASSERT_TRUE(read.response) << read.error;
  EXPECT_EQ(read.response->body, "/empty");
}

TEST_P(Http, HeadGetsTheHeadersAndNoBody) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  HttpRead head = exchange(client, http_request("HEAD", "/abcd"), true);
  ASSERT_TRUE(head.response) << head.error;
  EXPECT_EQ(head.response->status, 200);
  EXPECT_EQ(head.response->header("Content-Length"), "5");
  // A body sent after the HEAD response would show up as the start of the next response.
  HttpRead next = exchange(client, http_request("GET", "/next"));
  ASSERT_TRUE(next.response) << next.error;
  EXPECT_EQ(next.response->body, "/next");
}

TEST_P(Http, Http11KeepsTheConnectionForSeveralRequests) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  for (int i = 0; i < 5; ++i) {
    const std::string target = "/request/" + std::to_string(i);
    HttpRead read = exchange(client, http_request("GET", target));
    ASSERT_TRUE(read.response) << "request " << i << ": " << read.error;
    EXPECT_EQ(read.response->body, target);
    EXPECT_FALSE(read.response->connection_has("close"));
  }
}

TEST_P(Http, Http11ConnectionCloseClosesAfterTheResponse) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  HttpRead read = exchange(client, http_request("GET", "/bye", {}, {"Connection: close"}));
  ASSERT_TRUE(read.response) << read.error;
  EXPECT_EQ(read.response->body, "/bye");
  EXPECT_TRUE(read.response->connection_has("close"));
  expect_closes(client);
}

TEST_P(Http, Http10ClosesAfterTheResponse) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  HttpRead read = exchange(client, http_request("GET", "/old", {}, {}, "HTTP/1.0"));
  ASSERT_TRUE(read.response) << read.error;
  EXPECT_EQ(read.response->body, "/old");
  EXPECT_TRUE(read.response->connection_has("close"));
  expect_closes(client);
}

TEST_P(Http, Http10KeepAliveKeepsTheConnection) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  for (int i = 0; i < 3; ++i) {
    HttpRead read = exchange(client, http_request("GET", "/ka", {}, {"Connection: keep-alive"}, "HTTP/1.0"));
    ASSERT_TRUE(read.response) << "request " << i << ": " << read.error;
    EXPECT_EQ(read.response->body, "/ka");
    EXPECT_TRUE(read.response->connection_has("keep-alive")) << "request " << i;
  }
}

TEST_P(Http, PipelinedRequestsAreAllAnsweredInOrder) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  const std::string batch = http_request("GET", "/one") + http_request("POST", "/two", "second body") +
                            http_request("HEAD", "/three") + http_request("GET", "/four");
  ASSERT_TRUE(client.write_all(batch));
  const std::pair<const char*, bool> expected[] = {{"/one", false}, {"second body", false}, {"", true}, {"/four", false}};
  for (const auto& [body, head] : expected) {
    HttpRead read = read_http_response(client, head);
    ASSERT_TRUE(read.response) << "response for '" << body << "': " << read.error;
    EXPECT_EQ(read.response->body, body);
  }
}

TEST_P(Http, ExpectContinueGets100BeforeTheBody) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  ASSERT_TRUE(client.write_all("POST /up HTTP/1.1\r\nHost: test\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n"));
  HttpRead interim = read_http_response(client);
  ASSERT_TRUE(interim.response) << interim.error;
  EXPECT_EQ(interim.response->status_line, "HTTP/1.1 100 Continue");
  ASSERT_TRUE(client.write_all("payload"));
  HttpRead final_response = read_http_response(client);
  ASSERT_TRUE(final_response.response) << final_response.error;
  EXPECT_EQ(final_response.response->status, 200);
  EXPECT_EQ(final_response.response->body, "payload");
}

INSTANTIATE_TEST_SUITE_P(Servers, Http, ::testing::ValuesIn(all_servers()), server_label);

class HttpErrors : public Http {
 protected:
  // The request gets status, says Connection: close, and the server closes.
  void expect_rejected(const std::string& request, int status) {
    SCOPED_TRACE(::testing::Message() << "request: " << ::testing::PrintToString(request.substr(0, 120)));
    Client client = connect();
    ASSERT_TRUE(client.connected()) << client.error();
    HttpRead read = exchange(client, request);
    ASSERT_TRUE(read.response) << read.error;
    EXPECT_EQ(read.response->status, status) << read.response->status_line;
    EXPECT_TRUE(read.response->connection_has("close")) << "an error response without Connection: close";
    expect_closes(client);
  }
};

TEST_P(HttpErrors, SmugglingShapesGet400AndClose) {
  ASSERT_NO_FATAL_FAILURE(start());
  const char* const requests[] = {
      "GET / HTTP/1.1\r\nHost: test\r\nNoColonHere\r\n\r\n",                          // header without a colon
      "GET / HTTP/1.1\r\nHost : test\r\n\r\n",                                        // whitespace before the colon
      "GET / HTTP/1.1\r\nHost: test\r\nX-Folded: a\r\n b\r\n\r\n",                    // obsolete line folding
      "GET / HTTP/1.1\r\nHost: test\rX-Bare: cr\r\n\r\n",                             // a bare CR
      "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",                               // non-numeric Content-Length
      "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",                                // negative Content-Length
      "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",        // differing Content-Lengths
      "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",  // both
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",   // TE in HTTP/1.0
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",  // a bad chunk size
      "GET /\r\nHost: test\r\n\r\n",                                                  // no version
  };
  for (const char* request : requests) expect_rejected(request, 400);
}

TEST_P(HttpErrors, TransferEncodingOtherThanChunkedGets501AndClose) {
  ASSERT_NO_FATAL_FAILURE(start());
  expect_rejected("POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
}

TEST_P(HttpErrors, ConnectGets501AndCloseInHttpMode) {
  ASSERT_NO_FATAL_FAILURE(start({"--mode", "http"}));
  expect_rejected("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501);
}

TEST_P(HttpErrors, BodyOverMaxBodyGets413AndClose) {
  ASSERT_NO_FATAL_FAILURE(start({"--max-body", "100"}));
  expect_rejected(http_request("POST", "/big", std::string(101, 'b')), 413);
  expect_rejected("POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + std::string(64, 'c') +
                      "\r\n25\r\n" + std::string(37, 'c') + "\r\n0\r\n\r\n",
                  413);
  // The limit is inclusive.
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  const std::string body(100, 'k');
  HttpRead read = exchange(client, http_request("POST", "/fits", body));
  ASSERT_TRUE(read.response) << read.error;
  EXPECT_EQ(read.response->status, 200);
  EXPECT_EQ(read.response->body, body);
}

TEST_P(HttpErrors, HeaderSectionOver8KiBGets431AndClose) {
  ASSERT_NO_FATAL_FAILURE(start());
  expect_rejected(http_request("GET", "/", {}, {"X-Big: " + std::string(9000, 'h')}), 431);
}

INSTANTIATE_TEST_SUITE_P(Servers, HttpErrors, ::testing::ValuesIn(all_servers()), server_label);

// ---------------------------------------------------------------------------------------------------------------
// Backpressure

class Backpressure : public ServerTest {};

TEST_P(Backpressure, ServerStopsReadingFromAPeerThatDoesNotReadAndLosesNoByte) {
  ASSERT_NO_FATAL_FAILURE(start());
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  const std::string payload = pattern_bytes(kBackpressureBytes, 9);
  const pid_t group = server().pid();
  const std::size_t baseline = process_group_rss(group);
  std::size_t peak = baseline;
  auto last_sample = Clock::now() - 1s;
  auto sample = [&] {
    if (Clock::now() - last_sample < 10ms) return;
    last_sample = Clock::now();
    peak = std::max(peak, process_group_rss(group));
  };

  const long long stalled_at = write_until_stalled(client, payload, kStallWindow, sample);
  ASSERT_GE(stalled_at, 0) << client.error();
  ASSERT_LT(static_cast<std::size_t>(stalled_at), payload.size())
      << "the server took all " << payload.size() << " bytes without the peer reading any";
  last_sample = Clock::now() - 1s;
  sample();

  ReadResult echo = echo_exchange(client, payload, 60s, static_cast<std::size_t>(stalled_at), sample);
  ASSERT_EQ(echo.end, ReadEnd::kComplete) << echo.describe() << " (stalled after " << stalled_at << " bytes)";
  EXPECT_TRUE(echo.data == payload) << first_difference(payload, echo.data);
  RecordProperty("stalled_after_bytes", std::to_string(stalled_at));
  RecordProperty("rss_growth_kib", std::to_string((peak - baseline) / 1024));
  // ThreadSanitizer shadows every byte the server touches (several bytes of shadow per byte), so the same buffers
  // weigh more there.
  const std::size_t max_growth = built_with_sanitizer("thread") ? 4 * kMaxGrowth : kMaxGrowth;
  EXPECT_LT(peak - baseline, max_growth) << "the server's memory grew from " << baseline / 1024 << " KiB to "
                                         << peak / 1024 << " KiB (stalled after " << stalled_at << " bytes)";
}

INSTANTIATE_TEST_SUITE_P(Servers, Backpressure, ::testing::ValuesIn(all_servers()), server_label);

// ---------------------------------------------------------------------------------------------------------------
// Shutdown and processes

class Shutdown : public ServerTest {
 protected:
  // Stops the server with signo while one client does not read its pending echo and another sits idle, then
  // checks the protocol's promise: exit 0 within one second, no process of the group left behind.
  void stop_with_busy_clients(int signo, bool whole_group) {
    ASSERT_NO_FATAL_FAILURE(start());
    Client stuck = connect();
    ASSERT_TRUE(stuck.connected()) << stuck.error();
    const std::string payload = pattern_bytes(32 * kMiB, 10);
    ASSERT_GE(write_until_stalled(stuck, payload, kStallWindow), 0) << stuck.error();
    // The iterative server is busy with the stuck client: the idle one waits in the backlog.
    Client idle = connect();
    ASSERT_TRUE(idle.connected()) << idle.error();
    if (!is_iterative(spec())) {
      ASSERT_TRUE(echoes(idle, "idle"));
    }

    expect_running_ = false;
    const pid_t group = server().pid();
    const auto began = Clock::now();
    ASSERT_TRUE(whole_group ? server().signal_group(signo) : server().signal(signo));
    std::optional<int> status = server().wait_exit(5 * kShutdownLimit);
    const auto took = std::chrono::duration_cast<Millis>(Clock::now() - began);
    ASSERT_TRUE(status) << "still running " << took.count() << " ms after the signal; stderr: " << server_log();
    EXPECT_TRUE(exited_with(status, 0)) << status_text(status) << "; stderr: " << server_log();
    RecordProperty("exit_ms", std::to_string(took.count()));
    EXPECT_LE(took, kShutdownLimit) << "the server took " << took.count() << " ms to exit";
    EXPECT_EQ(describe_group(group), "none") << "processes of the server's group outlived it";
    ReadResult idle_end = idle.wait_closed();
    EXPECT_TRUE(closed_by_peer(idle_end.end)) << "the idle client: " << idle_end.describe();
  }
};

TEST_P(Shutdown, SigtermToTheServerExitsZeroWithinOneSecondWithBusyClients) {
  stop_with_busy_clients(SIGTERM, false);
}

TEST_P(Shutdown, SigintToTheWholeGroupExitsZeroWithinOneSecondWithBusyClients) {
  // A terminal's Ctrl-C signals every process of the foreground group, children included.
  stop_with_busy_clients(SIGINT, true);
}

INSTANTIATE_TEST_SUITE_P(Servers, Shutdown, ::testing::ValuesIn(all_servers()), server_label);

class Processes : public ServerTest {};

TEST_P(Processes, ShortConnectionsLeaveNoZombies) {
  ASSERT_NO_FATAL_FAILURE(start());
  const pid_t group = server().pid();
  // Idle, a server is one process, or a prefork leader and at most its pool of workers, or a supervisor and its
  // worker processes.
  const std::size_t idle_members = idle_group_size(spec());
  for (int i = 0; i < 20; ++i) {
    Client client = connect();
    ASSERT_TRUE(client.connected()) << client.error();
    ASSERT_TRUE(echoes(client, "short " + std::to_string(i)));
  }
  // A child that has just exited is a zombie until its parent's SIGCHLD handling reaps it: give it a moment.
  EXPECT_TRUE(eventually([&] { return process_group_zombies(group) == 0; }, 2s))
      << "zombies remain: " << describe_group(group);
  EXPECT_TRUE(eventually([&] { return process_group_members(group).size() <= idle_members; }, 2s))
      << "at most " << idle_members << " processes expected once every client left, now: " << describe_group(group);
}

INSTANTIATE_TEST_SUITE_P(Servers, Processes, ::testing::ValuesIn(all_servers()), server_label);

}  // namespace
}  // namespace iomodels::test
