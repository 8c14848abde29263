// ServerProcess and run_command, driven with /bin/sh standing in for a server: the banner, the process group,
// signals, deadlines and cleanup that every server test relies on.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <string>

#include "harness/server_process.hpp"
#include "tests/server_fixture.hpp"

namespace iomodels::test {
namespace {

using namespace std::chrono_literals;

TEST(ServerProcess, ReadsHostAndPortFromAnIpv6Banner) {
  ServerProcess process("/bin/sh", {"-c", "echo 'listening on [::1]:4321'; exec sleep 30"});
  ASSERT_TRUE(process.wait_for_banner(kIoTimeout)) << process.error();
  EXPECT_EQ(process.banner(), "listening on [::1]:4321");
  EXPECT_EQ(process.host(), "::1");
  EXPECT_EQ(process.port(), 4321);
}

TEST(ServerProcess, MalformedBannerIsAnError) {
  ServerProcess process("/bin/sh", {"-c", "echo 'ready on port 80'; exec sleep 30"});
  EXPECT_FALSE(process.wait_for_banner(kIoTimeout));
  EXPECT_NE(process.error().find("malformed banner"), std::string::npos) << process.error();
}

TEST(ServerProcess, ExitBeforeTheBannerReportsStderrAndStatus) {
  ServerProcess process("/bin/sh", {"-c", "echo 'bind 127.0.0.1:7000: Address already in use' >&2; exit 1"});
  EXPECT_FALSE(process.wait_for_banner(kIoTimeout));
  EXPECT_NE(process.error().find("Address already in use"), std::string::npos) << process.error();
  std::optional<int> status = process.wait_exit(kIoTimeout);
  ASSERT_TRUE(status);
  EXPECT_EQ(describe_wait_status(*status), "exited with 1");
}

TEST(ServerProcess, NoBannerWithinTheDeadlineIsAnError) {
  ServerProcess process("/bin/sh", {"-c", "exec sleep 30"});
  EXPECT_FALSE(process.wait_for_banner(100ms));
  EXPECT_NE(process.error().find("no banner within 100 ms"), std::string::npos) << process.error();
}

TEST(ServerProcess, WaitExitTimesOutWhileRunningAndReportsTheSignal) {
  ServerProcess process("/bin/sh", {"-c", "exec sleep 30"});
  EXPECT_FALSE(process.wait_exit(50ms));
  EXPECT_TRUE(process.running());
  ASSERT_TRUE(process.signal(SIGTERM));
  std::optional<int> status = process.wait_exit(kIoTimeout);
  ASSERT_TRUE(status);
  EXPECT_EQ(describe_wait_status(*status), "killed by SIGTERM");
  EXPECT_FALSE(process.signal(SIGTERM)) << "the leader is reaped: nothing left to signal";
}

TEST(ServerProcess, GroupMembersAreListedMeasuredAndKilledTogether) {
  ServerProcess process("/bin/sh",
                        {"-c", "sleep 30 & sleep 30 & echo 'listening on 127.0.0.1:1'; wait"});
  ASSERT_TRUE(process.wait_for_banner(kIoTimeout)) << process.error();
  const pid_t group = process.pid();
  EXPECT_EQ(process_group_members(group).size(), 3u) << describe_group(group);
  EXPECT_GT(process_group_rss(group), 0u);
  EXPECT_EQ(process_group_zombies(group), 0u);
  process.kill_group();
  EXPECT_EQ(describe_group(group), "none");
}

TEST(ServerProcess, ChildrenThatOutliveTheLeaderStayInItsGroup) {
  // The leader exits at once; its child is adopted by the test binary (a subreaper) and still counts.
  ServerProcess process("/bin/sh", {"-c", "sleep 30 & exit 0"});
  std::optional<int> status = process.wait_exit(kIoTimeout);
  ASSERT_TRUE(status);
  const pid_t group = process.pid();
  EXPECT_EQ(process_group_members(group).size(), 1u) << describe_group(group);
  process.kill_group();
  EXPECT_EQ(describe_group(group), "none");
}

TEST(ServerProcess, SpawningAMissingProgramThrows) {
  EXPECT_THROW(ServerProcess("/nonexistent/server", {}), std::system_error);
}

TEST(RunCommand, CapturesStdoutStderrAndStatus) {
  CommandResult run = run_command({"/bin/sh", "-c", "echo out; echo err >&2; exit 4"}, kIoTimeout);
  ASSERT_TRUE(run.started) << run.error;
  EXPECT_FALSE(run.timed_out);
  EXPECT_EQ(describe_wait_status(run.wait_status), "exited with 4");
  EXPECT_EQ(run.out, "out\n");
  EXPECT_EQ(run.err, "err\n");
}

TEST(RunCommand, KillsTheGroupAtTheDeadline) {
  const auto began = std::chrono::steady_clock::now();
  CommandResult run = run_command({"/bin/sh", "-c", "sleep 30 & sleep 30"}, 100ms);
  EXPECT_TRUE(run.started);
  EXPECT_TRUE(run.timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 5s);
}

TEST(RunCommand, FindsProgramsInPathAndReportsMissingOnes) {
  EXPECT_TRUE(run_command({"sh", "-c", "exit 0"}, kIoTimeout).started);
  CommandResult missing = run_command({"no-such-program-iomodels"}, kIoTimeout);
  EXPECT_FALSE(missing.started);
  EXPECT_FALSE(missing.error.empty());
}

}  // namespace
}  // namespace iomodels::test
