// The signal-driven server's own hazards (signal/README.md). Each socket raises one queued real-time signal per
// state change; the queue holds at most RLIMIT_SIGPENDING signals (for the whole user), and when it is full the
// kernel raises a plain SIGIO instead, which the server answers with a full rescan. These tests run the server
// with a queue of 8 (prlimit(1) sets the limit, then execs the server) so that it overflows all the time, and check
// that no connection is forgotten: every byte comes back, descriptors closed and reused meet stale signals
// harmlessly, a connection stopped by backpressure resumes, and the server reports the overflows it recovered.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <system_error>
#include <vector>

#include "harness/server_process.hpp"
#include "tests/fd_limit_support.hpp"
#include "tests/servers.hpp"
#include "tests/test_support.hpp"

namespace iomodels::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Small enough that a few busy connections overflow it (the count is per user, so other processes' queued signals
// only make overflows likelier).
constexpr int kTinyQueue = 8;
constexpr int kBusyClients = 200;
constexpr std::size_t kBytesPerClient = 64 * 1024;
// Written in pieces this small, so that every client raises many signals.
constexpr std::size_t kPiece = 2048;

// The count from the line the server prints at exit, "sigio: N queue overflows recovered"; nullopt without it.
std::optional<long> overflows_reported(const std::string& log) {
  static const std::regex line(R"(sigio: (\d+) queue overflows recovered)");
  std::smatch match;
  if (!std::regex_search(log, match, line)) return std::nullopt;
  return std::stol(match[1]);
}

// Drives every client at once with poll(2): each writes its payload in kPiece pieces while reading its echo, until
// every echo is complete or the deadline passes. Returns the first problem, or "" when every byte came back.
std::string echo_all(std::vector<Client>& clients, const std::vector<std::string>& payloads, Millis timeout) {
  const std::size_t n = clients.size();
  std::vector<std::size_t> sent(n, 0);
  std::vector<std::string> received(n);
  std::vector<pollfd> fds(n);
  const auto deadline = Clock::now() + timeout;
  char buffer[64 * 1024];
  for (std::size_t done = 0; done < n;) {
    for (std::size_t i = 0; i < n; ++i) {
      const bool complete = received[i].size() == payloads[i].size();
      fds[i] = {clients[i].fd(),
                static_cast<short>(complete ? 0 : POLLIN | (sent[i] < payloads[i].size() ? POLLOUT : 0)), 0};
    }
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (left <= 0ms) {
      std::size_t short_ones = 0;
      for (std::size_t i = 0; i < n; ++i) short_ones += received[i].size() < payloads[i].size();
      return std::to_string(short_ones) + " of " + std::to_string(n) + " clients still lack bytes at the deadline";
    }
    if (::poll(fds.data(), n, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      return std::string("poll: ") + std::strerror(errno);
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (fds[i].revents & POLLOUT) {
        const std::size_t piece = std::min(kPiece, payloads[i].size() - sent[i]);
        const ssize_t w = ::send(fds[i].fd, payloads[i].data() + sent[i], piece, MSG_NOSIGNAL);
        if (w > 0)
          sent[i] += static_cast<std::size_t>(w);
        else if (errno != EAGAIN && errno != EINTR)
          return "client " + std::to_string(i) + ": send: " + std::strerror(errno);
      }
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        const ssize_t r = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
        if (r == 0)
          return "client " + std::to_string(i) + ": closed by the server after " + std::to_string(received[i].size()) +
                 " bytes";
        if (r < 0 && errno != EAGAIN && errno != EINTR) {
          return "client " + std::to_string(i) + ": recv: " + std::strerror(errno);
        }
        if (r > 0) {
          received[i].append(buffer, static_cast<std::size_t>(r));
          if (received[i].size() == payloads[i].size()) {
            if (received[i] != payloads[i])
              return "client " + std::to_string(i) + ": " + first_difference(payloads[i], received[i]);
            ++done;
          }
        }
      }
    }
  }
  return "";
}

class SigioQueue : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = bin_dir() + "/sigio";
    if (::access(binary_.c_str(), X_OK) != 0) GTEST_SKIP() << binary_ << " not built";
    if (!run_command({"prlimit", "--version"}, kIoTimeout).started)
      GTEST_SKIP() << "prlimit(1) (util-linux) is not installed";
    ASSERT_TRUE(ensure_own_fd_limit(2 * kBusyClients + 100));
  }

  void TearDown() override {
    if (server_ && server_->running()) stop();
    server_.reset();
  }

  // Starts bin/sigio with a real-time signal queue of kTinyQueue.
  void start() {
    try {
      server_ = std::make_unique<ServerProcess>(
          "prlimit",
          std::vector<std::string>{"--sigpending=" + std::to_string(kTinyQueue), "--", binary_, "--port", "0"});
    } catch (const std::system_error& error) {
      FAIL() << error.what();
    }
    ASSERT_TRUE(server_->wait_for_banner(kIoTimeout)) << server_->error();
  }

  // SIGTERM; the server must exit 0 within a second. Returns its stderr.
  std::string stop() {
    server_->signal(SIGTERM);
    std::optional<int> status = server_->wait_exit(1s);
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << (status ? describe_wait_status(*status) : "still running a second after SIGTERM")
        << "; stderr: " << server_->stderr_text();
    return server_->stderr_text();
  }

  Client connect() { return Client::connect(server_->host(), server_->port()); }

  std::string binary_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(SigioQueue, OverflowIsRecoveredByARescanAndEveryByteOfEveryBusyClientComesBack) {
  ASSERT_NO_FATAL_FAILURE(start());
  std::vector<Client> clients;
  std::vector<std::string> payloads;
  for (int i = 0; i < kBusyClients; ++i) {
    clients.push_back(connect());
    ASSERT_TRUE(clients.back().connected()) << "client " << i << ": " << clients.back().error();
    payloads.push_back(pattern_bytes(kBytesPerClient, static_cast<unsigned>(i + 1)));
  }
  EXPECT_EQ(echo_all(clients, payloads, 30s), "") << "stderr: " << server_->stderr_text();

  const std::string log = stop();
  const std::optional<long> overflows = overflows_reported(log);
  ASSERT_TRUE(overflows.has_value()) << "no 'sigio: N queue overflows recovered' line at exit; stderr: " << log;
  EXPECT_GT(*overflows, 0) << "a queue of " << kTinyQueue << " never overflowed; stderr: " << log;
}

TEST_F(SigioQueue, StaleSignalsForClosedAndReusedDescriptorsAreHarmless) {
  ASSERT_NO_FATAL_FAILURE(start());
  // Waves of clients that echo and leave: each wave reuses the descriptor numbers of the last while signals
  // queued for the old sockets may still wait in the queue.
  for (int wave = 0; wave < 10; ++wave) {
    std::vector<Client> clients;
    std::vector<std::string> payloads;
    for (int i = 0; i < 30; ++i) {
      clients.push_back(connect());
      ASSERT_TRUE(clients.back().connected()) << "wave " << wave << " client " << i << ": " << clients.back().error();
      payloads.push_back(pattern_bytes(8 * 1024, static_cast<unsigned>(wave * 100 + i + 1)));
    }
    ASSERT_EQ(echo_all(clients, payloads, 10s), "") << "wave " << wave << "; stderr: " << server_->stderr_text();
  }
  EXPECT_TRUE(overflows_reported(stop()).has_value());
}

TEST_F(SigioQueue, AConnectionStoppedByBackpressureResumesWhenItsOutputDrains) {
  ASSERT_NO_FATAL_FAILURE(start());
  // Bytes that wait in the socket while the server does not read raise no new signal: the server must go back to
  // them by itself once the peer reads and the pending output drains.
  Client client = connect();
  ASSERT_TRUE(client.connected()) << client.error();
  const std::string payload = pattern_bytes(32 << 20, 7);
  const long long written = write_until_stalled(client, payload, 300ms);
  ASSERT_GE(written, 0) << client.error();
  const auto sent = static_cast<std::size_t>(written);
  ASSERT_LT(sent, payload.size()) << "the server took all the bytes without the peer reading any";
  ReadResult echo = echo_exchange(client, payload, 30s, sent);
  ASSERT_EQ(echo.end, ReadEnd::kComplete) << echo.describe() << " (stalled after " << sent << " bytes)";
  EXPECT_TRUE(echo.data == payload) << first_difference(payload, echo.data);
}

}  // namespace
}  // namespace iomodels::test
