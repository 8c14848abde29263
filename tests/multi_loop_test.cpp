// What the multi-loop servers promise beyond the protocol (epoll/, async/, libevent/ and coroutine/ READMEs):
// --threads N runs N loops, each on its own thread with its own SO_REUSEPORT listener on one port, so the kernel
// spreads connections over them; --max-conns still counts the connections of all of them; and SIGTERM stops every
// loop, even one with output pending for a peer that does not read.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/server_fixture.hpp"

namespace iomodels::test {
namespace {

class MultiLoop : public ::testing::TestWithParam<std::string> {};

TEST_P(MultiLoop, RunsOneThreadPerLoop) {
  auto server = start_or_skip(GetParam(), {"--threads", "3"});
  if (!server) return;
  // The banner comes once the first listener listens; the other threads start just after it. A sanitizer
  // build may run one thread of its own.
  EXPECT_TRUE(eventually([&] { return thread_count(server->pid()) >= 3; }, kIoTimeout))
      << "threads: " << thread_count(server->pid());
  EXPECT_LE(thread_count(server->pid()), 4);
  // Enough clients that every loop almost surely gets some; each is served whichever accepted it.
  std::vector<Client> clients;
  for (int i = 0; i < 24; ++i) {
    clients.push_back(Client::connect(server->host(), server->port()));
    ASSERT_EQ(echo_problem(clients.back(), "client " + std::to_string(i)), "") << "client " << i;
  }
  // One client that does not read leaves output pending on its loop; shutdown still takes under a second.
  std::string bulk(4 << 20, 'x');
  Client stuck = Client::connect(server->host(), server->port());
  ASSERT_TRUE(stuck.connected()) << stuck.error();
  stuck.write_some(bulk);
  expect_clean_stop(*server);
}

TEST_P(MultiLoop, MaxConnsCountsTheConnectionsOfEveryLoop) {
  auto server = start_or_skip(GetParam(), {"--threads", "2", "--max-conns", "3"});
  if (!server) return;
  std::vector<Client> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(Client::connect(server->host(), server->port()));
    ASSERT_EQ(echo_problem(clients.back(), "client " + std::to_string(i)), "") << "client " << i;
  }
  // Whichever loop accepts them, connections over the limit are closed at once.
  for (int i = 0; i < 4; ++i) {
    Client over = Client::connect(server->host(), server->port());
    ASSERT_TRUE(over.connected()) << over.error();
    ReadResult closed = over.wait_closed();
    EXPECT_TRUE(closed_by_peer(closed.end)) << "connection " << i << " over --max-conns 3: " << closed.describe();
    EXPECT_EQ(closed.data, "");
  }
  // The loop that held it sees the EOF and closes it; a new client is served once it has.
  clients.erase(clients.begin());
  EXPECT_TRUE(served_again(*server));
  expect_clean_stop(*server);
}

INSTANTIATE_TEST_SUITE_P(Servers, MultiLoop, ::testing::Values("coroutine", "libevent", "epoll", "io_uring"),
                         [](const ::testing::TestParamInfo<std::string>& param) { return param.param; });

}  // namespace
}  // namespace iomodels::test
