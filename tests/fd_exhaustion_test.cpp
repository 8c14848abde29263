// Accept under descriptor exhaustion (docs/PROTOCOL.md, "Faults and limits"), for every server of the list: the server
// runs with RLIMIT_NOFILE 64 and 100 clients connect. The limit is set by prlimit(1), which sets it on itself and
// then execs the server (same pid, same process group), so every process the server forks inherits it too.
//
// What each model is documented to do with 100 clients and 64 descriptors, and what the test asserts:
//   - Event loops and thread-per-connection (nonblocking, select, poll, epoll in its three shapes, sigio, aio,
//     io_uring, libevent, libuv, coroutine, blocking-threads): they accept until accept(2) fails with EMFILE, go
//     on serving the connections they have, and stop trying to accept until a descriptor frees up or a short
//     pause ends. The surplus clients wait in the backlog (libuv's EMFILE trick may instead accept and close
//     them at once). Asserted: an early client is echoed; the server uses under half a core over ~1 s while the
//     surplus waits — except `nonblocking`, which spins by design and is only checked to keep serving; once most
//     clients have left (4 stay), a new client is echoed within kIoTimeout, and the ones that stayed still are.
//   - blocking (iterative): it never holds more than one connection, so it never runs out of descriptors; the
//     other 99 wait in the backlog behind client 0, which it serves. The new client can only be served once every
//     client ahead of it has left, so all 100 leave before it connects.
//   - blocking-pool and blocking-prefork: N workers (default 5) serve N clients at a time; the rest wait (in the
//     pool's queue or the backlog). The pool's acceptor may hit EMFILE; each prefork process holds one client.
//     N - 1 of the first clients stay, so one worker is left for the new client.
//   - blocking-fork: each child holds only its own connection and the parent closes its copy, so no process ever
//     runs out: all 100 clients are served at once. Asserted in addition: the last client is echoed too.
// The CPU time is summed over the server's process group (utime + stime of /proc/PID/stat), so forked children
// count as well as threads.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "harness/server_process.hpp"
#include "tests/fd_limit_support.hpp"
#include "tests/sanitizer_support.hpp"
#include "tests/server_fixture.hpp"
#include "tests/servers.hpp"
#include "tests/test_support.hpp"

namespace iomodels::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kDescriptorLimit = 64;
constexpr int kClients = 100;
// How long the server's CPU time is watched while the surplus clients wait.
constexpr Millis kCpuWindow{1000};
constexpr Millis kStopTimeout{3000};

// CPU time of every process of the group, in milliseconds.
long group_cpu_millis(pid_t group) {
  long total = 0;
  for (const GroupMember& member : process_group_members(group)) {
    const long millis = cpu_millis(member.pid);
    if (millis > 0) total += millis;
  }
  return total;
}

// How many of the first clients stay connected while the others leave, so that the model has room for a new one.
int clients_that_stay(const ServerSpec& spec) {
  if (is_iterative(spec)) return 0;                  // the one it serves would hold it forever
  if (spec.limit_is_threads) return spec.limit - 1;  // every worker but one keeps its client
  return 4;
}

class DescriptorExhaustion : public ::testing::TestWithParam<ServerSpec> {
 protected:
  void SetUp() override {
    if (::access(binary_path(spec()).c_str(), X_OK) != 0) GTEST_SKIP() << binary_path(spec()) << " not built";
    if (const std::string reason = sanitizer_skip_reason(spec()); !reason.empty()) GTEST_SKIP() << reason;
    if (!run_command({"prlimit", "--version"}, kIoTimeout).started)
      GTEST_SKIP() << "prlimit(1) (util-linux) is not installed";
    ASSERT_TRUE(ensure_own_fd_limit(4 * kClients)) << "this test needs " << 4 * kClients << " descriptors";
  }

  void TearDown() override {
    if (!server_) return;
    if (!server_->running()) {
      ADD_FAILURE() << "the server died: " << describe_wait_status(*server_->exit_status())
                    << "; stderr: " << server_->stderr_text();
    } else {
      server_->signal(SIGTERM);
      std::optional<int> status = server_->wait_exit(kStopTimeout);
      EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << "after SIGTERM: " << (status ? describe_wait_status(*status) : "still running")
          << "; stderr: " << server_->stderr_text();
    }
    server_.reset();  // kills and reaps whatever is left of the group
  }

  const ServerSpec& spec() const { return GetParam(); }

  void start() {
    std::vector<std::string> args = {"--nofile=" + std::to_string(kDescriptorLimit), "--", binary_path(spec())};
    for (const std::string& arg : spec_args(spec())) args.push_back(arg);
    args.insert(args.end(), {"--host", "127.0.0.1", "--port", "0"});
    try {
      // posix_spawnp looks prlimit up in PATH.
      server_ = std::make_unique<ServerProcess>("prlimit", args);
    } catch (const std::system_error& error) {
      FAIL() << error.what();
    }
    ASSERT_TRUE(server_->wait_for_banner(kIoTimeout)) << server_->error();
  }

  Client connect() { return Client::connect(server_->host(), server_->port()); }

  std::unique_ptr<ServerProcess> server_;
};

TEST_P(DescriptorExhaustion, KeepsServingStaysIdleAndAcceptsAgainWhenDescriptorsFreeUp) {
  ASSERT_NO_FATAL_FAILURE(start());
  std::vector<Client> clients;
  // The first client is served before the others connect, so that it is one the server has: with several
  // listeners (--threads 2) the kernel may queue an early client on a loop that runs out of descriptors first.
  clients.push_back(connect());
  ASSERT_EQ(echo_problem(clients[0], "first client"), "") << "stderr: " << server_->stderr_text();
  for (int i = 1; i < kClients; ++i) {
    clients.push_back(connect());
    ASSERT_TRUE(clients.back().connected()) << "client " << i << ": " << clients.back().error();
  }

  // It keeps serving the connections it has.
  ASSERT_EQ(echo_problem(clients[0], "early client"), "") << "stderr: " << server_->stderr_text();
  if (spec().forks && spec().limit == 0 && spec().worker_processes == 0) {
    EXPECT_EQ(echo_problem(clients[kClients - 1], "every child has its own descriptors"), "");
  }

  // It waits rather than spins while the surplus clients wait. read_for is the timer: nothing arrives.
  const pid_t group = server_->pid();
  const long cpu_before = group_cpu_millis(group);
  const auto began = Clock::now();
  EXPECT_EQ(clients[0].read_for(kCpuWindow).data, "");
  const long cpu_used = group_cpu_millis(group) - cpu_before;
  const auto elapsed = std::chrono::duration_cast<Millis>(Clock::now() - began);
  // nonblocking spins by design; io_uring --sqpoll's kernel thread (one of the server's) polls the submission
  // ring for a second after each submission, and the paused accept's timer submits every 100 ms.
  const bool polls_by_design =
      spec().name == "nonblocking" ||
      std::find(spec().args.begin(), spec().args.end(), "--sqpoll") != spec().args.end();
  if (!polls_by_design) {
    EXPECT_LT(cpu_used, elapsed.count() / 2)
        << spec().label << " used " << cpu_used << " ms of CPU in " << elapsed.count()
        << " ms while out of descriptors; stderr: " << server_->stderr_text();
  }
  ASSERT_EQ(echo_problem(clients[0], "still served"), "") << "stderr: " << server_->stderr_text();

  // Once the load drops it accepts again.
  const int stay = clients_that_stay(spec());
  for (int i = stay; i < kClients; ++i) clients[i].close();
  Client late = connect();
  ASSERT_TRUE(late.connected()) << late.error();
  EXPECT_EQ(echo_problem(late, "a new client after the load dropped"), "") << "stderr: " << server_->stderr_text();
  for (int i = 0; i < stay; ++i) {
    EXPECT_EQ(echo_problem(clients[i], "stayed " + std::to_string(i)), "") << "client " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Servers, DescriptorExhaustion, ::testing::ValuesIn(all_servers()), server_label);

// The same recovery seen up close, with room for three connections only (check_recovers_from_emfile): the first
// three are served, two more wait in the backlog, and each is served as soon as one of the first three leaves. The
// busy loop may burn CPU meanwhile (it always does); the others must sleep.
struct EmfileCase {
  const char* model;
  bool may_spin;
};

class EmfileRecovery : public ::testing::TestWithParam<EmfileCase> {};

TEST_P(EmfileRecovery, KeepsServingAndAcceptsAgainWhenDescriptorsFreeUp) {
  check_recovers_from_emfile(GetParam().model, GetParam().may_spin);
}

INSTANTIATE_TEST_SUITE_P(Servers, EmfileRecovery,
                         ::testing::Values(EmfileCase{"nonblocking", true}, EmfileCase{"select", false},
                                           EmfileCase{"poll", false}, EmfileCase{"blocking-threads", false},
                                           EmfileCase{"blocking-pool", false}),
                         [](const ::testing::TestParamInfo<EmfileCase>& param) {
                           std::string label = param.param.model;
                           for (char& c : label) c = c == '-' ? '_' : c;
                           return label;
                         });

}  // namespace
}  // namespace iomodels::test
