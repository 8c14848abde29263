#include "async/accept_thread.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <utility>

#include "common/accept.hpp"
#include "common/errors.hpp"
#include "common/listener.hpp"

namespace iomodels {

AcceptThread::AcceptThread(int listen_fd, std::function<void()> doorbell)
    : listen_fd_(listen_fd), doorbell_(std::move(doorbell)) {}

void AcceptThread::start() {
  thread_ = std::thread([this] { run(); });
}

std::vector<AcceptThread::Accepted> AcceptThread::take() {
  std::vector<Accepted> taken;
  std::lock_guard lock(mutex_);
  taken.swap(accepted_);
  return taken;
}

void AcceptThread::connection_closed() {
  std::lock_guard lock(mutex_);
  ++closed_;
  freed_.notify_one();
}

void AcceptThread::stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard lock(mutex_);
    freed_.notify_one();
  }
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
}

void AcceptThread::run() {
  for (;;) {
    UniqueFd socket(accept_connection(listen_fd_, /*nonblocking=*/false));
    if (stopping_.load()) return;  // stop() shut the listener down: accept failed with EINVAL, or raced it
    if (!socket) {
      if (accept_failed(errno) == AcceptResult::kShed) wait_for_descriptors();
      continue;
    }
    // Made here rather than on the loop's thread, so that the connection waits for a free descriptor (rather than
    // being dropped) when accept(2) took the last one.
    UniqueFd writer;
    while (!(writer = UniqueFd(fcntl(socket.get(), F_DUPFD_CLOEXEC, 0)))) {
      const int err = errno;
      if (classify_errno(err) != ErrnoClass::kShedLoad) die_errno("fcntl F_DUPFD_CLOEXEC", err);
      if (!dup_failure_logged_) log_errno("fcntl F_DUPFD_CLOEXEC (waiting for a free descriptor; logged once)", err);
      dup_failure_logged_ = true;
      wait_for_descriptors();
      if (stopping_.load()) return;
    }
    bool was_empty = false;
    {
      std::lock_guard lock(mutex_);
      was_empty = accepted_.empty();
      accepted_.push_back({std::move(socket), std::move(writer)});
    }
    // The loop takes every connection waiting, so one ring per batch is enough, and a flood of connects cannot
    // fill the signal queue (RLIMIT_SIGPENDING) with doorbells.
    if (was_empty) doorbell_();
  }
}

void AcceptThread::wait_for_descriptors() {
  std::unique_lock lock(mutex_);
  const auto closed = closed_;
  freed_.wait_for(lock, kShedLoadPause, [&] { return closed_ != closed || stopping_.load(); });
}

}  // namespace iomodels
