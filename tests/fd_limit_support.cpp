#include "tests/fd_limit_support.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tests/servers.hpp"

namespace iomodels::test {

bool ensure_own_fd_limit(rlim_t want) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur >= want) return true;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < want) return false;
  limit.rlim_cur = want;
  return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

std::vector<int> open_fds(pid_t pid) {
  std::vector<int> fds;
  const std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return fds;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') fds.push_back(std::atoi(entry->d_name));
  }
  ::closedir(dir);
  std::sort(fds.begin(), fds.end());
  return fds;
}

bool leave_free_fds(pid_t pid, std::size_t free_slots) {
  const std::vector<int> fds = open_fds(pid);
  if (fds.empty()) return false;
  const auto in_use = [&fds](rlim_t fd) { return std::binary_search(fds.begin(), fds.end(), static_cast<int>(fd)); };
  // The smallest limit under which exactly free_slots numbers are unused.
  rlim_t limit = 0;
  for (std::size_t free_below = 0; free_below < free_slots; ++limit) {
    if (!in_use(limit)) ++free_below;
  }
  const rlimit value{limit, limit};
  return ::prlimit(pid, RLIMIT_NOFILE, &value, nullptr) == 0;
}

long cpu_millis(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line)) return -1;
  // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  long utime = 0;
  long stime = 0;
  for (int number = 3; number <= 15 && rest >> field; ++number) {
    if (number == 14) utime = std::stol(field);
    if (number == 15) stime = std::stol(field);
  }
  return (utime + stime) * 1000 / ::sysconf(_SC_CLK_TCK);
}

void check_recovers_from_emfile(const std::string& model, bool may_spin) {
  auto server = start_or_skip(model);
  if (!server) return;
  std::vector<Client> clients;
  clients.push_back(Client::connect(server->host(), server->port()));
  ASSERT_TRUE(clients.back().connected()) << clients.back().error();
  // Once a connection is served the loop runs, so every descriptor the server keeps for itself is open.
  ASSERT_EQ(echo_problem(clients[0], "served 0"), "");
  ASSERT_TRUE(leave_free_fds(server->pid(), 2)) << "prlimit: " << std::strerror(errno);

  for (int i = 1; i < 5; ++i) {
    clients.push_back(Client::connect(server->host(), server->port()));
    ASSERT_TRUE(clients.back().connected()) << "client " << i << ": " << clients.back().error();
  }
  for (int i = 1; i < 3; ++i) {
    EXPECT_EQ(echo_problem(clients[i], "served " + std::to_string(i)), "") << "client " << i;
  }
  // The last two are connected (the kernel completed the handshake) but wait in the backlog: accept(2) fails.
  for (int i = 3; i < 5; ++i) {
    ASSERT_TRUE(clients[i].write_all("waiting " + std::to_string(i)));
    ReadResult quiet = clients[i].read_for(kQuietPeriod);
    EXPECT_EQ(quiet.end, ReadEnd::kTimeout) << "client " << i << " over the limit: " << quiet.describe();
    EXPECT_EQ(quiet.data, "") << "client " << i << " over the limit was served";
  }
  const long cpu_before = cpu_millis(server->pid());
  // Meanwhile the open connections are served.
  EXPECT_EQ(echo_problem(clients[2], "still served"), "");
  EXPECT_EQ(clients[2].read_for(Millis(500)).data, "");  // a half-second window, with a deadline not a sleep
  const long cpu_used = cpu_millis(server->pid()) - cpu_before;
  if (!may_spin) {
    // A sleeping server uses next to nothing; a spinning one close to the whole window (less when the shared
    // cores are busy), so a fifth of it separates them.
    EXPECT_LT(cpu_used, 100) << model << " spins while out of descriptors";
  }

  for (int i = 3; i < 5; ++i) {
    clients[i - 3].close();  // frees one descriptor in the server once it sees the EOF
    const std::string expected = "waiting " + std::to_string(i);
    ReadResult echo = clients[i].read_exactly(expected.size());
    EXPECT_EQ(echo.data, expected) << "client " << i << " was not served after a descriptor freed up: "
                                   << echo.describe();
    EXPECT_EQ(echo_problem(clients[i], "and again"), "") << "client " << i;
  }
  EXPECT_EQ(echo_problem(clients[2], "to the end"), "");
  EXPECT_NE(server->stderr_text().find("Too many open files"), std::string::npos)
      << "the EMFILE is not logged; stderr: " << server->stderr_text();

  ASSERT_TRUE(server->signal(SIGTERM));
  std::optional<int> status = server->wait_exit(std::chrono::seconds(1));
  ASSERT_TRUE(status.has_value()) << model << " did not exit within a second of SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << describe_wait_status(*status);
}

}  // namespace iomodels::test
