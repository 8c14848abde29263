// Slowloris: 1,000 connections that trickle an HTTP header a byte at a time and never finish it, while 10
// well-behaved clients (bin/loadgen, every byte verified) keep being served.
//
// Event-driven servers must serve the 10 with zero errors and keep every slow peer connected (the protocol has no
// header timeout, and a server never closes first). The p99 comparison against a run without slow peers is a
// benchmark (bench/slowloris.sh), not a test: on a shared two-core machine one latency run is noise. The thread and
// process models are not asserted on here: a pool of N is starved by N slow peers by design (its documented limit),
// and the bench script measures what each of them does.
#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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

constexpr int kSlowPeers = 1000;
constexpr Millis kTrickleEvery{250};  // each slow peer sends its next byte this often
constexpr auto kMeasured = "2s";

// The models that wait for readiness or completion in one loop (or a few): a slow peer costs them a descriptor and a
// little memory, never a thread. aio is not among them: each outstanding read holds one of glibc's helper threads.
bool event_driven(const ServerSpec& spec) {
  static const std::vector<std::string> kNames = {"nonblocking", "select",   "poll",   "epoll",    "sigio",
                                                  "io_uring",    "libevent", "libuv", "coroutine"};
  return std::find(kNames.begin(), kNames.end(), spec.name) != kNames.end();
}

long long json_number(const std::string& json, const std::string& key, std::size_t from = 0) {
  const auto at = json.find("\"" + key + "\": ", from);
  if (at == std::string::npos) return -1;
  return std::atoll(json.c_str() + at + key.size() + 4);
}

class SlowPeers : public ServerTest {};

TEST_P(SlowPeers, ThousandSlowlorisPeersDoNotStallWellBehavedClients) {
  ASSERT_TRUE(ensure_own_fd_limit(kSlowPeers + 200));
  ASSERT_NO_FATAL_FAILURE(start());

  std::vector<Client> slow;
  slow.reserve(kSlowPeers);
  for (int i = 0; i < kSlowPeers; ++i) {
    Client client = connect();
    ASSERT_TRUE(client.connected()) << "slow peer " << i << ": " << client.error();
    ASSERT_TRUE(client.write_all("GET /slow HTTP/1.1\r\nHost: x\r\nX-Slow: "));
    slow.push_back(std::move(client));
  }

  // The trickle: one more header byte per peer every kTrickleEvery, never the end of the header section.
  std::atomic<bool> stop{false};
  std::atomic<int> trickle_errors{0};
  std::thread trickle([&] {
    while (!stop.load()) {
      for (Client& client : slow) {
        if (client.write_some("a") < 0) trickle_errors.fetch_add(1);
      }
      ::poll(nullptr, 0, static_cast<int>(kTrickleEvery.count()));
    }
  });

  const std::string address = server().host() + ":" + std::to_string(server().port());
  const CommandResult run = run_command({bin_dir() + "/loadgen", "-c", "10", "-t", "1", "-d", kMeasured, "--warmup",
                                         "500ms", "--timeout", "2s", "--json", "-", "-q", address},
                                        Millis(30000));
  stop.store(true);
  trickle.join();

  ASSERT_TRUE(run.started) << run.error;
  ASSERT_FALSE(run.timed_out) << "loadgen did not finish";
  const std::string& json = run.out;
  const auto errors_at = json.find("\"errors\"");
  ASSERT_NE(errors_at, std::string::npos) << "no JSON from loadgen: " << run.err;
  EXPECT_EQ(json_number(json, "total", errors_at), 0) << "loadgen: " << run.err << json.substr(errors_at, 200);
  // Ten clients over two seconds: a server that stalled on the slow peers would manage a handful of messages;
  // a few hundred is far below any healthy run here (tens of thousands), so the bound survives a loaded machine.
  const long long messages = json_number(json, "messages");
  EXPECT_GE(messages, 300) << "the well-behaved clients were starved";
  EXPECT_EQ(json_number(json, "connections_never_answered"), 0);
  EXPECT_EQ(trickle_errors.load(), 0) << "writes to slow peers failed: the server closed some";

  // Every slow peer is still connected, unanswered: nothing arrived, no FIN, no reset.
  int closed = 0;
  int answered = 0;
  for (Client& client : slow) {
    pollfd p{.fd = client.fd(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 0) == 1) {
      const ReadResult read = client.read_for(Millis(0));
      if (closed_by_peer(read.end)) {
        ++closed;
      } else if (!read.data.empty()) {
        ++answered;
      }
    }
  }
  EXPECT_EQ(closed, 0) << "slow peers the server closed";
  EXPECT_EQ(answered, 0) << "slow peers that got a response to an unfinished request";
  std::printf("[ slowloris] %s: %d slow peers, 10 clients: %lld messages, p99 %.0f us\n", spec().label.c_str(),
              kSlowPeers, messages, static_cast<double>(json_number(json, "p99")) / 1000.0);
}

INSTANTIATE_TEST_SUITE_P(Servers, SlowPeers, ::testing::ValuesIn(servers_where(event_driven)), server_label);

}  // namespace
}  // namespace iomodels::test
