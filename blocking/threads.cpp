// blocking-threads: a thread per connection (Python's socketserver.ThreadingTCPServer).
//
// The main thread only accepts; each connection gets its own thread that blocks in recv(2) and send(2) for it
// alone, so a slow or idle client holds up nobody else and the serving code is as plain as the iterative one.
// Inherent limit: every connection costs a whole thread (a stack reserved up front, 8 MiB of address space by
// default, and a kernel task the scheduler must switch to), so memory and context switches bound how many
// clients it can serve; past a few thousand connections the threads, not the work, dominate.
//
// Try it:  bin/blocking-threads --port 7000 &   nc 127.0.0.1 7000   (several at once all get their echo)
#include <condition_variable>
#include <list>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "blocking/connection.hpp"
#include "common/errors.hpp"
#include "common/server.hpp"
#include "common/shutdown.hpp"

using namespace iomodels;

namespace {

// The connection threads, all joinable. A finishing thread hands its own handle over as the one left to join and
// joins the thread that finished before it, so a long-running server never holds more than one exited thread
// (and its stack) unjoined, and at exit joining the last one joins them all.
class ConnectionThreads {
 public:
  std::size_t running() {
    std::lock_guard lock(mutex_);
    return running_.size();
  }

  // Throws std::system_error when the system has no room for another thread.
  template <typename Serve>
  void start(Serve serve) {
    std::lock_guard lock(mutex_);
    // The thread is created under the lock, so it cannot finish before its own entry holds its handle.
    auto self = running_.emplace(running_.end());
    try {
      *self = std::thread([this, self, serve = std::move(serve)]() mutable {
        serve();
        finish(self);
      });
    } catch (...) {
      running_.erase(self);
      throw;
    }
  }

  // At shutdown every connection has been shut down, so each running thread is on its way out.
  void join_all() {
    std::unique_lock lock(mutex_);
    finished_.wait(lock, [this] { return running_.empty(); });
    if (last_finished_.joinable()) last_finished_.join();
  }

 private:
  void finish(std::list<std::thread>::iterator self) {
    std::thread previous;
    {
      std::lock_guard lock(mutex_);
      previous = std::exchange(last_finished_, std::move(*self));
      running_.erase(self);
      finished_.notify_all();
    }
    if (previous.joinable()) previous.join();
  }

  std::mutex mutex_;
  std::condition_variable finished_;
  std::list<std::thread> running_;
  std::thread last_finished_;
};

}  // namespace

int main(int argc, char** argv) {
  Server server = start_server(
      argc, argv,
      ModelInfo{
          .name = "blocking-threads",
          .summary = "a thread per connection, each blocking in recv and send for its own client",
          .limit = "one thread per connection: memory and scheduler bound",
      });
  BlockingShutdown shutdown(server.listener.get());
  ConnectionThreads threads;

  while (UniqueFd connection = accept_blocking(server.listener.get())) {
    if (over_connection_limit(server.options, threads.running())) continue;  // closes it
    try {
      threads.start([&, connection = std::move(connection)]() mutable {
        serve_connection(std::move(connection), server.session, shutdown);
      });
    } catch (const std::system_error& error) {
      // EAGAIN from pthread_create: out of threads or memory. Shed this client; the others are still served.
      log_message(std::string("std::thread: ") + error.what());
    }
  }
  threads.join_all();
  return 0;
}
