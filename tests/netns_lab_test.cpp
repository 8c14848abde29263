// bench/multihost.sh in a network namespace lab (tests/netns_lab.sh): a server and three client "hosts" in their
// own namespaces behind veth pairs and a bridge. Skipped, with the reason, where namespaces cannot be created.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/loadgen_fixture.hpp"

namespace iomodels {
namespace {

using namespace std::chrono_literals;

constexpr int kSkipStatus = 77;

CommandResult run_lab(std::vector<std::string> args) {
  args.insert(args.begin(), "tests/netns_lab.sh");
  return run_command(args, 120s);
}

std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> found;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(prefix)) found.push_back(line.substr(prefix.size()));
  }
  return found;
}

// Gone, or a zombie that its new parent has yet to reap.
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto paren = line.rfind(')');
  return paren == std::string::npos || (paren + 2 < line.size() && line[paren + 2] == 'Z');
}

#define REQUIRE_LAB_BINARIES()                                                         \
  do {                                                                                 \
    LOADGEN_REQUIRE_BINARY(loadgen_test::bin_path("loadgen"));                         \
    LOADGEN_REQUIRE_BINARY(loadgen_test::bin_path("epoll"));                           \
    LOADGEN_REQUIRE_BINARY(loadgen_test::fake_path("lg_corrupt"));                     \
  } while (0)

TEST(NetnsLab, MergedResultIsTheSumAndVerificationHolds) {
  REQUIRE_LAB_BINARIES();
  const CommandResult lab = run_lab({});
  ASSERT_TRUE(lab.started) << lab.error;
  ASSERT_FALSE(lab.timed_out) << lab.out << lab.err;
  const int status = loadgen_test::exit_code(lab);
  if (status == kSkipStatus) GTEST_SKIP() << lab.out;
  EXPECT_EQ(status, 0) << lab.out << lab.err;
  EXPECT_NE(lab.out.find("lab: every check passed"), std::string::npos) << lab.out;
}

// A run that dies while three hosts are loading the server leaves no namespace and no process behind.
TEST(NetnsLab, NothingLeftAfterAFailedRun) {
  REQUIRE_LAB_BINARIES();
  const CommandResult lab = run_lab({"--fail-mid-run"});
  ASSERT_TRUE(lab.started) << lab.error;
  const int status = loadgen_test::exit_code(lab);
  if (status == kSkipStatus) GTEST_SKIP() << lab.out;
  EXPECT_EQ(status, 1) << lab.out << lab.err;
  const std::vector<std::string> tags = lines_starting(lab.out, "lab: tag ");
  ASSERT_EQ(tags.size(), 1U) << lab.out;
  const std::vector<std::string> pids = lines_starting(lab.out, "lab: pid ");
  // The server, multihost.sh, and per host at least the ssh stand-in and its loadgen.
  EXPECT_GE(pids.size(), 8U) << lab.out;

  const CommandResult list = run_command({"ip", "netns", "list"}, 10s);
  ASSERT_TRUE(list.started) << list.error;
  EXPECT_EQ(list.out.find(tags.front() + "-"), std::string::npos) << list.out;
  for (const std::string& text : pids) {
    const pid_t pid = std::stoi(text);
    bool gone = false;
    for (int i = 0; i < 30 && !(gone = process_gone(pid)); ++i) std::this_thread::sleep_for(100ms);
    EXPECT_TRUE(gone) << "process " << pid << " of the failed lab is still running";
  }
}

}  // namespace
}  // namespace iomodels
