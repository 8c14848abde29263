// blocking-pool: an acceptor thread feeds accepted connections through a queue to a fixed pool of --threads
// worker threads (default 5), like Python's ThreadPoolExecutor(5) behind a blocking accept loop.
//
// It demonstrates bounding a thread-per-connection server: the threads are made once, so their cost is fixed,
// and each worker blocks in recv(2) and send(2) for one client at a time, exactly as in blocking-threads.
// Inherent limit: it serves --threads clients at a time. Further clients are accepted and queued but get no
// answer until a worker finishes a whole connection, however idle the connections being served are.
//
// Try it:  bin/blocking-pool --threads 2 --port 7000 &   nc 127.0.0.1 7000   (the third nc waits for a free worker)
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "blocking/connection.hpp"
#include "common/server.hpp"
#include "common/shutdown.hpp"

using namespace iomodels;

namespace {

// Accepted connections waiting for a worker. Closing it wakes every idle worker to exit; the connections still
// queued then are closed unserved when the queue is destroyed.
class ConnectionQueue {
 public:
  // --max-conns counts the queued connections as well as the ones being served.
  std::size_t open_connections() {
    std::lock_guard lock(mutex_);
    return queued_.size() + serving_;
  }

  void push(UniqueFd connection) {
    {
      std::lock_guard lock(mutex_);
      queued_.push_back(std::move(connection));
    }
    ready_.notify_one();
  }

  // Blocks until a connection is queued; empty once the queue is closed. Each pop is matched by done_serving().
  std::optional<UniqueFd> pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return closed_ || !queued_.empty(); });
    if (closed_) return std::nullopt;
    UniqueFd connection = std::move(queued_.front());
    queued_.pop_front();
    ++serving_;
    return connection;
  }

  void done_serving() {
    std::lock_guard lock(mutex_);
    --serving_;
  }

  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<UniqueFd> queued_;
  std::size_t serving_ = 0;
  bool closed_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  Server server = start_server(argc, argv,
                               ModelInfo{
                                   .name = "blocking-pool",
                                   .summary = "an acceptor feeds a fixed pool of worker threads through a queue",
                                   .limit = "serves --threads clients at a time; others wait",
                                   .default_threads = 5,
                                   .threads_help = "worker threads, each serving one connection at a time",
                               });
  BlockingShutdown shutdown(server.listener.get());
  ConnectionQueue queue;

  std::vector<std::thread> workers;
  for (int i = 0; i < server.options.threads; ++i) {
    workers.emplace_back([&] {
      while (std::optional<UniqueFd> connection = queue.pop()) {
        serve_connection(std::move(*connection), server.session, shutdown);
        queue.done_serving();
      }
    });
  }

  while (UniqueFd connection = accept_blocking(server.listener.get())) {
    if (over_connection_limit(server.options, queue.open_connections())) continue;  // closes it
    queue.push(std::move(connection));
  }
  queue.close();
  for (std::thread& worker : workers) worker.join();
  return 0;
}
