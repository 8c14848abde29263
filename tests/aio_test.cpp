// The POSIX AIO server's own limit (async/README.md): glibc serves every request with a helper thread that blocks
// in read(2)/write(2), and each connection keeps a read outstanding, so an idle connection holds a thread. glibc's
// default pool is 20 threads; the server sizes it with aio_init(3) to twice its connection limit. These tests
// assert the cost (a thread per idle connection), that idle connections beyond glibc's default pool do not starve
// active ones, and that --help states the limit.
// glibc also runs the requests of one descriptor strictly one after another, so a write queued behind a read that
// waits for the peer would never start; the server writes through a dup(2) of the socket. Pipelined requests whose
// responses need several writes while the client sends nothing more are the case that would stall without it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "tests/fd_limit_support.hpp"
#include "tests/server_fixture.hpp"

namespace iomodels::test {
namespace {

// More than glibc's default aio_threads (20), so the default pool would be exhausted by idle readers alone.
constexpr int kIdleClients = 50;
constexpr int kActiveClients = 10;

void expect_exits_zero_on_sigterm(ServerProcess& server) {
  ASSERT_TRUE(server.signal(SIGTERM));
  const std::optional<int> status = server.wait_exit(std::chrono::seconds(1));
  ASSERT_TRUE(status.has_value()) << "aio did not exit within a second of SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << describe_wait_status(*status);
}

std::vector<Client> connect_clients(const ServerProcess& server, int n) {
  std::vector<Client> clients;
  for (int i = 0; i < n; ++i) clients.push_back(Client::connect(server.host(), server.port()));
  return clients;
}

TEST(AioHelperThreads, EachIdleConnectionHoldsAHelperThreadBlockedInRead) {
  auto server = start_or_skip("aio");
  if (!server) return;
  std::vector<Client> idle = connect_clients(*server, kIdleClients);
  for (const Client& client : idle) ASSERT_TRUE(client.connected()) << client.error();
  // The main thread and the accept thread, plus one helper per idle connection once each read is running.
  EXPECT_TRUE(eventually([&] { return thread_count(server->pid()) >= kIdleClients + 2; }, kIoTimeout))
      << "threads: " << thread_count(server->pid()) << " with " << kIdleClients << " idle connections";
  expect_exits_zero_on_sigterm(*server);
}

TEST(AioHelperThreads, IdleConnectionsBeyondGlibcsDefaultPoolDoNotStarveActiveOnes) {
  auto server = start_or_skip("aio");
  if (!server) return;
  std::vector<Client> idle = connect_clients(*server, kIdleClients);
  ASSERT_TRUE(eventually([&] { return thread_count(server->pid()) >= kIdleClients + 2; }, kIoTimeout));
  std::vector<Client> active = connect_clients(*server, kActiveClients);
  for (int i = 0; i < kActiveClients; ++i) {
    EXPECT_EQ(echo_problem(active[i], "active " + std::to_string(i)), "") << "active client " << i;
  }
  EXPECT_EQ(echo_problem(idle.front(), "the first idle client speaks"), "");
  expect_exits_zero_on_sigterm(*server);
}

TEST(AioHelperThreads, SigtermWithEveryHelperBlockedExitsZeroWithinOneSecond) {
  auto server = start_or_skip("aio", {"--max-conns", "40"});
  if (!server) return;
  std::vector<Client> idle = connect_clients(*server, 40);
  ASSERT_TRUE(eventually([&] { return thread_count(server->pid()) >= 40 + 2; }, kIoTimeout));
  expect_exits_zero_on_sigterm(*server);
}

TEST(AioDescriptorQueues, ResponsesNeedingSeveralWritesAllArriveWhileTheClientWaits) {
  constexpr int kRequests = 3000;  // about 57 KB of requests whose responses take about 240 KB, several writes
  auto server = start_or_skip("aio");
  if (!server) return;
  Client client = Client::connect(server->host(), server->port());
  ASSERT_TRUE(client.connected()) << client.error();
  std::string requests;
  for (int i = 0; i < kRequests; ++i) requests += "GET /x HTTP/1.1\r\n\r\n";
  ASSERT_TRUE(client.write_all(requests)) << client.error();
  for (int i = 0; i < kRequests; ++i) {
    const HttpRead read = read_http_response(client);
    ASSERT_TRUE(read.response) << "response " << i << " of " << kRequests << ": " << read.error;
    ASSERT_EQ(read.response->body, "/x");
  }
  expect_exits_zero_on_sigterm(*server);
}

TEST(AioHelperThreads, HelpStatesTheHelperThreadLimit) {
  const std::string path = model_binary("aio");
  if (::access(path.c_str(), X_OK) != 0) GTEST_SKIP() << path << " is not built";
  const CommandResult result = run_command({path, "--help"}, kIoTimeout);
  ASSERT_TRUE(result.started) << result.error;
  ASSERT_TRUE(WIFEXITED(result.wait_status) && WEXITSTATUS(result.wait_status) == 0);
  EXPECT_NE(result.out.find("Inherent limit: glibc runs every request on a helper thread"), std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("--max-conns"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace iomodels::test
