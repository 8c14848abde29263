// The poll server's reach (poll/README.md): no FD_SETSIZE, so connections past descriptor 1024 are served like
// any other; out of descriptors, it sleeps and accepts again once one frees up.
#include <signal.h>
#include <sys/select.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/fd_limit_support.hpp"

namespace iomodels::test {
namespace {

constexpr int kClients = 1100;
static_assert(kClients > FD_SETSIZE, "the test must go past select's limit");

TEST(PollBeyondFdSetSize, ServesMoreConnectionsThanSelectCould) {
  if (!ensure_own_fd_limit(kClients + 200)) GTEST_SKIP() << "RLIMIT_NOFILE hard limit below " << kClients + 200;
  auto server = start_or_skip("poll");
  if (!server) return;

  std::vector<Client> clients;
  clients.reserve(kClients);
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(Client::connect(server->host(), server->port()));
    ASSERT_TRUE(clients.back().connected()) << "client " << i << ": " << clients.back().error();
  }
  for (std::size_t i = 0; i < clients.size(); ++i) {
    ASSERT_EQ(echo_problem(clients[i], "ping " + std::to_string(i)), "") << "client " << i;
  }
  int highest = 0;
  for (int fd : open_fds(server->pid())) highest = std::max(highest, fd);
  EXPECT_GE(highest, FD_SETSIZE) << "the server never held a descriptor past FD_SETSIZE";

  // Connections leave from the middle of the pollfd array (swap-remove): the others are unaffected.
  for (std::size_t i = 0; i < clients.size(); i += 3) clients[i].close();
  for (std::size_t i = 1; i < clients.size(); i += 3) {
    ASSERT_EQ(echo_problem(clients[i], "again " + std::to_string(i)), "") << "client " << i;
  }
  ASSERT_TRUE(server->running());

  ASSERT_TRUE(server->signal(SIGTERM));
  std::optional<int> status = server->wait_exit(std::chrono::seconds(1));
  ASSERT_TRUE(status.has_value()) << "poll did not exit within a second of SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << describe_wait_status(*status);
}

TEST(PollEmfile, KeepsServingSleepsAndAcceptsAgainWhenDescriptorsFreeUp) {
  check_recovers_from_emfile("poll", /*may_spin=*/false);
}

}  // namespace
}  // namespace iomodels::test
