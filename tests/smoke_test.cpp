// Third-party HTTP clients against every server that serves clients concurrently: wrk (HTTP/1.1 keep-alive,
// requests as fast as they come back) and ApacheBench with -k (HTTP/1.0 keep-alive). They are the tools a reader
// of the README will point at a server, so each must run clean: no socket errors, no failed requests.
//
// The iterative server is left out: it serves one connection at a time, so four concurrent clients would wait
// on each other until wrk's timeouts rather than test the protocol.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "harness/server_process.hpp"
#include "tests/server_fixture.hpp"
#include "tests/servers.hpp"

namespace iomodels::test {
namespace {

using namespace std::chrono_literals;

bool installed(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t colon = dirs.find(':', start);
    if (colon == std::string::npos) colon = dirs.size();
    std::string dir = dirs.substr(start, colon - start);
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
    start = colon + 1;
  }
  return false;
}

// The first number that pattern's group 1 captures in text, or -1 when the pattern is absent.
long long number_after(const std::string& text, const std::string& pattern) {
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(pattern))) return -1;
  return std::stoll(match[1].str());
}

std::string describe(const CommandResult& run) {
  return (run.timed_out ? std::string("timed out; ") : describe_wait_status(run.wait_status) + "; ") +
         "stdout:\n" + run.out + "\nstderr:\n" + run.err;
}

class Smoke : public ServerTest {
 protected:
  // Pools get workers to spare over the four connections the tools open.
  void start_for_load() {
    std::vector<std::string> extra;
    if (spec().limit_is_threads) extra = {"--threads", "16"};
    ASSERT_NO_FATAL_FAILURE(start(extra));
  }
  std::string url() { return "http://127.0.0.1:" + std::to_string(server().port()) + "/"; }
};

TEST_P(Smoke, WrkForOneSecondHasNoSocketErrorsOrBadResponses) {
  if (!installed("wrk")) GTEST_SKIP() << "wrk not installed (make deps installs it)";
  ASSERT_NO_FATAL_FAILURE(start_for_load());
  CommandResult run = run_command({"wrk", "-t1", "-c4", "-d1s", url()}, 20s);
  ASSERT_TRUE(run.started) << run.error;
  ASSERT_FALSE(run.timed_out) << describe(run);
  EXPECT_TRUE(WIFEXITED(run.wait_status) && WEXITSTATUS(run.wait_status) == 0) << describe(run);
  EXPECT_GT(number_after(run.out, R"((\d+) requests in)"), 0) << describe(run);
  // wrk prints these lines only when a count is not zero.
  EXPECT_EQ(run.out.find("Socket errors"), std::string::npos) << describe(run);
  EXPECT_EQ(run.out.find("Non-2xx or 3xx responses"), std::string::npos) << describe(run);
}

TEST_P(Smoke, ApacheBenchKeepAliveCompletesEveryRequestOnKeptConnections) {
  if (!installed("ab")) GTEST_SKIP() << "ab not installed (apache2-utils; make deps installs it)";
  ASSERT_NO_FATAL_FAILURE(start_for_load());
  CommandResult run = run_command({"ab", "-q", "-k", "-n", "2000", "-c", "4", url()}, 30s);
  ASSERT_TRUE(run.started) << run.error;
  ASSERT_FALSE(run.timed_out) << describe(run);
  EXPECT_TRUE(WIFEXITED(run.wait_status) && WEXITSTATUS(run.wait_status) == 0) << describe(run);
  const long long complete = number_after(run.out, R"(Complete requests:\s+(\d+))");
  EXPECT_EQ(complete, 2000) << describe(run);
  EXPECT_EQ(number_after(run.out, R"(Failed requests:\s+(\d+))"), 0) << describe(run);
  EXPECT_EQ(number_after(run.out, R"(Keep-Alive requests:\s+(\d+))"), complete) << describe(run);
  EXPECT_EQ(run.out.find("Non-2xx responses"), std::string::npos) << describe(run);
}

INSTANTIATE_TEST_SUITE_P(Servers, Smoke,
                         ::testing::ValuesIn(servers_where([](const ServerSpec& s) { return !is_iterative(s); })),
                         server_label);

}  // namespace
}  // namespace iomodels::test
