#include "tests/server_fixture.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <system_error>

namespace iomodels::test {
namespace {

// A server stopped at the end of each test is allowed more than the protocol's one second (which the shutdown
// tests measure): here a slow exit must not hide the failure of the test that ran.
constexpr Millis kStopTimeout{3000};

bool exited_zero(std::optional<int> status) { return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0; }

}  // namespace

bool eventually(const std::function<bool()>& condition, Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    ::poll(nullptr, 0, 5);
  }
}

std::string describe_group(pid_t pgid) {
  std::string text;
  for (const auto& member : process_group_members(pgid)) {
    if (!text.empty()) text += ", ";
    text += std::to_string(member.pid) + " " + member.state;
  }
  return text.empty() ? "none" : text;
}

int thread_count(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("Threads:")) return std::stoi(line.substr(8));
  }
  return -1;
}

void expect_clean_stop(ServerProcess& server) {
  const pid_t group = server.pid();
  ASSERT_TRUE(server.signal(SIGTERM));
  std::optional<int> status = server.wait_exit(std::chrono::seconds(1));
  ASSERT_TRUE(status.has_value()) << "no exit within a second of SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << describe_wait_status(*status);
  EXPECT_EQ(describe_group(group), "none") << "processes of the server's group outlived it";
}

std::string server_label(const ::testing::TestParamInfo<ServerSpec>& info) { return info.param.label; }

// A model whose kernel facility is missing or forbidden here (io_uring disabled by sysctl or seccomp) exits 1
// before its banner with a line "<facility> unavailable: <call>: <reason>". Its tests skip with that line rather
// than fail; the first start of each server shape finds out, once per test process.
static std::string unavailable_reason(const ServerSpec& spec) {
  static std::map<std::string, std::string> reasons;
  auto found = reasons.find(spec.label);
  if (found != reasons.end()) return found->second;
  std::string reason;
  std::vector<std::string> args = spec_args(spec);
  args.insert(args.end(), {"--port", "0"});
  ServerProcess probe(binary_path(spec), args);
  if (!probe.wait_for_banner(kIoTimeout) && probe.wait_exit(Millis(1000)).has_value()) {
    const std::string log = probe.stderr_text();
    const auto at = log.find(" unavailable: ");
    if (at != std::string::npos) {
      const auto begin = log.rfind('\n', at);
      reason = log.substr(begin == std::string::npos ? 0 : begin + 1);
      if (!reason.empty() && reason.back() == '\n') reason.pop_back();
    }
  }
  return reasons[spec.label] = reason;
}

void ServerTest::SetUp() {
  if (::access(binary_path(spec()).c_str(), X_OK) != 0) GTEST_SKIP() << binary_path(spec()) << " not built";
  if (const std::string reason = unavailable_reason(spec()); !reason.empty()) GTEST_SKIP() << reason;
}

void ServerTest::start(std::vector<std::string> extra, const std::string& host) {
  std::vector<std::string> args = spec_args(spec());
  args.insert(args.end(), {"--host", host, "--port", "0"});
  args.insert(args.end(), extra.begin(), extra.end());
  try {
    server_ = std::make_unique<ServerProcess>(binary_path(spec()), args);
  } catch (const std::system_error& error) {
    FAIL() << error.what();
  }
  ASSERT_TRUE(server_->wait_for_banner(kIoTimeout)) << server_->error();
}

Client connect_to(const ServerProcess& server) { return Client::connect(server.host(), server.port()); }

Client ServerTest::connect() { return connect_to(*server_); }

std::string ServerTest::server_log() { return server_ ? server_->stderr_text() : std::string(); }

void ServerTest::TearDown() {
  if (!server_) return;
  const pid_t group = server_->pid();
  if (expect_running_) {
    if (!server_->running()) {
      ADD_FAILURE() << "the server died during the test: " << describe_wait_status(*server_->exit_status())
                    << "; stderr: " << server_log();
    } else {
      EXPECT_TRUE(eventually([&] { return process_group_zombies(group) == 0; }, Millis(1000)))
          << "zombies in the server's process group: " << describe_group(group);
      const auto began = std::chrono::steady_clock::now();
      server_->signal(SIGTERM);
      std::optional<int> status = server_->wait_exit(kStopTimeout);
      auto took = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - began);
      EXPECT_TRUE(exited_zero(status)) << "after SIGTERM at the end of the test the server "
                                       << (status ? describe_wait_status(*status)
                                                  : "was still running after " + std::to_string(took.count()) + " ms")
                                       << "; stderr: " << server_log();
    }
  }
  if (server_->exit_status()) {
    EXPECT_EQ(describe_group(group), "none") << "processes of the server's group outlived it";
  }
  server_.reset();  // kills and reaps whatever is left
}

Finished run_to_exit(const ServerSpec& spec, std::vector<std::string> args, Millis timeout) {
  Finished finished;
  try {
    ServerProcess process(binary_path(spec), std::move(args));
    finished.status = process.wait_exit(timeout);
    finished.out = process.stdout_text();
    finished.err = process.stderr_text();
  } catch (const std::system_error& error) {
    finished.err = error.what();
  }
  return finished;
}

std::string model_binary(const std::string& name) { return bin_dir() + "/" + name; }

std::unique_ptr<ServerProcess> start_model(const std::string& name, const std::vector<std::string>& args,
                                           std::string* skip, std::string* error) {
  const std::string path = model_binary(name);
  if (::access(path.c_str(), X_OK) != 0) {
    *skip = path + " is not built";
    return nullptr;
  }
  std::vector<std::string> all = {"--port", "0"};
  all.insert(all.end(), args.begin(), args.end());
  auto server = std::make_unique<ServerProcess>(path, all);
  if (!server->wait_for_banner(std::chrono::seconds(5))) {
    *error = name + " did not start: " + server->error();
    return nullptr;
  }
  return server;
}

std::unique_ptr<ServerProcess> start_or_skip(const std::string& name, const std::vector<std::string>& args) {
  std::string skip;
  std::string error;
  auto server = start_model(name, args, &skip, &error);
  if (server) return server;
  if (!skip.empty()) {
    [&] { GTEST_SKIP() << skip; }();  // GTEST_SKIP returns from its function: this lambda, not ours
  } else {
    ADD_FAILURE() << error;
  }
  return nullptr;
}

bool served_again(const ServerProcess& server, Millis timeout) {
  return eventually(
      [&] {
        Client next = Client::connect(server.host(), server.port());
        return echo_problem(next, "room again", Millis(500)).empty();
      },
      timeout);
}

}  // namespace iomodels::test
