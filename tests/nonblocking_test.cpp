// The busy loop's documented limit (nonblocking/README.md): it never sleeps, so it burns CPU with no client at all,
// where select, poll and epoll would sleep; and out of descriptors it goes on serving and accepts again later.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <string>

#include "tests/fd_limit_support.hpp"

namespace iomodels::test {
namespace {

TEST(NonblockingBusyLoop, BurnsCpuWhileIdle) {
  auto server = start_or_skip("nonblocking");
  if (!server) return;

  // One second with no client at all. Alone on a core it uses all of it; the threshold leaves room for the cores
  // being shared with other tests, while a server that sleeps uses next to nothing.
  const long before = cpu_millis(server->pid());
  Client client = Client::connect(server->host(), server->port());
  ASSERT_TRUE(client.connected()) << client.error();
  EXPECT_EQ(client.read_for(Millis(1000)).data, "");  // a one-second window, with a deadline not a sleep
  const long used = cpu_millis(server->pid()) - before;
  EXPECT_GE(used, 100) << "the busy loop used only " << used << " ms of CPU in an idle second";

  // It still serves, of course.
  EXPECT_EQ(echo_problem(client, "hello"), "");
  ASSERT_TRUE(server->signal(SIGTERM));
  std::optional<int> status = server->wait_exit(std::chrono::seconds(1));
  ASSERT_TRUE(status.has_value()) << "nonblocking did not exit within a second of SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << describe_wait_status(*status);
}

TEST(NonblockingEmfile, KeepsServingAndAcceptsAgainWhenDescriptorsFreeUp) {
  check_recovers_from_emfile("nonblocking", /*may_spin=*/true);
}

}  // namespace
}  // namespace iomodels::test
