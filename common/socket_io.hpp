// One recv or one send between a socket and its session, with the errno classification applied.
// Readiness models (nonblocking, select, poll, epoll, sigio) and the blocking ones share these.
#pragma once
#include "common/session.hpp"

namespace iomodels {

enum class IoStatus {
  kProgress,    // bytes moved, or the peer's EOF passed to the session: check session.done()
  kWouldBlock,  // EAGAIN: wait for readiness
  kClosed,      // the peer reset or the connection failed: close it
};

// One recv(2) into session.read_buffer(). Call only while session.wants_input().
IoStatus receive_into(int fd, Session& session);
// One send(2) of session.pending_output() with MSG_NOSIGNAL. Call only while session.has_output().
IoStatus send_from(int fd, Session& session);

}  // namespace iomodels
