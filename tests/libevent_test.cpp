// What libevent promises beyond the protocol (libevent/README.md): --threads N runs N event_bases on N threads,
// each with its own SO_REUSEPORT listener on one port, so the kernel spreads connections over them; --max-conns
// still counts the connections of all of them; and SIGTERM stops every loop.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/fd_limit_support.hpp"
#include "tests/server_fixture.hpp"

namespace iomodels::test {
namespace {

TEST(LibeventThreads, RunsOneThreadPerEventBase) {
  std::string skip;
  std::string error;
  auto server = start_model("libevent", {"--threads", "3"}, &skip, &error);
  if (!server && !skip.empty()) GTEST_SKIP() << skip;
  ASSERT_TRUE(server) << error;
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

TEST(LibeventThreads, MaxConnsCountsTheConnectionsOfEveryEventBase) {
  std::string skip;
  std::string error;
  auto server = start_model("libevent", {"--threads", "2", "--max-conns", "3"}, &skip, &error);
  if (!server && !skip.empty()) GTEST_SKIP() << skip;
  ASSERT_TRUE(server) << error;
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

  clients.erase(clients.begin());
  // The loop that held it sees the EOF and closes it; a new client is served once it has.
  EXPECT_TRUE(eventually(
      [&] {
        Client next = Client::connect(server->host(), server->port());
        return echo_problem(next, "room again", Millis(500)) == "";
      },
      kIoTimeout));
  expect_clean_stop(*server);
}

}  // namespace
}  // namespace iomodels::test
