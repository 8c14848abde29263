// bin/compare --net veth: the server in a network namespace of its own behind a veth pair. Skipped, with the
// reason, where namespaces cannot be created.
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "compare/compare.hpp"
#include "compare/netns.hpp"
#include "compare/options.hpp"
#include "tests/loadgen_fixture.hpp"

namespace iomodels::compare {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

bool namespace_exists(const std::string& name) {
  return std::filesystem::exists("/run/netns/" + name);
}

TEST(CompareNet, BadPathIsAUsageError) {
  const char* argv[] = {"compare", "--net", "wifi"};
  const ParsedCommandLine parsed = parse_compare_command_line(3, argv);
  EXPECT_NE(parsed.error.find("--net"), std::string::npos) << parsed.error;
  EXPECT_EQ(parsed.error.find('\n'), std::string::npos);
  const char* veth[] = {"compare", "--net", "veth"};
  EXPECT_EQ(parse_compare_command_line(3, veth).options.net, "veth");
  const char* none[] = {"compare"};
  EXPECT_EQ(parse_compare_command_line(1, none).options.net, "loopback");
}

TEST(CompareNet, PathIsMadeAndRemoved) {
  std::string why;
  std::string name;
  {
    const auto path = VethPath::create(why);
    if (!path) GTEST_SKIP() << "cannot create a network namespace here: " << why;
    name = path->name();
    EXPECT_TRUE(namespace_exists(name));
    EXPECT_EQ(path->server_address().rfind("198.19.", 0), 0U) << path->server_address();
    const auto argv = path->wrap("/bin/x", {"--port", "0"});
    EXPECT_EQ(argv, (std::vector<std::string>{"netns", "exec", name, "/bin/x", "--port", "0", "--host",
                                              path->server_address()}));
  }
  EXPECT_FALSE(namespace_exists(name));
}

// A comparison over veth: the messages cross the pair (the server's address is the namespace's), the report and
// the JSON say which path was used, and the namespace is gone afterwards.
TEST(CompareNet, EpollOverVeth) {
  LOADGEN_REQUIRE_BINARY(loadgen_test::bin_path("epoll"));
  std::string why;
  if (!VethPath::create(why)) GTEST_SKIP() << "cannot create a network namespace here: " << why;
  char pattern[] = "/tmp/compare-netns-XXXXXX";
  const std::string out = ::mkdtemp(pattern) ? pattern : "";
  ASSERT_FALSE(out.empty());
  CompareOptions options;
  options.bin_dir = loadgen_test::env_or("BIN_DIR", "bin");
  options.out_dir = out;
  options.models = {"epoll"};
  options.connections = {4};
  options.duration = std::chrono::seconds(1);
  options.warmup = std::chrono::nanoseconds(0);
  options.net = "veth";
  options.command_line = "compare --net veth (from compare_netns_test)";
  std::ostringstream table, progress;
  ASSERT_EQ(run_compare(options, table, progress), 0) << progress.str();
  const nlohmann::json json = nlohmann::json::parse(read_text(out + "/results.json"));
  EXPECT_EQ(json["options"]["net"], "veth");
  ASSERT_EQ(json["results"].size(), 1U);
  EXPECT_EQ(json["results"][0]["outcome"], "ok") << json["results"][0].dump(1);
  EXPECT_GT(json["results"][0]["messages"].get<std::uint64_t>(), 0U);
  const std::string report = read_text(out + "/report.md");
  EXPECT_NE(report.find("server behind a veth pair"), std::string::npos) << report;
  const std::string notes = json.dump();
  const auto at = notes.find("network namespace imc");
  ASSERT_NE(at, std::string::npos) << notes;
  const std::string name = notes.substr(at + 18, notes.find(' ', at + 18) - at - 18);
  EXPECT_FALSE(namespace_exists(name)) << name;
  std::error_code ignored;
  std::filesystem::remove_all(out, ignored);
}

}  // namespace
}  // namespace iomodels::compare
