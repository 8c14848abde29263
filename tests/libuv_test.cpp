// libuv's own answer to running out of descriptors (libuv/README.md): on EMFILE it closes a reserved descriptor,
// accepts every pending connection and closes it at once, and reopens the reserve (uv__emfile_trick). So over
// the limit clients are refused rather than left waiting in the backlog, and the server never spins. When even
// the reserve cannot help, the server closes its listening handle and sleeps until a descriptor frees up.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "tests/fd_limit_support.hpp"

namespace iomodels::test {
namespace {

void expect_exits_zero_on_sigterm(ServerProcess& server) {
  ASSERT_TRUE(server.signal(SIGTERM));
  std::optional<int> status = server.wait_exit(std::chrono::seconds(1));
  ASSERT_TRUE(status.has_value()) << "libuv did not exit within a second of SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << describe_wait_status(*status);
}

// The highest descriptor of the process open on /dev/null: libuv's reserve (stdin is /dev/null too, but lower).
int reserve_fd(pid_t pid) {
  int reserve = -1;
  for (int fd : open_fds(pid)) {
    char target[PATH_MAX] = {};
    const std::string link = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
    if (::readlink(link.c_str(), target, sizeof target - 1) > 0 && std::string(target) == "/dev/null") reserve = fd;
  }
  return reserve;
}

TEST(LibuvEmfile, RefusesClientsOverTheLimitAndServesNewOnesOnceDescriptorsFreeUp) {
  auto server = start_or_skip("libuv");
  if (!server) return;
  std::vector<Client> clients;
  clients.push_back(Client::connect(server->host(), server->port()));
  ASSERT_EQ(echo_problem(clients[0], "served 0"), "");
  ASSERT_TRUE(leave_free_fds(server->pid(), 2)) << "prlimit: " << std::strerror(errno);

  for (int i = 1; i < 5; ++i) {
    clients.push_back(Client::connect(server->host(), server->port()));
    ASSERT_TRUE(clients.back().connected()) << "client " << i << ": " << clients.back().error();
  }
  for (int i = 1; i < 3; ++i) EXPECT_EQ(echo_problem(clients[i], "served " + std::to_string(i)), "") << "client " << i;
  // The last two were accepted with the reserve's descriptor and closed at once: no echo, no waiting.
  for (int i = 3; i < 5; ++i) {
    clients[i].write_all("refused " + std::to_string(i));  // may fail: the server may have closed already
    ReadResult refused = clients[i].wait_closed();
    EXPECT_TRUE(closed_by_peer(refused.end)) << "client " << i << " over the limit: " << refused.describe();
    EXPECT_EQ(refused.data, "") << "client " << i << " over the limit was served";
  }

  const long cpu_before = cpu_millis(server->pid());
  EXPECT_EQ(echo_problem(clients[2], "still served"), "");
  EXPECT_EQ(clients[2].read_for(Millis(500)).data, "");  // a half-second window, with a deadline not a sleep
  EXPECT_LT(cpu_millis(server->pid()) - cpu_before, 100) << "libuv spins while out of descriptors";

  // A client leaves, so a descriptor frees up (the server closes it as it sends its FIN): the next one is served.
  clients[0].shutdown_write();
  ASSERT_TRUE(closed_by_peer(clients[0].wait_closed().end));
  Client next = Client::connect(server->host(), server->port());
  EXPECT_EQ(echo_problem(next, "served after"), "");
  EXPECT_EQ(echo_problem(clients[1], "to the end"), "");
  expect_exits_zero_on_sigterm(*server);
}

TEST(LibuvEmfile, SleepsWhenItsReserveCannotHelpAndAcceptsAgainLater) {
  auto server = start_or_skip("libuv");
  if (!server) return;
  Client first = Client::connect(server->host(), server->port());
  ASSERT_EQ(echo_problem(first, "served"), "");

  // A soft limit at the reserve's own number: every number below is taken, and closing the reserve frees none
  // that may be used, so accept(2) keeps failing with EMFILE even inside libuv's trick.
  const int reserve = reserve_fd(server->pid());
  ASSERT_GT(reserve, 2) << "libuv's reserve descriptor (/dev/null) not found";
  rlimit old_limit{};
  ASSERT_EQ(::prlimit(server->pid(), RLIMIT_NOFILE, nullptr, &old_limit), 0) << std::strerror(errno);
  const rlimit squeezed{static_cast<rlim_t>(reserve), old_limit.rlim_max};
  ASSERT_EQ(::prlimit(server->pid(), RLIMIT_NOFILE, &squeezed, nullptr), 0) << std::strerror(errno);

  std::vector<Client> waiting;
  for (int i = 0; i < 2; ++i) {
    waiting.push_back(Client::connect(server->host(), server->port()));
    ASSERT_TRUE(waiting.back().write_all("waiting " + std::to_string(i)));
  }
  for (auto& client : waiting) {
    ReadResult quiet = client.read_for(kQuietPeriod);
    EXPECT_EQ(quiet.end, ReadEnd::kTimeout) << "a client over the limit: " << quiet.describe();
  }
  const long cpu_before = cpu_millis(server->pid());
  EXPECT_EQ(echo_problem(first, "still served"), "");
  EXPECT_EQ(first.read_for(Millis(500)).data, "");
  EXPECT_LT(cpu_millis(server->pid()) - cpu_before, 100) << "libuv spins while out of descriptors";

  // Descriptors free up: the waiting clients are accepted within the retry period.
  ASSERT_EQ(::prlimit(server->pid(), RLIMIT_NOFILE, &old_limit, nullptr), 0) << std::strerror(errno);
  for (std::size_t i = 0; i < waiting.size(); ++i) {
    const std::string expected = "waiting " + std::to_string(i);
    ReadResult echo = waiting[i].read_exactly(expected.size());
    EXPECT_EQ(echo.data, expected) << "client " << i << " was not served once descriptors freed up: "
                                   << echo.describe();
  }
  EXPECT_NE(server->stderr_text().find("Too many open files"), std::string::npos)
      << "the EMFILE is not logged; stderr: " << server->stderr_text();
  expect_exits_zero_on_sigterm(*server);
}

}  // namespace
}  // namespace iomodels::test
