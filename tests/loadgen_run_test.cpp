// The load generator against real servers of the suite and against deliberately faulty fakes (tests/fake/):
// every fault detected, counted and reported, with exit status 1; an open loop that holds its rate.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "client/load.hpp"
#include "tests/loadgen_fixture.hpp"

namespace iomodels::loadgen {
namespace {

using namespace std::chrono_literals;
using loadgen_test::RunningServer;

void expect_clean(const LoadResult& result) {
  EXPECT_EQ(result.errors(), 0u) << result.first_error;
  EXPECT_GT(result.messages, 0u);
  EXPECT_EQ(result.connections_never_answered, 0);
  EXPECT_EQ(result.latency.count(), result.messages);
}

// ---- faults, through the binary: counted, reported with the connection and offset, exit status 1 ----------

struct Fault {
  const char* name;
  const char* fake;
  const char* counter;         // the JSON error counter that must be non-zero
  const char* report;          // what the summary's first-error line must say, around the connection number
  const char* detail;
};

class LoadgenFault : public testing::TestWithParam<Fault> {};

TEST_P(LoadgenFault, IsDetectedCountedAndExitsOne) {
  const Fault& fault = GetParam();
  const std::string fake = loadgen_test::fake_path(fault.fake);
  LOADGEN_REQUIRE_BINARY(fake);
  LOADGEN_REQUIRE_BINARY(loadgen_test::bin_path("loadgen"));
  RunningServer server(fake, {});
  ASSERT_EQ(server.error(), "");
  const std::string json = std::string(::testing::TempDir()) + "loadgen_fault_" + fault.name + ".json";
  const CommandResult result = loadgen_test::run_loadgen(
      {"-c", "3", "-t", "1", "-d", "800ms", "--warmup", "0", "--timeout", "200ms", "--json", json, server.address()});
  ASSERT_TRUE(result.started) << result.error;
  EXPECT_EQ(loadgen_test::exit_code(result), 1) << result.out << result.err;
  EXPECT_NE(result.out.find(std::string("First error: ") + fault.report), std::string::npos) << result.out;
  EXPECT_NE(result.out.find(fault.detail), std::string::npos) << result.out;

  std::ifstream file(json);
  ASSERT_TRUE(file) << json;
  const nlohmann::json report = nlohmann::json::parse(file);
  EXPECT_GT(report["errors"][fault.counter].get<int>(), 0) << report.dump(2);
  EXPECT_EQ(report["errors"]["total"].get<int>(), report["errors"][fault.counter].get<int>()) << report.dump(2);
  std::remove(json.c_str());
}

// The fakes strike at byte 1000 of every connection: message 15, byte 40, with 64-byte messages.
INSTANTIATE_TEST_SUITE_P(
    Fakes, LoadgenFault,
    testing::Values(Fault{"CorruptByte", "lg_corrupt", "mismatch", "mismatch on connection ",
                          " at offset 1000 (message 15, byte 40)"},
                    Fault{"DroppedConnection", "lg_drop", "reset", "connection ",
                          " closed by the server with 1 reply owed"},
                    Fault{"Stall", "lg_stall", "timeout", "timeout on connection ",
                          " (message 15, 40 bytes of its reply received)"}),
    [](const testing::TestParamInfo<Fault>& param) { return param.param.name; });

TEST(LoadgenFault, TimedOutConnectionsAreReopened) {
  const std::string fake = loadgen_test::fake_path("lg_stall");
  LOADGEN_REQUIRE_BINARY(fake);
  RunningServer server(fake, {});
  ASSERT_EQ(server.error(), "");
  LoadConfig config = server.config();
  config.connections = 2;
  config.warmup = 0s;
  config.timeout = 100ms;
  const LoadResult result = run_load(config);
  // Each connection stalls, times out, is reopened, and stalls again.
  EXPECT_GE(result.timeouts, 4u);
  EXPECT_GE(result.connections_opened, 4);
  EXPECT_EQ(result.errors(), result.timeouts);
}

TEST(LoadgenFault, RefusedConnectionsAreConnectErrors) {
  // A port nobody listens on: take a free one from a server, then stop it.
  const std::string fake = loadgen_test::fake_path("lg_echo");
  LOADGEN_REQUIRE_BINARY(fake);
  LoadConfig config;
  {
    RunningServer server(fake, {});
    ASSERT_EQ(server.error(), "");
    config = server.config();
  }
  config.duration = 300ms;
  config.warmup = 0s;
  const LoadResult result = run_load(config);
  EXPECT_GT(result.connect_errors, 0u);
  EXPECT_EQ(result.messages, 0u);
  EXPECT_EQ(result.connections_never_answered, config.connections);
  EXPECT_NE(result.first_error.find("Connection refused"), std::string::npos) << result.first_error;
}

TEST(LoadgenFault, UnresolvableHostThrows) {
  LoadConfig config;
  config.host = "no-such-host.invalid";
  config.port = 9;
  EXPECT_THROW(run_load(config), std::runtime_error);
}

// ---- a correct server: no errors ---------------------------------------------------------------------------

TEST(LoadgenRun, CorrectFakeEchoHasNoErrors) {
  const std::string fake = loadgen_test::fake_path("lg_echo");
  LOADGEN_REQUIRE_BINARY(fake);
  RunningServer server(fake, {});
  ASSERT_EQ(server.error(), "");
  LoadConfig config = server.config();
  config.message_size = 3000;  // more than one segment's worth in flight per connection at times
  config.pipeline = 3;
  const LoadResult result = run_load(config);
  expect_clean(result);
  EXPECT_EQ(result.bytes, result.messages * 3000);
  EXPECT_GT(result.client_cpu_seconds, 0);
}

struct Shape {
  const char* name;
  bool http;
  std::size_t size;
  int pipeline;
  bool per_message;
};

class LoadgenSuiteServer : public testing::TestWithParam<Shape> {};

TEST_P(LoadgenSuiteServer, RunsWithoutErrors) {
  const std::string server_path = loadgen_test::bin_path("epoll");
  LOADGEN_REQUIRE_BINARY(server_path);
  RunningServer server(server_path, {});
  ASSERT_EQ(server.error(), "");
  LoadConfig config = server.config();
  config.http = GetParam().http;
  config.message_size = GetParam().size;
  config.pipeline = GetParam().pipeline;
  config.connect_per_message = GetParam().per_message;
  config.threads = 2;
  config.duration = 600ms;
  const LoadResult result = run_load(config);
  expect_clean(result);
  if (config.connect_per_message) {
    EXPECT_GT(result.connections_opened, static_cast<int>(result.messages));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Epoll, LoadgenSuiteServer,
    testing::Values(Shape{"RawEcho", false, 64, 1, false}, Shape{"RawPipelined", false, 100, 8, false},
                    Shape{"RawLarge", false, 256 * 1024, 1, false}, Shape{"HttpGet", true, 0, 1, false},
                    Shape{"HttpPostPipelined", true, 512, 4, false}, Shape{"RawPerMessage", false, 64, 1, true},
                    Shape{"HttpGetPerMessage", true, 0, 1, true}),
    [](const testing::TestParamInfo<Shape>& param) { return param.param.name; });

TEST(LoadgenRun, IdleConnectionsAreHeldBesideTheActiveOnes) {
  const std::string server_path = loadgen_test::bin_path("epoll");
  LOADGEN_REQUIRE_BINARY(server_path);
  RunningServer server(server_path, {});
  ASSERT_EQ(server.error(), "");
  LoadConfig config = server.config();
  config.connections = 4;
  config.idle_connections = 200;
  config.threads = 2;
  config.duration = 500ms;
  const LoadResult result = run_load(config);
  expect_clean(result);  // idle connections are not "never answered": they asked nothing
  EXPECT_EQ(result.connections_opened, 204);
  EXPECT_EQ(result.connections_open_at_end, 204);
}

TEST(LoadgenRun, AnIdleConnectionTheServerClosesIsAnError) {
  // Over --max-conns the server closes new connections at once; an idle connection must notice, not sit there.
  const std::string server_path = loadgen_test::bin_path("epoll");
  LOADGEN_REQUIRE_BINARY(server_path);
  RunningServer server(server_path, {"--max-conns", "2"});
  ASSERT_EQ(server.error(), "");
  LoadConfig config = server.config();
  config.connections = 1;
  config.idle_connections = 3;
  // One worker opens the connections in order, so the active one is among the two the server keeps: were the idle
  // ones opened by another worker, they could connect first, and the active one, refused after it had written,
  // would see a reset instead.
  config.threads = 1;
  config.duration = 300ms;
  const LoadResult result = run_load(config);
  EXPECT_GT(result.resets, 0u);
  EXPECT_NE(result.first_error.find("closed by the server"), std::string::npos) << result.first_error;
}

TEST(LoadgenRun, ConnectRatePacesTheOpening) {
  const std::string server_path = loadgen_test::bin_path("epoll");
  LOADGEN_REQUIRE_BINARY(server_path);
  RunningServer server(server_path, {});
  ASSERT_EQ(server.error(), "");
  LoadConfig config = server.config();
  config.connections = 2;
  config.idle_connections = 198;
  config.connect_rate = 200;  // the 200 connections open over one second
  config.threads = 2;
  config.warmup = 0ms;
  config.duration = 500ms;  // so about half of them are open when the run ends
  const LoadResult result = run_load(config);
  EXPECT_EQ(result.errors(), 0u) << result.first_error;
  EXPECT_GE(result.connections_open_at_end, 60);
  EXPECT_LE(result.connections_open_at_end, 140);
  EXPECT_LE(result.connections_opened, 145);  // opened counts those still connecting too
}

TEST(LoadgenRun, IterativeServerLeavesConnectionsUnanswered) {
  // The iterative server serves one client to the end before it accepts the next: of four keep-alive
  // connections, three never get a reply.
  const std::string server_path = loadgen_test::bin_path("blocking");
  LOADGEN_REQUIRE_BINARY(server_path);
  RunningServer server(server_path, {});
  ASSERT_EQ(server.error(), "");
  LoadConfig config = server.config();
  config.duration = 500ms;
  const LoadResult result = run_load(config);
  EXPECT_GT(result.messages, 0u);
  EXPECT_EQ(result.connections_never_answered, 3);
  EXPECT_EQ(result.errors(), 0u) << result.first_error;
}

TEST(LoadgenRun, OpenLoopHoldsTheRateWithinTwoPercent) {
  std::string server_path = loadgen_test::bin_path("epoll");
  if (!loadgen_test::executable(server_path)) server_path = loadgen_test::fake_path("lg_echo");
  LOADGEN_REQUIRE_BINARY(server_path);
  RunningServer server(server_path, {});
  ASSERT_EQ(server.error(), "");
  LoadConfig config = server.config();
  config.connections = 20;
  config.threads = 2;
  config.rate = 2000;
  config.duration = 3s;
  config.warmup = 300ms;
  const LoadResult result = run_load(config);
  EXPECT_EQ(result.errors(), 0u) << result.first_error;
  EXPECT_DOUBLE_EQ(result.target_rate, 2000);
  EXPECT_NEAR(result.achieved_rate, 2000, 40) << result.messages << " messages in " << result.seconds << " s";
  // Latency counts from when each message was due, so it can never be less than the time it took once sent.
  EXPECT_GE(result.latency.mean(), result.service_time.mean());
  EXPECT_EQ(result.latency.count(), result.service_time.count());
}

TEST(LoadgenRun, OpenLoopChargesAStallToEveryMessageItDelayed) {
  // The iterative server answers one connection; the others' messages wait the whole run. Their due times keep
  // coming: a closed loop would send one message each and report nothing, the open loop reports them as timeouts
  // and the served connection's latency stays low. The corrected latency must be at least the service time.
  const std::string server_path = loadgen_test::bin_path("blocking");
  LOADGEN_REQUIRE_BINARY(server_path);
  RunningServer server(server_path, {});
  ASSERT_EQ(server.error(), "");
  LoadConfig config = server.config();
  config.connections = 2;
  config.rate = 200;
  config.duration = 800ms;
  config.warmup = 0s;
  config.timeout = 300ms;
  const LoadResult result = run_load(config);
  EXPECT_GT(result.timeouts, 0u);
  EXPECT_GT(result.messages, 0u);
  EXPECT_GE(result.latency.max(), result.service_time.max());
}

TEST(LoadgenRun, JsonCarriesEveryFigureTheOptionsAndTheVersion) {
  const std::string fake = loadgen_test::fake_path("lg_echo");
  LOADGEN_REQUIRE_BINARY(fake);
  LOADGEN_REQUIRE_BINARY(loadgen_test::bin_path("loadgen"));
  RunningServer server(fake, {});
  ASSERT_EQ(server.error(), "");
  const CommandResult result = loadgen_test::run_loadgen(
      {"-c", "2", "-t", "1", "-d", "300ms", "--warmup", "100ms", "-s", "32", "--json", "-", server.address()});
  ASSERT_EQ(loadgen_test::exit_code(result), 0) << result.err;
  const nlohmann::json report = nlohmann::json::parse(result.out);  // nothing else on stdout
  EXPECT_EQ(report["loadgen_version"], kLoadgenVersion);
  EXPECT_EQ(report["options"]["connections"], 2);
  EXPECT_EQ(report["options"]["message_size"], 32);
  EXPECT_GT(report["messages"].get<double>(), 0);
  for (const char* key : {"p50", "p90", "p99", "p99.9", "p99.99", "max", "mean", "min", "stdev"}) {
    EXPECT_TRUE(report["latency_ns"].contains(key)) << key;
  }
  for (const char* key : {"seconds", "messages_per_s", "achieved_rate", "target_rate", "bytes", "client_cpu_seconds",
                          "connections_opened", "connections_never_answered", "first_error", "errors"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
  EXPECT_EQ(report["errors"]["total"], 0);
}

TEST(LoadgenRun, SummaryLooksLikeWrks) {
  const std::string fake = loadgen_test::fake_path("lg_echo");
  LOADGEN_REQUIRE_BINARY(fake);
  LOADGEN_REQUIRE_BINARY(loadgen_test::bin_path("loadgen"));
  RunningServer server(fake, {});
  ASSERT_EQ(server.error(), "");
  const CommandResult result =
      loadgen_test::run_loadgen({"-c", "2", "-t", "1", "-d", "300ms", "--warmup", "0", server.address()});
  ASSERT_EQ(loadgen_test::exit_code(result), 0) << result.err;
  for (const char* line : {"Running", "1 threads and 2 connections", "Latency Distribution", "99.99%",
                           "Messages/sec:", "Transfer/sec:"}) {
    EXPECT_NE(result.out.find(line), std::string::npos) << line << " in\n" << result.out;
  }
  // Not a terminal: no progress line.
  EXPECT_EQ(result.out.find('\r'), std::string::npos);
}

}  // namespace
}  // namespace iomodels::loadgen
