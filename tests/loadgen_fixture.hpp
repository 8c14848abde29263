// What the load generator's tests share: where the binaries are, a server started for one test, and bin/loadgen
// run to completion. Servers and commands go through harness/server_process.hpp, so every child has a deadline and
// is killed and reaped whatever the test does.
#pragma once
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "client/load.hpp"
#include "harness/server_process.hpp"

namespace iomodels::loadgen_test {

inline std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

// $BIN_DIR (default bin) for the suite's binaries, $BUILD_DIR (default build) for the fake servers.
inline std::string bin_path(const std::string& name) { return env_or("BIN_DIR", "bin") + "/" + name; }
inline std::string fake_path(const std::string& name) {
  return env_or("BUILD_DIR", "build") + "/tests/fake/" + name;
}
inline bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

// A server running for one test. Check error() (empty when it is listening); the destructor stops it.
class RunningServer {
 public:
  RunningServer(const std::string& path, std::vector<std::string> args) {
    args.insert(args.begin(), {"--port", "0"});
    process_ = std::make_unique<ServerProcess>(path, std::move(args));
    if (!process_->wait_for_banner(std::chrono::seconds(5))) error_ = path + ": " + process_->error();
  }
  ~RunningServer() {
    if (process_->running()) {
      process_->signal(SIGTERM);
      process_->wait_exit(std::chrono::seconds(2));
    }
    process_->kill_group();
  }
  const std::string& error() const { return error_; }
  const std::string& host() const { return process_->host(); }
  int port() const { return process_->port(); }
  std::string address() const { return host() + ":" + std::to_string(port()); }
  // A LoadConfig aimed at this server, sized for a test on a shared two-core machine.
  loadgen::LoadConfig config() const {
    loadgen::LoadConfig config;
    config.host = host();
    config.port = port();
    config.connections = 4;
    config.threads = 1;
    config.duration = std::chrono::milliseconds(1000);
    config.warmup = std::chrono::milliseconds(200);
    return config;
  }

 private:
  std::unique_ptr<ServerProcess> process_;
  std::string error_;
};

// bin/loadgen with these arguments, run to completion (killed after 30 s).
inline CommandResult run_loadgen(const std::vector<std::string>& args) {
  std::vector<std::string> argv{bin_path("loadgen")};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, std::chrono::seconds(30));
}

inline int exit_code(const CommandResult& result) {
  return WIFEXITED(result.wait_status) ? WEXITSTATUS(result.wait_status) : -1;
}

// A usage error from bin/loadgen itself: exit status 2, one line on stderr naming `named`, nothing on stdout.
inline void expect_usage_error(const std::vector<std::string>& args, const std::string& named) {
  const CommandResult result = run_loadgen(args);
  ASSERT_TRUE(result.started) << result.error;
  EXPECT_EQ(exit_code(result), 2) << result.err;
  EXPECT_NE(result.err.find(named), std::string::npos) << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  EXPECT_EQ(result.out, "");
}

}  // namespace iomodels::loadgen_test

// Skips the test when a binary it needs has not been built.
#define LOADGEN_REQUIRE_BINARY(path)                                                   \
  do {                                                                                 \
    if (!::iomodels::loadgen_test::executable(path)) GTEST_SKIP() << (path) << " not built"; \
  } while (0)
