// The fixture every test parameterized over the server list derives from: it starts the listed binary on
// 127.0.0.1 port 0, reads the port from the banner, and in TearDown checks that the server is still alive, has
// no zombie children, stops on SIGTERM with exit status 0, and leaves no process of its group behind.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness/server_process.hpp"
#include "tests/servers.hpp"
#include "tests/test_support.hpp"

namespace iomodels::test {

class ServerTest : public ::testing::TestWithParam<ServerSpec> {
 protected:
  // Skips the test when the binary is not in $BIN_DIR yet.
  void SetUp() override;
  void TearDown() override;

  const ServerSpec& spec() const { return GetParam(); }

  // Starts the server with its shape's arguments, --host HOST --port 0, then extra; fails fatally without a
  // banner. Call as ASSERT_NO_FATAL_FAILURE(start(...)).
  void start(std::vector<std::string> extra = {}, const std::string& host = "127.0.0.1");
  ServerProcess& server() { return *server_; }

  // A connection to the running server; check connected().
  Client connect();
  // The server's stderr, for failure messages.
  std::string server_log();

  // Tests that stop the server themselves clear this: TearDown then checks only that nothing is left behind.
  bool expect_running_ = true;

 private:
  std::unique_ptr<ServerProcess> server_;
};

// gtest's test-name generator for the server list: "epoll_edge".
std::string server_label(const ::testing::TestParamInfo<ServerSpec>& info);

// A server run to its exit (--help, a bad option, a busy port), at most timeout.
struct Finished {
  std::optional<int> status;  // waitpid(2) status; nullopt when it did not exit in time
  std::string out;
  std::string err;
};
Finished run_to_exit(const ServerSpec& spec, std::vector<std::string> args, Millis timeout = kIoTimeout);

// True once condition holds, checking every few milliseconds until timeout. For states only /proc shows (a child
// being reaped), which no descriptor can be polled for.
bool eventually(const std::function<bool()>& condition, Millis timeout);

// "1234 S, 1240 Z" — the members of a process group, for failure messages.
std::string describe_group(pid_t pgid);

// The Threads: line of /proc/<pid>/status; -1 when it cannot be read.
int thread_count(pid_t pid);

// SIGTERM, then: exit 0 within a second, and no process of the server's group outlives it.
void expect_clean_stop(ServerProcess& server);

// $BIN_DIR/name (bin/ when BIN_DIR is unset).
std::string model_binary(const std::string& name);

// Starts the model with --port 0 and the given arguments and waits for its banner. Returns nullptr with *skip set
// when the binary is not built; a server that is built but does not start is a failure (*error says why).
std::unique_ptr<ServerProcess> start_model(const std::string& name, const std::vector<std::string>& args,
                                           std::string* skip, std::string* error);

// start_model for a test's own use: marks the test skipped when the binary is not built, failed when it does not
// start, and returns nullptr then; the caller returns: `auto server = start_or_skip(...); if (!server) return;`.
std::unique_ptr<ServerProcess> start_or_skip(const std::string& name, const std::vector<std::string>& args = {});

// After a connection of a server at its --max-conns limit has closed: true once a new client is served, which may
// take the server a moment to notice.
bool served_again(const ServerProcess& server, Millis timeout = kIoTimeout);

}  // namespace iomodels::test
