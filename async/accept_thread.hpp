// POSIX AIO has no aio_accept: a thread of the server's own blocks in accept(2), the way glibc's helper threads block
// in read(2), and hands each connection to the loop, which cannot accept by itself while it waits for completions.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/fd.hpp"

namespace iomodels {

class AcceptThread {
 public:
  // A connection as the loop gets it: the socket and a dup(2) of it (glibc queues the requests of one descriptor
  // one after another, so writes go through a second descriptor).
  struct Accepted {
    UniqueFd socket;
    UniqueFd writer;
  };

  // doorbell runs on the accept thread when a connection is queued on an empty queue; the loop then calls take().
  AcceptThread(int listen_fd, std::function<void()> doorbell);
  ~AcceptThread() { stop(); }
  AcceptThread(const AcceptThread&) = delete;
  AcceptThread& operator=(const AcceptThread&) = delete;

  // Starts the thread. Call once the signals it must not take are blocked: it inherits the caller's mask.
  void start();
  // The connections queued since the last call.
  std::vector<Accepted> take();
  // A connection closed, so a descriptor is free: an accept waiting for one tries again at once.
  void connection_closed();
  // Shuts the listener down (a blocked accept(2) then returns on Linux) and joins the thread.
  void stop();

 private:
  void run();
  // Out of descriptors: keep serving, and try again once a connection closes or kShedLoadPause ends.
  void wait_for_descriptors();

  const int listen_fd_;
  const std::function<void()> doorbell_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable freed_;
  unsigned long closed_ = 0;
  std::vector<Accepted> accepted_;
  bool dup_failure_logged_ = false;  // the accept thread's
};

}  // namespace iomodels
