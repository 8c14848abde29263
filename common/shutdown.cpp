#include "common/shutdown.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/errors.hpp"

namespace iomodels {
namespace {

sigset_t signal_set(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : signals) sigaddset(&set, signal);
  return set;
}

}  // namespace

void init_process_signals() {
  // A send to a peer that has gone must fail with EPIPE on that connection, not kill the server.
  if (::signal(SIGPIPE, SIG_IGN) == SIG_ERR) die_errno("signal SIGPIPE", errno);
  const sigset_t set = signal_set({SIGINT, SIGTERM, SIGCHLD});
  if (int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) die_errno("pthread_sigmask", rc);
}

void restore_default_signals() {
  for (int signal : {SIGINT, SIGTERM, SIGCHLD}) ::signal(signal, SIG_DFL);
  const sigset_t set = signal_set({SIGINT, SIGTERM, SIGCHLD});
  if (int rc = pthread_sigmask(SIG_UNBLOCK, &set, nullptr); rc != 0) die_errno("pthread_sigmask", rc);
}

void unblock_shutdown_signals() {
  const sigset_t set = signal_set({SIGINT, SIGTERM});
  if (int rc = pthread_sigmask(SIG_UNBLOCK, &set, nullptr); rc != 0) die_errno("pthread_sigmask", rc);
}

UniqueFd open_shutdown_fd() {
  const sigset_t set = signal_set({SIGINT, SIGTERM});
  UniqueFd fd(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd) die_errno("signalfd", errno);
  return fd;
}

BlockingShutdown::BlockingShutdown(int listen_fd, std::function<void()> on_child_exit, std::function<void()> on_stop)
    : listen_fd_(listen_fd),
      on_child_exit_(std::move(on_child_exit)),
      on_stop_(std::move(on_stop)),
      watcher_([this] { watch(); }) {}

BlockingShutdown::~BlockingShutdown() {
  // Normally the watcher has ended already (the server loop ends only once stopping). If not, a
  // thread-directed SIGTERM ends its sigwait.
  if (!stopping()) pthread_kill(watcher_.native_handle(), SIGTERM);
  watcher_.join();
}

bool BlockingShutdown::add(int fd) {
  std::lock_guard lock(mutex_);
  if (stopping()) return false;
  connections_.insert(fd);
  return true;
}

void BlockingShutdown::remove(int fd) {
  std::lock_guard lock(mutex_);
  connections_.erase(fd);
}

void BlockingShutdown::watch() {
  const sigset_t set = on_child_exit_ ? signal_set({SIGINT, SIGTERM, SIGCHLD}) : signal_set({SIGINT, SIGTERM});
  for (;;) {
    int signal = 0;
    if (int rc = sigwait(&set, &signal); rc != 0) die_errno("sigwait", rc);
    if (signal == SIGCHLD) {
      on_child_exit_();
      continue;
    }
    break;
  }
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true, std::memory_order_release);
  }
  if (on_stop_) on_stop_();
  // shutdown(2) on a listening socket makes a blocked accept(2) return (EINVAL) on Linux; on a connection
  // it makes a blocked recv(2) return 0 and a blocked send(2) fail, so every serving thread wakes up.
  ::shutdown(listen_fd_, SHUT_RDWR);
  std::lock_guard lock(mutex_);
  for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
}

}  // namespace iomodels
