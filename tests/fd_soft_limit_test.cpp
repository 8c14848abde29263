// The soft descriptor limit is not a model's limit (docs/PROTOCOL.md, "Starting"; common/limits.hpp): every server
// raises its soft RLIMIT_NOFILE to the hard one at start. Here each runs under a soft limit of 64 and a hard one of
// 4096 (prlimit(1) sets both and execs the server), and 100 clients connect: every one of them must be echoed while all
// are open, which a server that kept the soft limit cannot do (it would stop accepting at about 60; io_uring did,
// until its start-up became start_server()).
//
// Skipped where holding 100 clients in one process is not the model: the iterative server serves one client at a
// time; blocking-fork and blocking-prefork hold one connection per process. The pool runs with --threads 100 so that
// its one process does hold them all.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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

constexpr int kSoftLimit = 64;
constexpr int kHardLimit = 4096;
constexpr int kClients = 100;  // well over the soft limit, far under the hard one

class SoftDescriptorLimit : public ::testing::TestWithParam<ServerSpec> {
 protected:
  void SetUp() override {
    if (::access(binary_path(spec()).c_str(), X_OK) != 0) GTEST_SKIP() << binary_path(spec()) << " not built";
    if (const std::string reason = sanitizer_skip_reason(spec()); !reason.empty()) GTEST_SKIP() << reason;
    if (spec().python) GTEST_SKIP() << "a Python original (the tutorials' code): not part of this check";
    if (is_iterative(spec())) GTEST_SKIP() << "serves one client at a time by design";
    if (spec().forks && spec().worker_processes == 0) {
      GTEST_SKIP() << "holds one connection per process, so no process nears its limit";
    }
    if (!run_command({"prlimit", "--version"}, kIoTimeout).started)
      GTEST_SKIP() << "prlimit(1) (util-linux) is not installed";
    ASSERT_TRUE(ensure_own_fd_limit(4 * kClients)) << "this test needs " << 4 * kClients << " descriptors";
  }

  void TearDown() override {
    if (!server_) return;
    if (server_->running()) {
      server_->signal(SIGTERM);
      server_->wait_exit(std::chrono::seconds(3));
    }
    server_.reset();  // kills and reaps whatever is left of the group
  }

  const ServerSpec& spec() const { return GetParam(); }

  std::unique_ptr<ServerProcess> server_;
};

TEST_P(SoftDescriptorLimit, HoldsMoreConnectionsThanTheSoftLimit) {
  std::vector<std::string> args = {"--nofile=" + std::to_string(kSoftLimit) + ":" + std::to_string(kHardLimit), "--",
                                   binary_path(spec())};
  for (const std::string& arg : spec_args(spec())) args.push_back(arg);
  if (spec().limit_is_threads) args.insert(args.end(), {"--threads", std::to_string(kClients)});
  args.insert(args.end(), {"--host", "127.0.0.1", "--port", "0"});
  try {
    server_ = std::make_unique<ServerProcess>("prlimit", args);  // posix_spawnp finds prlimit in PATH
  } catch (const std::system_error& error) {
    FAIL() << error.what();
  }
  ASSERT_TRUE(server_->wait_for_banner(kIoTimeout)) << server_->error();

  std::vector<Client> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(Client::connect(server_->host(), server_->port()));
    ASSERT_TRUE(clients.back().connected()) << "client " << i << ": " << clients.back().error();
  }
  // Last first: the late clients are the ones a server stuck at the soft limit never accepts.
  for (int i = kClients - 1; i >= 0; --i) {
    ASSERT_EQ(echo_problem(clients[i], "client " + std::to_string(i)), "")
        << spec().label << ": client " << i << " of " << kClients << " with a soft limit of " << kSoftLimit
        << " (does the server raise its soft RLIMIT_NOFILE?); stderr: " << server_->stderr_text();
  }
  ASSERT_TRUE(server_->running()) << server_->stderr_text();
}

INSTANTIATE_TEST_SUITE_P(Servers, SoftDescriptorLimit, ::testing::ValuesIn(all_servers()), server_label);

}  // namespace
}  // namespace iomodels::test
