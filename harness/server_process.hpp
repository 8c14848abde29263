// A server binary run as a child process: started in a process group of its own, its banner read with a
// deadline, signalled, waited for with a deadline, and measured from /proc. The conformance tests and the
// comparison runner drive every server through this, so nothing here knows about any one model.
//
// Why a process group: the fork and prefork models are several processes. Giving the server a group of its own
// lets one kill(2) reach all of them, lets waitpid(2) and /proc find them after the leader is gone, and lets
// memory be summed over the whole server rather than over its first process.
//
//   ServerProcess server(bin_dir + "/epoll", {"--port", "0"});
//   if (!server.wait_for_banner(std::chrono::seconds(5))) fail(server.error());
//   connect to server.host():server.port() ...
//   server.signal(SIGTERM);
//   std::optional<int> status = server.wait_exit(std::chrono::seconds(1));   // a waitpid(2) status
//
// The destructor kills the group with SIGKILL and reaps it, so no test or comparison run leaves a process behind.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.hpp"

namespace iomodels {

// One process of a process group, as /proc shows it.
struct GroupMember {
  pid_t pid = 0;
  char state = '?';          // the state letter of /proc/<pid>/stat: R, S, D, Z, ...
  std::size_t rss_bytes = 0;  // VmRSS of /proc/<pid>/status; 0 for a zombie
};

// Every process whose process group is pgid, read from /proc/<pid>/stat. Threads are not listed: they share
// their process's memory and pid directory.
std::vector<GroupMember> process_group_members(pid_t pgid);
// The sum of VmRSS over the group. Pages that forked processes share are counted once per process, which
// overstates the total but measures growth fairly.
std::size_t process_group_rss(pid_t pgid);
// How many members of the group are zombies (exited, not yet reaped by their parent).
std::size_t process_group_zombies(pid_t pgid);

// Makes the calling process the reaper of its orphaned descendants (prctl PR_SET_CHILD_SUBREAPER). Without it a
// server's child that outlives the server is adopted by init and may be reaped before anyone notices it was left
// behind; with it the child stays visible in its group until ServerProcess reaps it. Returns false on failure.
bool adopt_orphans();

// SIGKILL to the group of every ServerProcess alive in this process. Async-signal-safe: a handler for SIGINT or
// SIGTERM calls it so that an interrupted test run leaves no server behind (a server has a group of its own, so a
// terminal's Ctrl-C does not reach it).
void kill_every_server_group() noexcept;

// The exit of a waitpid(2) status in words: "exited with 1", "killed by SIGKILL".
std::string describe_wait_status(int status);

class ServerProcess {
 public:
  // Spawns path with args (argv[0] is path) in a new process group, stdout on a pipe (the banner), stderr in an
  // in-memory file (it can never fill up and block the server), stdin on /dev/null, every signal at its default
  // disposition and none blocked. Throws std::system_error when the program cannot be started.
  ServerProcess(std::string path, std::vector<std::string> args);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Waits for the line "listening on HOST:PORT" on stdout. Returns false when the deadline passes, stdout
  // closes or the line is malformed; error() says which, with the server's stderr.
  bool wait_for_banner(std::chrono::milliseconds timeout);
  const std::string& banner() const { return banner_; }  // the whole line, without the newline
  const std::string& host() const { return host_; }      // "127.0.0.1", or "::1" without the brackets
  int port() const { return port_; }
  const std::string& error() const { return error_; }

  // The leader's pid, which is also the group's id.
  pid_t pid() const { return pid_; }

  // kill(2) to the leader alone, as `kill PID` does; false once the leader has been reaped.
  bool signal(int signo);
  // kill(2) to every process of the group, as a terminal's Ctrl-C does.
  bool signal_group(int signo);

  // Waits until the leader exits and reaps it. Returns its waitpid(2) status, or nullopt when the deadline passes.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // True while the leader has not exited (reaps it, without waiting, when it has).
  bool running();
  // The leader's waitpid(2) status once it has been reaped.
  std::optional<int> exit_status() const { return exit_status_; }

  // Everything written so far. stdout is read without blocking; stderr is read from its in-memory file.
  std::string stdout_text();
  std::string stderr_text() const;

  // SIGKILL to the whole group, then reaps the leader and any member this process has adopted (see
  // adopt_orphans). Safe to call more than once; the destructor calls it.
  void kill_group();

 private:
  void drain_stdout();
  void reap_adopted_members();

  pid_t pid_ = -1;
  UniqueFd stdout_pipe_;
  UniqueFd stderr_file_;
  UniqueFd pidfd_;  // readable once the leader has exited (pidfd_open(2)); empty on kernels before 5.3
  std::string stdout_;
  std::string banner_;
  std::string host_;
  int port_ = 0;
  std::string error_;
  std::optional<int> exit_status_;
};

// Runs a program to completion in a process group of its own, capturing stdout and stderr; at the deadline the
// group is killed. For third-party clients such as wrk and ab.
struct CommandResult {
  bool started = false;     // false: the program could not be spawned (error says why)
  bool timed_out = false;   // the deadline passed and the group was killed
  int wait_status = 0;      // as waitpid(2) returns it
  std::string out;
  std::string err;
  std::string error;
};
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

}  // namespace iomodels
