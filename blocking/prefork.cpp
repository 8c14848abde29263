// blocking-prefork: --threads worker processes (default 5), forked at start, each blocking in accept(2) on the one
// listening socket they all inherited and serving what it accepts to the end (a process pool; Apache's prefork).
//
// It demonstrates sharing one listener between processes: the kernel hands each new connection to one of the
// processes asleep in accept, so no process dispatches work to the others. The parent serves nothing; it waits
// for SIGINT/SIGTERM, replaces any worker that dies unexpectedly, and at the end stops and reaps them all.
// Inherent limit: it serves --threads clients at a time. Other clients wait in the listen backlog until a worker
// finishes a whole connection. --max-conns, if lower than --threads, is enforced across all workers through a
// shared page in which each worker marks itself busy while it serves.
//
// Try it:  bin/blocking-prefork --threads 2 --port 7000 &   nc 127.0.0.1 7000   (the third nc waits)
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "blocking/connection.hpp"
#include "common/errors.hpp"
#include "common/server.hpp"
#include "common/shutdown.hpp"

using namespace iomodels;

namespace {

// One flag per worker slot, in memory shared by every process: set while that worker holds a connection.
// A worker sets its own flag before it counts the others, so two workers accepting at the same moment can
// both refuse but never both exceed the limit. A replacement worker starts with its slot's flag clear.
std::span<std::atomic<int>> map_busy_flags(int workers) {
  static_assert(std::atomic<int>::is_always_lock_free, "a flag shared between processes must be lock-free");
  void* memory = mmap(nullptr, sizeof(std::atomic<int>) * workers, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) fail(errno_message("mmap", errno));
  auto* flags = new (memory) std::atomic<int>[workers];
  return {flags, static_cast<std::size_t>(workers)};
}

[[noreturn]] void run_worker(Server& server, std::span<std::atomic<int>> busy, std::size_t slot) {
  // Only the thread that called fork exists here; SIGTERM from the parent should simply end the worker, and with
  // it the connection it serves.
  restore_default_signals();
  busy[slot] = 0;
  while (UniqueFd connection = accept_blocking(server.listener.get())) {
    busy[slot] = 1;
    std::size_t open = 0;
    for (const auto& flag : busy) open += flag.load();
    // open counts this connection too; over_connection_limit asks about one more than those already open.
    if (!over_connection_limit(server.options, open - 1)) serve_connection(connection.get(), server.session);
    busy[slot] = 0;
  }
  // The parent shut the listener down: the server is stopping (its SIGTERM is on its way).
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<pid_t> pids;  // by slot; -1 for a slot whose worker could not be forked
  std::span<std::atomic<int>> busy;
  const auto start_worker = [&](Server& server, std::size_t slot) {
    pids[slot] = fork();
    if (pids[slot] == 0) run_worker(server, busy, slot);
    if (pids[slot] < 0) log_errno("fork", errno);
  };
  // The workers are forked before the banner: a server that says it is listening then has all its processes, and
  // no thread exists yet when they are forked.
  Server server = start_server(
      argc, argv,
      ModelInfo{
          .name = "blocking-prefork",
          .summary = "pre-forked worker processes each block in accept on one listener",
          .limit = "serves --threads clients at a time; others wait (a worker that dies unexpectedly is replaced)",
          .default_threads = 5,
          .threads_help = "worker processes, each serving one connection at a time",
      },
      {}, [&](Server& started) {
        pids.assign(static_cast<std::size_t>(started.options.threads), -1);
        busy = map_busy_flags(started.options.threads);
        for (std::size_t slot = 0; slot < pids.size(); ++slot) start_worker(started, slot);
      });
  const std::size_t workers = pids.size();

  // The watcher thread only wakes this one, which owns the worker table, on SIGCHLD and at shutdown. A worker
  // that died before the watcher started left its SIGCHLD pending (it is blocked), so it is not missed.
  std::mutex mutex;
  std::condition_variable woken;
  bool child_exited = false;
  BlockingShutdown shutdown(
      server.listener.get(),
      [&] {
        std::lock_guard lock(mutex);
        child_exited = true;
        woken.notify_one();
      },
      [&] {
        std::lock_guard lock(mutex);
        woken.notify_one();
      });

  std::unique_lock lock(mutex);
  for (;;) {
    woken.wait(lock, [&] { return child_exited || shutdown.stopping(); });
    if (shutdown.stopping()) break;
    child_exited = false;
    for (pid_t pid; (pid = waitpid(-1, nullptr, WNOHANG)) > 0;) {
      for (std::size_t slot = 0; slot < workers; ++slot) {
        if (pids[slot] != pid) continue;
        log_message("worker " + std::to_string(pid) + " died; starting a new one");
        start_worker(server, slot);
      }
    }
  }
  lock.unlock();

  for (pid_t pid : pids) {
    if (pid > 0) kill(pid, SIGTERM);
  }
  for (pid_t pid : pids) {
    if (pid <= 0) continue;
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  return 0;
}
