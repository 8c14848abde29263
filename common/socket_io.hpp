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

// What a readiness loop knows about one socket: reported readable / writable, and no EAGAIN since.
struct Readiness {
  bool can_read = false;
  bool can_write = true;  // a new socket has room in its send buffer
};

enum class Transfer {
  kClose,  // the peer is gone or the session is done: close the connection
  kWait,   // every call that was allowed would block, or the session wants nothing: wait for readiness
  kMore,   // max_reads reads were made and there may be more to read: give the connection another turn
};

// Sends what is owed and reads what is there, as readiness allows, until each would block (clearing the flag that
// allowed it) or max_reads reads have been made. Sending first resumes a connection that stopped reading under
// backpressure as soon as its output drains, since the bytes already waiting in the socket will not be reported
// again by an edge-triggered or signal-driven notification.
Transfer transfer(int fd, Session& session, Readiness& readiness, int max_reads);

}  // namespace iomodels
