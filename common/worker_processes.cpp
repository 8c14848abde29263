#include "common/worker_processes.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "common/errors.hpp"

namespace iomodels {
namespace {

using Clock = std::chrono::steady_clock;

// A worker that fails again this soon after its last restart is not restarted: something is wrong for good.
constexpr auto kRestartWindow = std::chrono::seconds(1);
constexpr auto kStopTimeout = std::chrono::seconds(2);

pid_t start_worker(int index, const std::function<int(int)>& worker) {
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) die_errno("fork", errno);
  if (pid > 0) return pid;
  // The child. A parent that vanishes without stopping us (SIGKILL) still does, by this signal; checking the parent
  // afterwards closes the race with a parent that died before prctl ran.
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) log_errno("prctl PR_SET_PDEATHSIG", errno);
  if (getppid() != parent) _exit(0);
  const int status = worker(index);
  std::fflush(nullptr);
  _exit(status);  // not exit(): the parent's atexit handlers and static destructors are the parent's business
}

std::string describe(int status) {
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + std::to_string(WTERMSIG(status));
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

int run_worker_processes(int count, const std::function<int(int index)>& worker) {
  std::map<pid_t, int> workers;  // pid -> index
  std::map<int, Clock::time_point> restarted;
  for (int i = 0; i < count; ++i) workers[start_worker(i, worker)] = i;

  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGINT, SIGTERM, SIGCHLD}) sigaddset(&signals, signal);
  int result = 0;
  bool stopping = false;
  while (!workers.empty() && !stopping) {
    siginfo_t info{};
    const int signal = sigwaitinfo(&signals, &info);
    if (signal < 0) {
      if (errno == EINTR) continue;
      die_errno("sigwaitinfo", errno);
    }
    if (signal != SIGCHLD) {
      stopping = true;
      break;
    }
    // SIGCHLD does not queue: reap every worker that has ended.
    for (;;) {
      int status = 0;
      const pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      const auto found = workers.find(pid);
      if (found == workers.end()) continue;
      const int index = found->second;
      workers.erase(found);
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
      const auto now = Clock::now();
      const auto last = restarted.find(index);
      if (last != restarted.end() && now - last->second < kRestartWindow) {
        log_message("worker " + std::to_string(index) + " " + describe(status) +
                    " again within a second; stopping every worker");
        result = 1;
        stopping = true;
        break;
      }
      log_message("worker " + std::to_string(index) + " " + describe(status) + "; starting it again");
      restarted[index] = now;
      workers[start_worker(index, worker)] = index;
    }
  }

  for (const auto& [pid, index] : workers) kill(pid, SIGTERM);
  const auto deadline = Clock::now() + kStopTimeout;
  while (!workers.empty()) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      workers.erase(pid);
      continue;
    }
    if (pid < 0 && errno != EINTR) break;  // ECHILD: none left
    if (Clock::now() >= deadline) {
      for (const auto& [left, index] : workers) kill(left, SIGKILL);
      while (waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
      }
      break;
    }
    usleep(10'000);
  }
  return result;
}

}  // namespace iomodels
