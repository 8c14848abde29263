// The io_uring server's own behaviour (async/README.md), beyond the conformance suite:
//   - where io_uring is not allowed (a seccomp profile, kernel.io_uring_disabled) it exits 1 with the line
//     "io_uring unavailable: io_uring_queue_init: Operation not permitted" and never prints the banner, while
//     --help and a busy port behave as everywhere; the test denies io_uring_setup(2) with a seccomp filter in the
//     child before exec;
//   - it says on stderr which path it takes: multishot accept and recv with a provided-buffer ring where the kernel
//     has them (6.0 and later), single-shot otherwise or with --single-shot, and both paths echo every byte;
//   - more data waiting than the provided buffers hold (the server is stopped with SIGSTOP while clients write):
//     the ring runs dry, each multishot recv that ends with ENOBUFS is re-armed, no byte is lost, and the server
//     reports at exit how often it happened;
//   - zero-copy sends (--send-zc) never let the kernel send from a slice the loop has refilled: many clients echo
//     large payloads whose every block differs, verified byte by byte, while the sends queue up behind each other;
//   - every feature flag says on stderr what it took, and bad combinations fall back rather than fail.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/fd_limit_support.hpp"
#include "tests/server_fixture.hpp"

namespace iomodels::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kUnavailable[] = "io_uring unavailable: io_uring_queue_init: Operation not permitted";
constexpr char kDefaultPath[] =
    "multishot accept, multishot recv into a provided-buffer ring (1024 x 4 KiB), recv bundles, limited to the "
    "session's room, direct descriptors, registered ring fd; ring: DEFER_TASKRUN";
// A kernel before 6.17 refuses the recv limit at the first recv; the server says so then and goes on without it.
constexpr char kNoRecvLimit[] = "a limited multishot recv needs Linux 6.17";
constexpr char kPlainPath[] = "single-shot accept, single-shot recv into each connection's buffer; ring: default setup";
constexpr char kMultishotPath[] = "multishot accept, multishot recv into a provided-buffer ring";
constexpr char kSingleShotPath[] = "single-shot accept, single-shot recv";
// Far more waiting data than the server's provided buffers (1,024 of 4 KiB) hold.
constexpr int kBusyClients = 128;
constexpr std::size_t kBytesPerClient = 256 * 1024;

bool kernel_at_least(int major, int minor) {
  utsname name{};
  if (::uname(&name) != 0) return false;
  int have_major = 0;
  int have_minor = 0;
  if (std::sscanf(name.release, "%d.%d", &have_major, &have_minor) != 2) return false;
  return have_major > major || (have_major == major && have_minor >= minor);
}

struct Outcome {
  int wait_status = -1;
  std::string out;
  std::string err;
};

// Runs path with args in a child whose seccomp filter fails io_uring_setup(2) with EPERM, as container runtimes'
// default profiles do; collects stdout and stderr until both close, for at most timeout.
Outcome run_without_io_uring(const std::string& path, const std::vector<std::string>& args, Millis timeout) {
  Outcome outcome;
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) return outcome;
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  const sock_fprog program{.len = sizeof filter / sizeof filter[0], .filter = filter};
  const pid_t pid = ::fork();
  if (pid == 0) {  // only async-signal-safe calls until exec
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
      ::_exit(125);
    }
    ::execv(path.c_str(), argv.data());
    ::_exit(126);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&outcome.out, &outcome.err};
  const auto deadline = Clock::now() + timeout;
  int open = 2;
  while (open > 0 && Clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
    if (::poll(fds, 2, static_cast<int>(left)) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  if (open > 0) ::kill(pid, SIGKILL);
  for (const pollfd& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }
  ::waitpid(pid, &outcome.wait_status, 0);
  return outcome;
}

TEST(IoUringUnavailable, ExitsOneWithAClearMessageAndNoBanner) {
  const std::string path = model_binary("io_uring");
  if (::access(path.c_str(), X_OK) != 0) GTEST_SKIP() << path << " is not built";
  const Outcome outcome = run_without_io_uring(path, {"--port", "0"}, kIoTimeout);
  ASSERT_TRUE(WIFEXITED(outcome.wait_status)) << describe_wait_status(outcome.wait_status);
  if (WEXITSTATUS(outcome.wait_status) == 125) GTEST_SKIP() << "seccomp filters are not allowed here";
  EXPECT_EQ(WEXITSTATUS(outcome.wait_status), 1) << outcome.err;
  EXPECT_EQ(outcome.err, std::string(kUnavailable) + "\n");
  EXPECT_EQ(outcome.out, "") << "no banner: the server never listened";
}

TEST(IoUringUnavailable, ABusyPortIsStillReportedAsSuch) {
  const std::string path = model_binary("io_uring");
  if (::access(path.c_str(), X_OK) != 0) GTEST_SKIP() << path << " is not built";
  const BusyPort busy = occupy_port();
  const Outcome outcome = run_without_io_uring(path, {"--port", std::to_string(busy.port)}, kIoTimeout);
  ASSERT_TRUE(WIFEXITED(outcome.wait_status)) << describe_wait_status(outcome.wait_status);
  if (WEXITSTATUS(outcome.wait_status) == 125) GTEST_SKIP() << "seccomp filters are not allowed here";
  EXPECT_EQ(WEXITSTATUS(outcome.wait_status), 1) << outcome.err;
  EXPECT_EQ(outcome.err, "bind 127.0.0.1:" + std::to_string(busy.port) + ": Address already in use\n");
}

TEST(IoUringUnavailable, HelpStillWorks) {
  const std::string path = model_binary("io_uring");
  if (::access(path.c_str(), X_OK) != 0) GTEST_SKIP() << path << " is not built";
  const Outcome outcome = run_without_io_uring(path, {"--help"}, kIoTimeout);
  ASSERT_TRUE(WIFEXITED(outcome.wait_status)) << describe_wait_status(outcome.wait_status);
  if (WEXITSTATUS(outcome.wait_status) == 125) GTEST_SKIP() << "seccomp filters are not allowed here";
  EXPECT_EQ(WEXITSTATUS(outcome.wait_status), 0) << outcome.err;
  EXPECT_NE(outcome.out.find("--single-shot"), std::string::npos) << outcome.out;
}

TEST(IoUringPaths, UsesMultishotAndAProvidedBufferRingWhereTheKernelHasThem) {
  if (!kernel_at_least(6, 0)) GTEST_SKIP() << "multishot recv needs Linux 6.0";
  auto server = start_or_skip("io_uring");
  if (!server) return;
  EXPECT_NE(server->stderr_text().find(kMultishotPath), std::string::npos) << server->stderr_text();
  Client client = Client::connect(server->host(), server->port());
  const std::string payload = pattern_bytes(1 << 20, 7);
  const ReadResult echoed = echo_exchange(client, payload);
  EXPECT_EQ(echoed.data.size(), payload.size()) << echoed.describe();
  EXPECT_TRUE(echoed.data == payload) << first_difference(payload, echoed.data);
  expect_clean_stop(*server);
}

TEST(IoUringPaths, SingleShotFlagTakesTheFallbackPathAndEchoesEveryByte) {
  auto server = start_or_skip("io_uring", {"--single-shot"});
  if (!server) return;
  EXPECT_NE(server->stderr_text().find(kSingleShotPath), std::string::npos) << server->stderr_text();
  Client client = Client::connect(server->host(), server->port());
  const std::string payload = pattern_bytes(4 << 20, 8);
  const ReadResult echoed = echo_exchange(client, payload);
  EXPECT_EQ(echoed.data.size(), payload.size()) << echoed.describe();
  EXPECT_TRUE(echoed.data == payload) << first_difference(payload, echoed.data);
  expect_clean_stop(*server);
}

TEST(IoUringBufferRing, RunningDryReArmsTheRecvAndLosesNoByte) {
  if (!kernel_at_least(6, 0)) GTEST_SKIP() << "multishot recv needs Linux 6.0";
  ASSERT_TRUE(ensure_own_fd_limit(kBusyClients + 64));
  auto server = start_or_skip("io_uring");
  if (!server) return;
  std::vector<Client> clients;
  std::vector<std::string> payloads;
  for (int i = 0; i < kBusyClients; ++i) {
    clients.push_back(Client::connect(server->host(), server->port()));
    ASSERT_TRUE(clients.back().connected()) << clients.back().error();
    payloads.push_back(pattern_bytes(kBytesPerClient, static_cast<unsigned>(i)));
  }
  // Everyone writes while the server is stopped, so that it wakes up to far more data than it has buffers for.
  ASSERT_TRUE(server->signal(SIGSTOP));
  for (int i = 0; i < kBusyClients; ++i) {
    const bool written = clients[i].write_all(payloads[i]);
    if (!written) server->signal(SIGCONT);
    ASSERT_TRUE(written) << "client " << i << ": " << clients[i].error();
  }
  ASSERT_TRUE(server->signal(SIGCONT));
  for (int i = 0; i < kBusyClients; ++i) {
    const ReadResult echoed = clients[i].read_exactly(kBytesPerClient);
    ASSERT_EQ(echoed.data.size(), kBytesPerClient) << "client " << i << ": " << echoed.describe();
    ASSERT_TRUE(echoed.data == payloads[i]) << "client " << i << ": " << first_difference(payloads[i], echoed.data);
  }
  expect_clean_stop(*server);
  EXPECT_NE(server->stderr_text().find("the provided-buffer ring ran dry"), std::string::npos)
      << "the test meant to exhaust the buffer ring did not; stderr: " << server->stderr_text();
}

TEST(IoUringPaths, DefaultTakesEveryFeatureThisKernelHasAndPlainTakesNone) {
  if (!kernel_at_least(6, 10)) GTEST_SKIP() << "the default's features need Linux 6.10";
  for (const auto& [args, path] : {std::pair{std::vector<std::string>{}, kDefaultPath},
                                   std::pair{std::vector<std::string>{"--plain"}, kPlainPath}}) {
    auto server = start_or_skip("io_uring", args);
    if (!server) return;
    EXPECT_NE(server->stderr_text().find(std::string(path) + "\n"), std::string::npos) << server->stderr_text();
    Client client = Client::connect(server->host(), server->port());
    EXPECT_TRUE(echo_exchange(client, "hello\n").data == "hello\n");
    expect_clean_stop(*server);
    EXPECT_NE(server->stderr_text().find(" completions in "), std::string::npos) << server->stderr_text();
    const bool fell_back = server->stderr_text().find(kNoRecvLimit) != std::string::npos;
    EXPECT_EQ(fell_back, args.empty() && !kernel_at_least(6, 17)) << server->stderr_text();
  }
}

TEST(IoUringPaths, RecvBundlesNeedTheBufferRingAndSaySo) {
  auto server = start_or_skip("io_uring", {"--recv-bundle", "--no-buffer-ring"});
  if (!server) return;
  EXPECT_NE(server->stderr_text().find("recv bundles need the provided-buffer ring"), std::string::npos)
      << server->stderr_text();
  Client client = Client::connect(server->host(), server->port());
  const std::string payload = pattern_bytes(256 * 1024, 3);
  EXPECT_TRUE(echo_exchange(client, payload).data == payload);
  expect_clean_stop(*server);
}

// Large payloads whose every block differs, from many clients at once: a slice refilled while a zero-copy send
// still reads it would put the new bytes where the old ones belong, and the byte-by-byte comparison sees it.
void echo_large_changing_payloads(const std::vector<std::string>& args) {
  constexpr int kClients = 16;
  constexpr std::size_t kBytes = 8 << 20;
  ASSERT_TRUE(ensure_own_fd_limit(kClients + 64));
  auto server = start_or_skip("io_uring", args);
  if (!server) return;
  std::vector<std::string> problems(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      Client client = Client::connect(server->host(), server->port());
      if (!client.connected()) {
        problems[i] = client.error();
        return;
      }
      const std::string payload = pattern_bytes(kBytes, 100 + static_cast<unsigned>(i));
      const ReadResult echoed = echo_exchange(client, payload, std::chrono::seconds(30));
      if (echoed.data != payload) problems[i] = echoed.describe() + ", " + first_difference(payload, echoed.data);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(problems[i], "") << "client " << i;
  expect_clean_stop(*server);
}

TEST(IoUringZeroCopy, LargeChangingPayloadsFromManyClientsComeBackByteForByte) {
  if (!kernel_at_least(6, 0)) GTEST_SKIP() << "SEND_ZC needs Linux 6.0";
  echo_large_changing_payloads({"--send-zc"});
}

TEST(IoUringZeroCopy, LargeChangingPayloadsWithOrdinaryDescriptorsComeBackByteForByte) {
  if (!kernel_at_least(6, 0)) GTEST_SKIP() << "SEND_ZC needs Linux 6.0";
  echo_large_changing_payloads({"--send-zc", "--no-direct", "--recv-bundle"});
}

// A chain of sends must leave in order and whole. The conformance suite runs the io_uring-linked-sends shape, whose
// backpressure test (a peer that reads late, so sends go short) fails without the link or without MSG_WAITALL;
// here, many clients at once, and chained zero-copy sends, whose slice must outlive every notification.
TEST(IoUringLinkedSends, LargeChangingPayloadsFromManyClientsComeBackByteForByte) {
  echo_large_changing_payloads({"--linked-sends"});
}

TEST(IoUringLinkedSends, ChainedZeroCopySendsComeBackByteForByte) {
  if (!kernel_at_least(6, 0)) GTEST_SKIP() << "SEND_ZC needs Linux 6.0";
  echo_large_changing_payloads({"--linked-sends", "--send-zc"});
}

}  // namespace
}  // namespace iomodels::test
