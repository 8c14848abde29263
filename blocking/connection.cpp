#include "blocking/connection.hpp"

#include <cerrno>
#include <chrono>
#include <thread>

#include "common/errors.hpp"
#include "common/listener.hpp"
#include "common/socket_io.hpp"

namespace iomodels {
namespace {

// How long accept waits after EMFILE and its kind. A blocking server has no event that says "a descriptor has
// been freed": the listener stays readable (the connection is still in the backlog), so retrying at once would
// spin at 100% CPU. Other threads or processes go on serving meanwhile and free descriptors as they finish.
constexpr auto kShedLoadBackoff = std::chrono::milliseconds(20);

}  // namespace

UniqueFd accept_blocking(int listen_fd) {
  bool shedding = false;
  for (;;) {
    const int fd = accept_connection(listen_fd, /*nonblocking=*/false);
    if (fd >= 0) return UniqueFd(fd);
    const int err = errno;
    switch (classify_errno(err)) {
      case ErrnoClass::kRetry:
      case ErrnoClass::kPeerGone:
        // accept(2) reports network errors already pending on the new connection (ENETDOWN, EHOSTUNREACH, ...);
        // that connection is lost, the listener is fine.
        continue;
      case ErrnoClass::kShedLoad:
        // One line per episode, not one per retry.
        if (!shedding) log_errno("accept", err);
        shedding = true;
        std::this_thread::sleep_for(kShedLoadBackoff);
        continue;
      case ErrnoClass::kBug:
        // Linux fails accept(2) with EINVAL on a listener that is no longer listening, which is what
        // BlockingShutdown's shutdown(2) of the listener does to it.
        if (err == EINVAL) return UniqueFd();
        die_errno("accept", err);
    }
  }
}

void serve_connection(int fd, const SessionConfig& config) {
  Session session(config);
  while (!session.done()) {
    // A blocking send(2) returns once the kernel has taken every byte, so output never waits here for long:
    // while the peer does not read, this thread sits in send and reads nothing more (backpressure).
    IoStatus status;
    if (session.has_output()) {
      status = send_from(fd, session);
    } else if (session.wants_input()) {
      status = receive_into(fd, session);
    } else {
      break;  // not reached: a session that neither sends nor reads is done
    }
    if (status == IoStatus::kClosed) return;
  }
}

void serve_connection(UniqueFd connection, const SessionConfig& config, BlockingShutdown& shutdown) {
  if (!shutdown.add(connection.get())) return;
  serve_connection(connection.get(), config);
  shutdown.remove(connection.get());
}

}  // namespace iomodels
