// What the blocking models promise beyond the protocol (blocking/README.md): exited threads and child processes
// do not pile up while the server runs, a prefork worker that dies is replaced, --max-conns holds across prefork's
// processes, and a server out of descriptors keeps serving and accepts again without spinning.
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

// The live (not zombie) members of the server's process group other than the server itself.
std::vector<pid_t> live_children(pid_t pgid) {
  std::vector<pid_t> children;
  for (const auto& member : process_group_members(pgid)) {
    if (member.pid != pgid && member.state != 'Z') children.push_back(member.pid);
  }
  return children;
}

std::vector<Client> connect_served(ServerProcess& server, int count) {
  std::vector<Client> clients;
  for (int i = 0; i < count; ++i) {
    clients.push_back(Client::connect(server.host(), server.port()));
    EXPECT_EQ(echo_problem(clients.back(), "client " + std::to_string(i)), "") << "client " << i;
  }
  return clients;
}

TEST(BlockingThreads, JoinsEachThreadAsItsConnectionEnds) {
  auto server = start_or_skip("blocking-threads");
  if (!server) return;
  std::vector<Client> first = connect_served(*server, 1);
  const int base = thread_count(server->pid());  // main, the signal watcher, and the first connection's thread

  std::vector<Client> more = connect_served(*server, 10);
  EXPECT_EQ(thread_count(server->pid()), base + 10);
  more.clear();
  EXPECT_TRUE(eventually([&] { return thread_count(server->pid()) == base; }, kIoTimeout))
      << "threads after 10 connections closed: " << thread_count(server->pid()) << ", expected " << base;
  EXPECT_EQ(echo_problem(first[0], "still served"), "");
  expect_clean_stop(*server);
}

TEST(BlockingFork, ReapsEachChildAsItExits) {
  auto server = start_or_skip("blocking-fork");
  if (!server) return;
  for (int i = 0; i < 20; ++i) connect_served(*server, 1);  // each closes as it goes out of scope
  std::vector<Client> clients = connect_served(*server, 5);
  // The children of the first twenty may take a moment to see their EOF and exit.
  EXPECT_TRUE(eventually([&] { return live_children(server->pid()).size() == 5; }, kIoTimeout))
      << "five open connections, children: " << describe_group(server->pid());
  clients.clear();
  EXPECT_TRUE(eventually([&] { return process_group_members(server->pid()).size() == 1; }, kIoTimeout))
      << "children or zombies left after every connection closed: " << describe_group(server->pid());
  expect_clean_stop(*server);
}

TEST(BlockingPrefork, ReplacesAWorkerThatDies) {
  auto server = start_or_skip("blocking-prefork", {"--threads", "2"});
  if (!server) return;
  std::vector<pid_t> workers;
  ASSERT_TRUE(eventually([&] { return (workers = live_children(server->pid())).size() == 2; }, kIoTimeout))
      << describe_group(server->pid());
  ASSERT_EQ(::kill(workers[0], SIGKILL), 0);

  std::vector<pid_t> now;
  EXPECT_TRUE(eventually(
      [&] {
        now = live_children(server->pid());
        return now.size() == 2 && now[0] != workers[0] && now[1] != workers[0] &&
               process_group_zombies(server->pid()) == 0;
      },
      kIoTimeout))
      << "workers before: " << workers[0] << ", " << workers[1] << "; group now: " << describe_group(server->pid());
  // Both workers serve: two clients at once.
  std::vector<Client> clients = connect_served(*server, 2);
  EXPECT_NE(server->stderr_text().find("died"), std::string::npos) << "stderr: " << server->stderr_text();
  expect_clean_stop(*server);
}

TEST(BlockingPrefork, MaxConnsCountsTheConnectionsOfEveryWorker) {
  auto server = start_or_skip("blocking-prefork", {"--threads", "3", "--max-conns", "2"});
  if (!server) return;
  std::vector<Client> clients = connect_served(*server, 2);
  Client over = Client::connect(server->host(), server->port());
  ASSERT_TRUE(over.connected()) << over.error();
  ReadResult closed = over.wait_closed();
  EXPECT_TRUE(closed_by_peer(closed.end)) << "a third connection under --max-conns 2: " << closed.describe();
  EXPECT_EQ(closed.data, "");

  clients.erase(clients.begin());
  // The worker notices the EOF and clears its mark; a new client is served once it has.
  EXPECT_TRUE(served_again(*server));
  expect_clean_stop(*server);
}

TEST(BlockingThreadsEmfile, KeepsServingAndAcceptsAgainWhenDescriptorsFreeUp) {
  check_recovers_from_emfile("blocking-threads", /*may_spin=*/false);
}

TEST(BlockingPoolEmfile, KeepsServingAndAcceptsAgainWhenDescriptorsFreeUp) {
  check_recovers_from_emfile("blocking-pool", /*may_spin=*/false);
}

}  // namespace
}  // namespace iomodels::test
