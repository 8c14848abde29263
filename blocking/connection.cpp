#include "blocking/connection.hpp"

#include <cerrno>
#include <thread>

#include "common/accept.hpp"
#include "common/listener.hpp"
#include "common/socket_io.hpp"

namespace iomodels {

UniqueFd accept_blocking(int listen_fd) {
  for (;;) {
    UniqueFd connection(accept_connection(listen_fd, /*nonblocking=*/false));
    if (connection) return connection;
    // Linux fails accept(2) with EINVAL on a listener that is no longer listening, which is what
    // BlockingShutdown's shutdown(2) of the listener does to it.
    if (errno == EINVAL) return UniqueFd();
    // Out of descriptors: a blocking server has no event that says "a descriptor has been freed", and the listener
    // stays readable (the connection is still in the backlog), so retrying at once would spin at 100% CPU. Other
    // threads or processes go on serving meanwhile and free descriptors as they finish.
    if (accept_failed(errno) == AcceptResult::kShed) std::this_thread::sleep_for(kShedLoadPause);
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
