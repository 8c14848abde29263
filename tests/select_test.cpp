// The select server's own limits (select/README.md): descriptors at or above FD_SETSIZE are never put in an
// fd_set, so those connections are closed at once while the others go on; out of descriptors, it sleeps.
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

TEST(SelectFdSetSize, ConnectionsPastFdSetSizeAreClosedAndTheOthersKeepEchoing) {
  if (!ensure_own_fd_limit(kClients + 200)) GTEST_SKIP() << "RLIMIT_NOFILE hard limit below " << kClients + 200;
  // The server inherits the raised limit (and raises its own soft limit to the hard one in any case), so accept(2)
  // hands it descriptors past FD_SETSIZE rather than failing with EMFILE.
  auto server = start_or_skip("select");
  if (!server) return;

  std::vector<Client> clients;
  clients.reserve(kClients);
  clients.push_back(Client::connect(server->host(), server->port()));
  ASSERT_TRUE(clients.back().connected()) << clients.back().error();
  // Once a connection is served the loop runs, so every descriptor the server keeps for itself is open.
  ASSERT_EQ(echo_problem(clients[0], "first"), "");
  // Descriptors are allocated lowest first (open(2)), so the connections get exactly the numbers below
  // FD_SETSIZE that the server does not hold yet (and the first connection holds one of them).
  std::size_t servable = FD_SETSIZE + 1;
  for (int fd : open_fds(server->pid())) {
    if (fd < FD_SETSIZE) --servable;
  }
  for (int i = 1; i < kClients; ++i) {
    clients.push_back(Client::connect(server->host(), server->port()));
    ASSERT_TRUE(clients.back().connected()) << "client " << i << ": " << clients.back().error();
  }
  // The accept queue is FIFO: once one more connection is closed by the server, every earlier one was accepted.
  Client probe = Client::connect(server->host(), server->port());
  ASSERT_TRUE(probe.connected()) << probe.error();
  ReadResult probe_end = probe.wait_closed();
  ASSERT_EQ(probe_end.end, ReadEnd::kEof) << "the connection past FD_SETSIZE: " << probe_end.describe();

  // The first ones echo; every later one was closed cleanly (a FIN, no reset, no hang).
  for (std::size_t i = 0; i < clients.size(); ++i) {
    if (i < servable) {
      ASSERT_EQ(echo_problem(clients[i], "ping " + std::to_string(i)), "") << "client " << i;
    } else {
      ReadResult end = clients[i].wait_closed();
      ASSERT_EQ(end.end, ReadEnd::kEof) << "client " << i << " past FD_SETSIZE: " << end.describe();
      ASSERT_EQ(end.data, "") << "client " << i;
    }
  }
  // They keep echoing, and the server lives.
  for (std::size_t i = 0; i < servable; i += 7) {
    ASSERT_EQ(echo_problem(clients[i], "again " + std::to_string(i)), "") << "client " << i;
  }
  ASSERT_TRUE(server->running());
  EXPECT_NE(server->stderr_text().find("FD_SETSIZE"), std::string::npos)
      << "the refused connections are not logged; stderr: " << server->stderr_text();

  // A descriptor below FD_SETSIZE freed up: a new connection is served again.
  clients[3].close();
  ASSERT_EQ(echo_problem(clients[4], "after a close"), "");  // one round later the server has seen the EOF
  Client late = Client::connect(server->host(), server->port());
  ASSERT_TRUE(late.connected()) << late.error();
  EXPECT_EQ(echo_problem(late, "late"), "");

  // SIGTERM with a thousand connections open.
  ASSERT_TRUE(server->signal(SIGTERM));
  std::optional<int> status = server->wait_exit(std::chrono::seconds(1));
  ASSERT_TRUE(status.has_value()) << "select did not exit within a second of SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << describe_wait_status(*status);
}

TEST(SelectEmfile, KeepsServingSleepsAndAcceptsAgainWhenDescriptorsFreeUp) {
  check_recovers_from_emfile("select", /*may_spin=*/false);
}

}  // namespace
}  // namespace iomodels::test
