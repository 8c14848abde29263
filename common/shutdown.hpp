// SIGINT/SIGTERM turned into a shutdown event each model waits on in its own way, and SIGPIPE made harmless.
#pragma once
#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "common/fd.hpp"

namespace iomodels {

// Call first in main, before any thread exists: ignores SIGPIPE (a vanished peer only fails its own send),
// and blocks SIGINT, SIGTERM and SIGCHLD in every thread so that they are only ever received on purpose
// (signalfd, sigwaitinfo, a watcher thread), never by a handler interrupting some random call.
void init_process_signals();

// In a forked child that should die of SIGTERM like any plain program: default dispositions, nothing blocked.
void restore_default_signals();

// Unblocks SIGINT and SIGTERM in the calling thread only. Library models (libevent, libuv, Asio) install the
// library's own handler first, then call this in the thread that runs the library's loop; other threads keep
// them blocked, so the handler always runs on the loop's thread.
void unblock_shutdown_signals();

// A signalfd that is readable once SIGINT or SIGTERM is pending. Event loops add it to their wait set and stop
// when it is readable; it is never read, so every loop of a multi-reactor server sees it.
UniqueFd open_shutdown_fd();

// Blocking models cannot wait on a signal and a socket at once. A watcher thread waits for the signal, then
// shuts down the listener (a blocked accept(2) returns) and every registered connection (a blocked recv(2)
// returns 0, a blocked send(2) fails), so each blocked thread wakes and finds stopping() true.
class BlockingShutdown {
 public:
  // on_child_exit, when given, runs on the watcher thread for every SIGCHLD (fork models reap there).
  // on_stop, when given, runs on the watcher thread once the shutdown signal arrives (fork models signal
  // their children there).
  explicit BlockingShutdown(int listen_fd, std::function<void()> on_child_exit = {},
                            std::function<void()> on_stop = {});
  ~BlockingShutdown();
  BlockingShutdown(const BlockingShutdown&) = delete;
  BlockingShutdown& operator=(const BlockingShutdown&) = delete;

  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  // Registers a connection so that shutdown can wake a thread blocked on it. False when shutdown has already
  // begun: the caller closes the connection instead of serving it.
  bool add(int fd);
  // Call before closing fd, so that a shutdown never touches a number the kernel has handed out again.
  void remove(int fd);

 private:
  void watch();

  int listen_fd_;
  std::function<void()> on_child_exit_;
  std::function<void()> on_stop_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::unordered_set<int> connections_;
  std::thread watcher_;
};

}  // namespace iomodels
