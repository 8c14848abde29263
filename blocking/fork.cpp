// blocking-fork: a process per connection (Python's socketserver.ForkingTCPServer).
//
// The parent only accepts; for each connection it fork(2)s a child that serves that client with blocking recv(2)
// and send(2) and exits. A child shares nothing writable with its siblings, so a crash ends one connection only.
// Exited children are reaped as their SIGCHLD arrives, so no zombie accumulates.
// Inherent limit: one process per connection. fork copies the page tables and every page the child then writes
// (copy-on-write), and each child is a task for the scheduler, so memory and context switches bound it sooner
// than threads; the fork on every accept also caps the rate of new connections.
//
// Try it:  bin/blocking-fork --port 7000 &   nc 127.0.0.1 7000   (then: ps --ppid $! shows one child per nc)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <unordered_set>

#include "blocking/connection.hpp"
#include "common/errors.hpp"
#include "common/server.hpp"
#include "common/shutdown.hpp"

using namespace iomodels;

namespace {

// The live children. The acceptor adds a child under the lock it forked it under, so the watcher thread, which
// reaps under the same lock, can never reap a pid before it is known (and leave a dead pid in the set).
struct Children {
  std::mutex mutex;
  std::unordered_set<pid_t> live;

  // On SIGCHLD (on the watcher thread): reap every child that has exited. Signals coalesce, hence the loop.
  void reap_exited() {
    std::lock_guard lock(mutex);
    for (;;) {
      const pid_t pid = waitpid(-1, nullptr, WNOHANG);
      if (pid <= 0) break;
      live.erase(pid);
    }
  }

  void terminate_all() {
    std::lock_guard lock(mutex);
    for (pid_t pid : live) kill(pid, SIGTERM);
  }

  // After the watcher has stopped reaping: wait for each child that was still alive.
  void wait_all() {
    std::lock_guard lock(mutex);
    for (pid_t pid : live) {
      while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    live.clear();
  }
};

}  // namespace

int main(int argc, char** argv) {
  Server server = start_server(argc, argv,
                               ModelInfo{
                                   .name = "blocking-fork",
                                   .summary = "a process per connection, forked on accept",
                                   .limit = "one thread/process per connection: memory and scheduler bound",
                               });
  Children children;
  // The watcher reaps on SIGCHLD, and on SIGINT/SIGTERM passes SIGTERM on to every child before it shuts the
  // listener down.
  BlockingShutdown shutdown(
      server.listener.get(), [&] { children.reap_exited(); }, [&] { children.terminate_all(); });

  while (UniqueFd connection = accept_blocking(server.listener.get())) {
    std::lock_guard lock(children.mutex);
    // Checked under the lock terminate_all takes, so a child is either forked before terminate_all runs (and is
    // signalled by it) or not forked at all.
    if (shutdown.stopping()) break;
    if (over_connection_limit(server.options, children.live.size())) continue;  // closes it
    const pid_t pid = fork();
    if (pid < 0) {
      // EAGAIN or ENOMEM: no room for another process. Shed this client; the children go on serving theirs.
      log_errno("fork", errno);
      continue;
    }
    if (pid == 0) {
      // The child: only the thread that called fork exists here, and SIGTERM should simply end it.
      restore_default_signals();
      server.listener.reset();
      serve_connection(connection.get(), server.session);
      _exit(0);
    }
    children.live.insert(pid);
    // The parent's copy is closed as the loop goes round; the child's copy keeps the connection open.
  }
  children.wait_all();
  return 0;
}
