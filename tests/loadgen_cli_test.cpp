// bin/loadgen's command line: wrk's habits, and a bad option named on one line with exit status 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "client/cli.hpp"
#include "client/option_values.hpp"
#include "tests/loadgen_fixture.hpp"

namespace iomodels::loadgen {
namespace {

using namespace std::chrono_literals;

CommandLine parse(std::vector<std::string> args) {
  args.insert(args.begin(), "loadgen");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

TEST(LoadgenCli, DefaultsAreWrksHabits) {
  const CommandLine command = parse({"127.0.0.1:7000"});
  ASSERT_EQ(command.error, "");
  const LoadConfig& config = command.config;
  EXPECT_EQ(config.host, "127.0.0.1");
  EXPECT_EQ(config.port, 7000);
  EXPECT_EQ(config.connections, 50);
  EXPECT_EQ(config.threads, 0);
  EXPECT_EQ(config.duration, 10s);
  EXPECT_EQ(config.warmup, 1s);
  EXPECT_EQ(config.message_size, 64u);
  EXPECT_EQ(config.pipeline, 1);
  EXPECT_EQ(config.rate, 0);
  EXPECT_FALSE(config.http);
  EXPECT_FALSE(config.connect_per_message);
  EXPECT_TRUE(config.verify);
  EXPECT_EQ(config.timeout, 5s);
  EXPECT_TRUE(command.json_path.empty());
}

TEST(LoadgenCli, ReadsEveryOption) {
  const CommandLine command =
      parse({"-c", "10000", "-t", "2", "-d", "2m", "--warmup", "500ms", "-s", "4k", "--pipeline", "8", "-R",
             "25000.5", "--http", "--no-verify", "--timeout", "250ms", "--bind", "127.0.0.1,127.0.0.2", "--json",
             "-", "--quiet", "[::1]:8080"});
  ASSERT_EQ(command.error, "");
  const LoadConfig& config = command.config;
  EXPECT_EQ(config.host, "::1");
  EXPECT_EQ(config.port, 8080);
  EXPECT_EQ(config.connections, 10000);
  EXPECT_EQ(config.threads, 2);
  EXPECT_EQ(config.duration, 120s);
  EXPECT_EQ(config.warmup, 500ms);
  EXPECT_EQ(config.message_size, 4096u);
  EXPECT_EQ(config.pipeline, 8);
  EXPECT_DOUBLE_EQ(config.rate, 25000.5);
  EXPECT_TRUE(config.http);
  EXPECT_FALSE(config.verify);
  EXPECT_EQ(config.timeout, 250ms);
  EXPECT_EQ(config.bind_addresses, (std::vector<std::string>{"127.0.0.1", "127.0.0.2"}));
  EXPECT_EQ(command.json_path, "-");
  EXPECT_TRUE(command.quiet);
}

TEST(LoadgenCli, ReadsIdleConnectionsAndTheConnectRate) {
  const CommandLine command = parse({"-c", "100", "--idle", "19000", "--connect-rate", "2500", "127.0.0.1:7000"});
  ASSERT_EQ(command.error, "");
  EXPECT_EQ(command.config.connections, 100);
  EXPECT_EQ(command.config.idle_connections, 19000);
  EXPECT_DOUBLE_EQ(command.config.connect_rate, 2500);
  const CommandLine defaults = parse({"127.0.0.1:7000"});
  EXPECT_EQ(defaults.config.idle_connections, 0);
  EXPECT_DOUBLE_EQ(defaults.config.connect_rate, 0);
}

TEST(LoadgenCli, HttpGetWithSizeZero) {
  const CommandLine command = parse({"--http", "-s", "0", "--connect-per-message", "localhost:80"});
  ASSERT_EQ(command.error, "");
  EXPECT_EQ(command.config.message_size, 0u);
  EXPECT_TRUE(command.config.connect_per_message);
}

TEST(LoadgenCli, DurationsTakeWrksUnits) {
  EXPECT_EQ(parse_duration("500ms"), std::chrono::nanoseconds(500ms));
  EXPECT_EQ(parse_duration("10s"), std::chrono::nanoseconds(10s));
  EXPECT_EQ(parse_duration("10"), std::chrono::nanoseconds(10s));
  EXPECT_EQ(parse_duration("2m"), std::chrono::nanoseconds(120s));
  EXPECT_EQ(parse_duration("1.5s"), std::chrono::nanoseconds(1500ms));
  EXPECT_EQ(parse_duration("250us"), std::chrono::nanoseconds(250us));
  EXPECT_FALSE(parse_duration("ten"));
  EXPECT_FALSE(parse_duration("5x"));
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_FALSE(parse_duration(""));
}

TEST(LoadgenCli, HelpIsNotAnError) {
  const CommandLine command = parse({"--help"});
  EXPECT_TRUE(command.help);
  EXPECT_NE(command.help_text.find("--connect-per-message"), std::string::npos);
}

struct BadUsage {
  const char* name;
  std::vector<std::string> args;
  const char* named;  // what the error line must mention
};

class LoadgenCliBadUsage : public testing::TestWithParam<BadUsage> {};

TEST_P(LoadgenCliBadUsage, NamesTheOptionOnOneLine) {
  const CommandLine command = parse(GetParam().args);
  EXPECT_NE(command.error.find(GetParam().named), std::string::npos) << command.error;
  EXPECT_EQ(command.error.find('\n'), std::string::npos) << command.error;
}

// Exit status 2 and one line on stderr, from the binary itself.
TEST_P(LoadgenCliBadUsage, BinaryExitsTwo) {
  LOADGEN_REQUIRE_BINARY(loadgen_test::bin_path("loadgen"));
  loadgen_test::expect_usage_error(GetParam().args, GetParam().named);
}

const std::string kTarget = "127.0.0.1:9";

INSTANTIATE_TEST_SUITE_P(
    Options, LoadgenCliBadUsage,
    testing::Values(BadUsage{"UnknownOption", {"--frobnicate", kTarget}, "frobnicate"},
                    BadUsage{"ConnectionsNotANumber", {"-c", "many", kTarget}, "--connections"},
                    BadUsage{"ZeroConnections", {"-c", "0", kTarget}, "--connections"},
                    BadUsage{"ZeroThreads", {"-t", "0", kTarget}, "--threads"},
                    BadUsage{"BadDuration", {"-d", "10 parsecs", kTarget}, "--duration"},
                    BadUsage{"ZeroDuration", {"-d", "0s", kTarget}, "--duration"},
                    BadUsage{"BadWarmup", {"--warmup", "soon", kTarget}, "--warmup"},
                    BadUsage{"BadSize", {"-s", "big", kTarget}, "--size"},
                    BadUsage{"ZeroSizeRaw", {"-s", "0", kTarget}, "--size"},
                    BadUsage{"ZeroPipeline", {"--pipeline", "0", kTarget}, "--pipeline"},
                    BadUsage{"NegativeRate", {"-R", "-5", kTarget}, "--rate"},
                    BadUsage{"NegativeIdle", {"--idle", "-1", kTarget}, "--idle"},
                    BadUsage{"BadConnectRate", {"--connect-rate", "fast", kTarget}, "--connect-rate"},
                    BadUsage{"BadTimeout", {"--timeout", "0", kTarget}, "--timeout"},
                    BadUsage{"BadBind", {"--bind", "127.0.0.1,nowhere", kTarget}, "--bind"},
                    BadUsage{"PipelinePerMessage", {"--connect-per-message", "--pipeline", "2", kTarget}, "--pipeline"},
                    BadUsage{"MissingValue", {kTarget, "-c"}, "c"},
                    BadUsage{"MissingTarget", {"-c", "5"}, "HOST:PORT"},
                    BadUsage{"TargetWithoutPort", {"127.0.0.1"}, "HOST:PORT"},
                    BadUsage{"PortOutOfRange", {"127.0.0.1:70000"}, "HOST:PORT"},
                    BadUsage{"TwoTargets", {kTarget, kTarget}, kTarget.c_str()}),
    [](const testing::TestParamInfo<BadUsage>& param) { return param.param.name; });

}  // namespace
}  // namespace iomodels::loadgen
