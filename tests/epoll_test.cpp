// The epoll server's own claims (epoll/README.md), checked from outside through /proc: the kernel shows an epoll
// instance's interest list in /proc/PID/fdinfo/EPFD, one "tfd: N events: MASK" line per watched descriptor, and
// /proc/PID/net/tcp ties a server-side socket to the client it talks to.
//   - Interest: a connection is watched for readable while its session takes input, for writable only while
//     output is pending (in both level- and edge-triggered mode).
//   - Memory: idle connections hold no buffer, so thousands cost little.
//   - --edge: a connection that always has more to read does not starve the others.
//   - --threads N: N event loops, each with its own epoll instance, and the kernel spreads connections over them.
//   - --processes N: N worker processes, each with its own loop, under a parent that restarts one that dies.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness/server_process.hpp"
#include "tests/fd_limit_support.hpp"
#include "tests/server_fixture.hpp"
#include "tests/servers.hpp"
#include "tests/test_support.hpp"

namespace iomodels::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kWatched = EPOLLIN | EPOLLOUT | EPOLLET;

// Where a descriptor of the process points: "socket:[123]", "anon_inode:[eventpoll]", ...
std::string link_of(pid_t pid, int fd) {
  char target[256];
  const std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
  return n > 0 ? std::string(target, static_cast<std::size_t>(n)) : std::string();
}

std::vector<int> epoll_instances(pid_t pid) {
  std::vector<int> found;
  for (int fd : open_fds(pid)) {
    if (link_of(pid, fd) == "anon_inode:[eventpoll]") found.push_back(fd);
  }
  return found;
}

// The interest list of one epoll instance: watched descriptor -> registered events, from fdinfo.
std::map<int, std::uint32_t> interest_list(pid_t pid, int epoll_fd) {
  std::map<int, std::uint32_t> watched;
  std::ifstream file("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(epoll_fd));
  std::string line;
  while (std::getline(file, line)) {
    std::istringstream fields(line);
    std::string tag;
    int fd = -1;
    std::string events_tag;
    std::string mask;
    if (fields >> tag >> fd >> events_tag >> mask && tag == "tfd:" && events_tag == "events:") {
      watched[fd] = static_cast<std::uint32_t>(std::stoul(mask, nullptr, 16));
    }
  }
  return watched;
}

// How /proc/net/tcp writes an IPv4 endpoint: the address as the raw (network-order) 32-bit word in hex, then the
// port in hex.
std::string proc_net_endpoint(const sockaddr_in& address) {
  char text[16];
  std::snprintf(text, sizeof text, "%08X:%04X", address.sin_addr.s_addr, ntohs(address.sin_port));
  return text;
}

// The server-side descriptor of the connection whose peer is client: the established socket whose inode
// /proc/net/tcp lists with the client's endpoint as its remote one and the server's as its local one (the port
// alone is not enough: another program's connections from other loopback addresses may reuse it). -1 when not
// found.
int server_fd_of(pid_t pid, const Client& client) {
  sockaddr_in client_end{};
  sockaddr_in server_end{};
  socklen_t length = sizeof client_end;
  if (::getsockname(client.fd(), reinterpret_cast<sockaddr*>(&client_end), &length) != 0) return -1;
  length = sizeof server_end;
  if (::getpeername(client.fd(), reinterpret_cast<sockaddr*>(&server_end), &length) != 0) return -1;
  const std::string wanted_remote = proc_net_endpoint(client_end);
  const std::string wanted_local = proc_net_endpoint(server_end);
  std::ifstream file("/proc/" + std::to_string(pid) + "/net/tcp");
  std::string line;
  std::getline(file, line);  // the header
  std::string inode;
  while (std::getline(file, line)) {
    std::istringstream fields(line);
    std::string slot, local_address, remote_address, state, queues, timer, retransmits, uid, timeout, node;
    fields >> slot >> local_address >> remote_address >> state >> queues >> timer >> retransmits >> uid >> timeout >>
        node;
    // 01: ESTABLISHED
    if (remote_address == wanted_remote && local_address == wanted_local && state == "01") inode = node;
  }
  if (inode.empty()) return -1;
  for (int fd : open_fds(pid)) {
    if (link_of(pid, fd) == "socket:[" + inode + "]") return fd;
  }
  return -1;
}

// What the connection of client is registered for, masked to IN, OUT and ET; nullopt when it is not watched.
std::optional<std::uint32_t> registered_events(pid_t pid, const Client& client) {
  const int fd = server_fd_of(pid, client);
  for (int epoll_fd : epoll_instances(pid)) {
    const auto watched = interest_list(pid, epoll_fd);
    if (auto found = watched.find(fd); found != watched.end()) return found->second & kWatched;
  }
  return std::nullopt;
}

long thread_count(pid_t pid) {
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  return std::distance(std::filesystem::directory_iterator(tasks), std::filesystem::directory_iterator{});
}

std::string describe_events(std::optional<std::uint32_t> events) {
  if (!events) return "not watched";
  std::string text;
  if (*events & EPOLLIN) text += "EPOLLIN ";
  if (*events & EPOLLOUT) text += "EPOLLOUT ";
  if (*events & EPOLLET) text += "EPOLLET ";
  return text.empty() ? "nothing" : text;
}

class EpollServer : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!server_) return;
    if (server_->running()) {
      server_->signal(SIGTERM);
      std::optional<int> status = server_->wait_exit(1s);
      EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << (status ? describe_wait_status(*status) : "still running a second after SIGTERM")
          << "; stderr: " << server_->stderr_text();
    } else {
      ADD_FAILURE() << "the server died: " << describe_wait_status(*server_->exit_status())
                    << "; stderr: " << server_->stderr_text();
    }
    server_.reset();
  }

  void start(const std::vector<std::string>& args) { server_ = start_or_skip("epoll", args); }

  Client connect() { return Client::connect(server_->host(), server_->port()); }
  pid_t pid() const { return server_->pid(); }

  std::unique_ptr<ServerProcess> server_;
};

// Level-triggered (no flag) and edge-triggered (--edge).
class EpollInterest : public EpollServer, public ::testing::WithParamInterface<bool> {
 protected:
  bool edge() const { return GetParam(); }
  std::vector<std::string> args() const {
    return edge() ? std::vector<std::string>{"--edge"} : std::vector<std::string>{};
  }
  std::uint32_t trigger() const { return edge() ? EPOLLET : 0u; }
};

TEST_P(EpollInterest, AnIdleConnectionIsWatchedForReadableOnly) {
  start(args());
  if (!server_) return;
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  ASSERT_EQ(echo_problem(client, "hello"), "");
  // The echo was sent before it arrived here, so the server has already updated the registration.
  EXPECT_EQ(describe_events(registered_events(pid(), client)), describe_events(EPOLLIN | trigger()));
}

TEST_P(EpollInterest, PendingOutputAddsWritableAndBackpressureDropsReadableUntilItDrains) {
  start(args());
  if (!server_) return;
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  // Write without reading until the server stops taking bytes: its socket buffers and then its 1 MiB of pending
  // output are full, so it waits for writable and no longer for readable.
  const std::string payload = pattern_bytes(64 << 20, 3);
  const long long written = write_until_stalled(client, payload, 300ms);
  ASSERT_GE(written, 0) << client.error();
  const auto sent = static_cast<std::size_t>(written);
  ASSERT_LT(sent, payload.size()) << "the server took every byte without the peer reading";
  EXPECT_EQ(describe_events(registered_events(pid(), client)), describe_events(EPOLLOUT | trigger()));

  ReadResult echo = echo_exchange(client, payload, 60s, sent);
  ASSERT_EQ(echo.end, ReadEnd::kComplete) << echo.describe();
  EXPECT_TRUE(echo.data == payload) << first_difference(payload, echo.data);
  EXPECT_EQ(describe_events(registered_events(pid(), client)), describe_events(EPOLLIN | trigger()));
}

TEST_P(EpollInterest, ThousandsOfIdleConnectionsHoldNoBuffers) {
  constexpr int kIdle = 2000;
  // A session with a buffer left allocated would cost at least 16 KiB; the table slot and session cost ~100 bytes.
  constexpr std::size_t kMaxBytesPerConnection = 1024;
  if (!ensure_own_fd_limit(kIdle + 100)) GTEST_SKIP() << "RLIMIT_NOFILE hard limit below " << kIdle + 100;
  start(args());
  if (!server_) return;
  std::vector<Client> clients;
  clients.push_back(connect());
  ASSERT_EQ(echo_problem(clients[0], "warm up"), "");
  const std::size_t before = process_group_rss(pid());
  for (int i = 1; i < kIdle; ++i) {
    clients.push_back(connect());
    ASSERT_TRUE(clients.back().connected()) << "client " << i << ": " << clients.back().error();
    // Every connection moves bytes once, in both modes, then goes idle.
    ASSERT_EQ(echo_problem(clients.back(), "x"), "") << "client " << i;
  }
  const std::size_t after = process_group_rss(pid());
  EXPECT_LT(after - std::min(after, before), kIdle * kMaxBytesPerConnection)
      << "RSS grew from " << before / 1024 << " KiB to " << after / 1024 << " KiB for " << kIdle << " idle connections";
}

INSTANTIATE_TEST_SUITE_P(Epoll, EpollInterest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "edge" : "level";
                         });

TEST_F(EpollServer, EdgeTriggeredAConnectionThatAlwaysHasMoreToReadDoesNotStarveAnother) {
  start({"--edge"});
  if (!server_) return;
  Client busy = connect();
  Client quiet = connect();
  ASSERT_TRUE(busy.connected() && quiet.connected());
  ASSERT_EQ(echo_problem(quiet, "ready"), "");
  // The busy client streams and reads its echo for as long as the quiet one measures round trips.
  std::atomic<bool> measuring{true};
  std::atomic<bool> busy_ok{true};
  std::thread streamer([&] {
    const std::string block = pattern_bytes(8 << 20, 5);
    while (measuring.load()) {
      ReadResult echo = echo_exchange(busy, block, 20s);
      if (echo.end != ReadEnd::kComplete || echo.data != block) {
        busy_ok = false;
        return;
      }
    }
  });
  Millis worst{0};
  std::string problem;
  for (int i = 0; i < 20 && problem.empty(); ++i) {
    const auto began = Clock::now();
    problem = echo_problem(quiet, "round trip " + std::to_string(i), 5s);
    worst = std::max(worst, std::chrono::duration_cast<Millis>(Clock::now() - began));
    ::poll(nullptr, 0, 20);
  }
  measuring = false;
  streamer.join();
  EXPECT_EQ(problem, "");
  EXPECT_TRUE(busy_ok.load()) << "the busy connection's echo failed";
  // A fair loop answers within a few rounds; a starving one only once the busy client pauses.
  EXPECT_LT(worst.count(), 1000) << "the slowest round trip beside a busy connection took " << worst.count() << " ms";
}

TEST_F(EpollServer, ThreadsRunOneLoopEachAndTheKernelSpreadsConnectionsOverThem) {
  constexpr int kLoops = 3;
  constexpr int kClients = 30;
  start({"--threads", std::to_string(kLoops)});
  if (!server_) return;
  std::vector<Client> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(connect());
    ASSERT_TRUE(clients.back().connected()) << clients.back().error();
    ASSERT_EQ(echo_problem(clients.back(), "client " + std::to_string(i)), "");
  }
  const std::vector<int> instances = epoll_instances(pid());
  ASSERT_EQ(instances.size(), static_cast<std::size_t>(kLoops)) << "one epoll instance per loop";
  EXPECT_EQ(thread_count(pid()), kLoops) << "one thread per loop";
  // SO_REUSEPORT hashes each new connection to one of the listeners; 30 connections leave none of 3 loops without
  // one except with a probability of about 1e-5. Each instance also watches its listener and its signalfd.
  for (int instance : instances) {
    EXPECT_GT(interest_list(pid(), instance).size(), 2u) << "an event loop got no connection";
  }
}

// The worker processes of --processes, as the supervising parent's children in its process group.
std::vector<pid_t> workers_of(pid_t parent) {
  std::vector<pid_t> workers;
  for (const GroupMember& member : process_group_members(parent)) {
    if (member.pid != parent && member.state != 'Z') workers.push_back(member.pid);
  }
  return workers;
}

TEST_F(EpollServer, ProcessesRunOneWorkerEachWithItsOwnDescriptorsAndTheParentRestartsOneThatDies) {
  constexpr int kWorkers = 2;
  constexpr int kClients = 30;
  ASSERT_NO_FATAL_FAILURE(start({"--processes", std::to_string(kWorkers)}));
  if (IsSkipped()) return;
  std::vector<Client> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(connect());
    ASSERT_TRUE(clients.back().connected()) << clients.back().error();
    ASSERT_EQ(echo_problem(clients.back(), "client " + std::to_string(i)), "");
  }
  const std::vector<pid_t> workers = workers_of(pid());
  ASSERT_EQ(workers.size(), static_cast<std::size_t>(kWorkers));
  EXPECT_TRUE(epoll_instances(pid()).empty()) << "the parent only supervises";
  // Each worker has its own epoll instance and listener, and SO_REUSEPORT gives each some of the 30 connections
  // (all to one of two: probability 2^-29).
  for (pid_t worker : workers) {
    const std::vector<int> instances = epoll_instances(worker);
    ASSERT_EQ(instances.size(), 1u) << "worker " << worker;
    EXPECT_GT(interest_list(worker, instances.front()).size(), 2u) << "worker " << worker << " got no connection";
  }

  // A worker that dies takes only its own connections; the parent starts another on the same listener.
  ASSERT_EQ(::kill(workers.front(), SIGKILL), 0);
  EXPECT_TRUE(eventually(
      [&] {
        const std::vector<pid_t> now = workers_of(pid());
        return now.size() == kWorkers && std::find(now.begin(), now.end(), workers.front()) == now.end();
      },
      2s))
      << "the parent did not start a new worker";
  for (int i = 0; i < 10; ++i) {
    Client late = connect();
    ASSERT_TRUE(late.connected()) << late.error();
    EXPECT_EQ(echo_problem(late, "after the restart " + std::to_string(i)), "");
  }
  EXPECT_NE(server_->stderr_text().find("starting it again"), std::string::npos) << server_->stderr_text();
}

}  // namespace
}  // namespace iomodels::test
