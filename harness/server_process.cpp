#include "harness/server_process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string_view>
#include <system_error>

extern char** environ;

namespace iomodels {
namespace {

using Clock = std::chrono::steady_clock;

// Milliseconds left until deadline, for poll(2); never negative.
int millis_until(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 1'000'000 ? 1'000'000 : static_cast<int>(left);
}

int poll_retrying(pollfd* fds, nfds_t count, Clock::time_point deadline) {
  for (;;) {
    int ready = ::poll(fds, count, millis_until(deadline));
    if (ready >= 0 || errno != EINTR) return ready;
  }
}

// pidfd_open(2) has no glibc wrapper before 2.36; the raw system call works everywhere the kernel has it (5.3+).
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

// /proc/<pid>/stat is "pid (comm) state ppid pgrp ..."; comm may itself hold spaces and parentheses, so the
// fields are counted from the last ')'.
bool read_stat(pid_t pid, char* state, pid_t* pgrp) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line)) return false;
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  std::string_view rest(line);
  rest.remove_prefix(close + 2);
  *state = rest[0];
  // Skip "S ppid " to reach pgrp.
  auto after_state = rest.find(' ');
  if (after_state == std::string_view::npos) return false;
  auto after_ppid = rest.find(' ', after_state + 1);
  if (after_ppid == std::string_view::npos) return false;
  rest.remove_prefix(after_ppid + 1);
  long value = 0;
  auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (ec != std::errc()) return false;
  *pgrp = static_cast<pid_t>(value);
  return true;
}

std::size_t read_rss_bytes(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(file, line)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    std::size_t kib = std::strtoull(line.c_str() + 6, nullptr, 10);
    return kib * 1024;
  }
  return 0;  // zombies and kernel threads have no VmRSS line
}

// The groups of live ServerProcess objects, for kill_every_server_group. Lock-free atomics are what a signal
// handler may touch; more servers alive at once than slots would only go unrecorded.
constexpr int kGroupSlots = 1024;
std::atomic<pid_t> live_groups[kGroupSlots];

void remember_group(pid_t pgid) {
  for (auto& slot : live_groups) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pgid)) return;
  }
}

void forget_group(pid_t pgid) {
  for (auto& slot : live_groups) {
    pid_t expected = pgid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

}  // namespace

void kill_every_server_group() noexcept {
  static_assert(std::atomic<pid_t>::is_always_lock_free);
  for (auto& slot : live_groups) {
    if (pid_t pgid = slot.load(); pgid > 0) ::kill(-pgid, SIGKILL);
  }
}

std::vector<GroupMember> process_group_members(pid_t pgid) {
  std::vector<GroupMember> members;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return members;
  while (dirent* entry = ::readdir(proc)) {
    pid_t pid = 0;
    const char* name = entry->d_name;
    auto [ptr, ec] = std::from_chars(name, name + std::strlen(name), pid);
    if (ec != std::errc() || *ptr != '\0') continue;
    char state = '?';
    pid_t pgrp = 0;
    // A process may exit between readdir and the read; it is simply not a member any more.
    if (!read_stat(pid, &state, &pgrp) || pgrp != pgid) continue;
    members.push_back({pid, state, state == 'Z' ? 0 : read_rss_bytes(pid)});
  }
  ::closedir(proc);
  return members;
}

std::size_t process_group_rss(pid_t pgid) {
  std::size_t total = 0;
  for (const auto& member : process_group_members(pgid)) total += member.rss_bytes;
  return total;
}

std::size_t process_group_zombies(pid_t pgid) {
  std::size_t zombies = 0;
  for (const auto& member : process_group_members(pgid)) zombies += member.state == 'Z';
  return zombies;
}

bool adopt_orphans() { return ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0; }

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return std::string("killed by ") + (name ? std::string("SIG") + name : std::to_string(WTERMSIG(status))) +
           (WCOREDUMP(status) ? " (core dumped)" : "");
  }
  return "wait status " + std::to_string(status);
}

ServerProcess::ServerProcess(std::string path, std::vector<std::string> args) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  UniqueFd read_end(out[0]);
  UniqueFd write_end(out[1]);
  ::fcntl(read_end.get(), F_SETFL, ::fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);
  UniqueFd err_file(::memfd_create("server-stderr", MFD_CLOEXEC));
  if (!err_file) throw std::system_error(errno, std::generic_category(), "memfd_create");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  // dup2 clears close-on-exec on the copy, so only these three descriptors survive into the server.
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_file.get(), 2);

  // The test runner may ignore SIGPIPE or block signals; the server must start as it would from a shell.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  argv.push_back(path.data());
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // posix_spawnp: a bare name ("wrk") is looked up in PATH, a name with a slash is used as it is.
  int rc = ::posix_spawnp(&pid_, path.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    pid_ = -1;
    throw std::system_error(rc, std::generic_category(), "spawn " + path);
  }
  remember_group(pid_);
  stdout_pipe_ = std::move(read_end);
  stderr_file_ = std::move(err_file);
  // The pid cannot be reused before we reap it, so the pidfd surely names our child.
  pidfd_.reset(open_pidfd(pid_));
}

ServerProcess::~ServerProcess() { kill_group(); }

void ServerProcess::drain_stdout() {
  if (!stdout_pipe_) return;
  char chunk[4096];
  for (;;) {
    ssize_t n = ::read(stdout_pipe_.get(), chunk, sizeof chunk);
    if (n > 0) {
      stdout_.append(chunk, static_cast<std::size_t>(n));
    } else if (n == 0) {
      stdout_pipe_.reset();  // every writer has closed it
      return;
    } else if (errno != EINTR) {
      return;  // EAGAIN: nothing more for now
    }
  }
}

bool ServerProcess::wait_for_banner(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    drain_stdout();
    if (auto newline = stdout_.find('\n'); newline != std::string::npos) {
      banner_ = stdout_.substr(0, newline);
      constexpr std::string_view kPrefix = "listening on ";
      std::string_view address(banner_);
      auto colon = address.rfind(':');
      if (address.substr(0, kPrefix.size()) != kPrefix || colon == std::string_view::npos) {
        error_ = "malformed banner '" + banner_ + "'";
        return false;
      }
      std::string_view host = address.substr(kPrefix.size(), colon - kPrefix.size());
      std::string_view port = address.substr(colon + 1);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
      auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), port_);
      if (host.empty() || ec != std::errc() || ptr != port.data() + port.size() || port_ <= 0 || port_ > 65535) {
        error_ = "malformed banner '" + banner_ + "'";
        return false;
      }
      host_ = std::string(host);
      return true;
    }
    if (!stdout_pipe_) {
      error_ = "stdout closed before the banner; stderr: " + stderr_text();
      return false;
    }
    pollfd fd{stdout_pipe_.get(), POLLIN, 0};
    if (poll_retrying(&fd, 1, deadline) == 0) {
      error_ = "no banner within " + std::to_string(timeout.count()) + " ms; stdout: '" + stdout_ +
               "'; stderr: " + stderr_text();
      return false;
    }
  }
}

bool ServerProcess::signal(int signo) {
  if (pid_ <= 0 || exit_status_) return false;
  return ::kill(pid_, signo) == 0;
}

bool ServerProcess::signal_group(int signo) {
  if (pid_ <= 0) return false;
  return ::kill(-pid_, signo) == 0;
}

bool ServerProcess::running() {
  if (pid_ <= 0 || exit_status_) return false;
  int status = 0;
  pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
  if (reaped == pid_) {
    exit_status_ = status;
    return false;
  }
  return true;
}

std::optional<int> ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_status_ || pid_ <= 0) return exit_status_;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (!running()) return exit_status_;
    if (Clock::now() >= deadline) return std::nullopt;
    // Wake when the leader exits (pidfd readable) or writes to stdout, which is drained so it never blocks.
    // Without a pidfd, look again every few milliseconds.
    pollfd fds[2];
    nfds_t count = 0;
    if (pidfd_) fds[count++] = {pidfd_.get(), POLLIN, 0};
    if (stdout_pipe_) fds[count++] = {stdout_pipe_.get(), POLLIN, 0};
    auto wake = pidfd_ ? deadline : std::min(deadline, Clock::now() + std::chrono::milliseconds(5));
    poll_retrying(fds, count, wake);
    drain_stdout();
  }
}

std::string ServerProcess::stdout_text() {
  drain_stdout();
  return stdout_;
}

std::string ServerProcess::stderr_text() const {
  std::string text;
  if (!stderr_file_) return text;
  struct stat info {};
  if (::fstat(stderr_file_.get(), &info) != 0) return text;
  text.resize(static_cast<std::size_t>(info.st_size));
  ssize_t n = ::pread(stderr_file_.get(), text.data(), text.size(), 0);
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return text;
}

void ServerProcess::kill_group() {
  if (pid_ <= 0) return;
  // Once the leader is reaped its pid is free for reuse; signal the group only while /proc still shows members,
  // so as not to reach a stranger that was given the number again.
  if (!exit_status_ || !process_group_members(pid_).empty()) ::kill(-pid_, SIGKILL);
  if (!exit_status_) {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exit_status_ = status;
  }
  reap_adopted_members();
  forget_group(pid_);
}

void ServerProcess::reap_adopted_members() {
  // Members the server left behind were re-parented to us when we are a subreaper; waitpid(-pgid) finds exactly
  // those, and fails with ECHILD once none is left (or when they went to init instead).
  for (;;) {
    pid_t reaped = ::waitpid(-pid_, nullptr, 0);
    if (reaped < 0 && errno != EINTR) return;
  }
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CommandResult result;
  if (argv.empty()) {
    result.error = "empty command";
    return result;
  }
  try {
    ServerProcess process(argv[0], std::vector<std::string>(argv.begin() + 1, argv.end()));
    result.started = true;
    std::optional<int> status = process.wait_exit(timeout);
    if (!status) {
      result.timed_out = true;
      process.kill_group();
      status = process.exit_status();
    }
    result.wait_status = status.value_or(0);
    result.out = process.stdout_text();
    result.err = process.stderr_text();
  } catch (const std::system_error& error) {
    result.error = error.what();
  }
  return result;
}

}  // namespace iomodels
