#include "common/socket_io.hpp"

#include <sys/socket.h>

#include <cerrno>

#include "common/errors.hpp"

namespace iomodels {
namespace {

IoStatus failed(const char* call, int err) {
  if (err == EAGAIN || err == EWOULDBLOCK) return IoStatus::kWouldBlock;
  return connection_error_is_fatal(call, err) ? IoStatus::kClosed : IoStatus::kProgress;
}

}  // namespace

IoStatus receive_into(int fd, Session& session) {
  const auto space = session.read_buffer();
  const ssize_t n = ::recv(fd, space.data(), space.size(), 0);
  if (n > 0) {
    session.commit_read(static_cast<std::size_t>(n));
    return IoStatus::kProgress;
  }
  if (n == 0) {
    session.receive_eof();
    return IoStatus::kProgress;
  }
  const IoStatus status = failed("recv", errno);
  if (status != IoStatus::kClosed) session.release_read_buffer();
  return status;
}

IoStatus send_from(int fd, Session& session) {
  const auto output = session.pending_output();
  const ssize_t n = ::send(fd, output.data(), output.size(), MSG_NOSIGNAL);
  if (n >= 0) {
    session.consume_output(static_cast<std::size_t>(n));
    return IoStatus::kProgress;
  }
  return failed("send", errno);
}

Transfer transfer(int fd, Session& session, Readiness& readiness, int max_reads) {
  for (;;) {
    bool moved = false;
    if (readiness.can_write && session.has_output()) {
      switch (send_from(fd, session)) {
        case IoStatus::kClosed:
          return Transfer::kClose;
        case IoStatus::kWouldBlock:
          readiness.can_write = false;  // wait until the socket is reported writable
          break;
        case IoStatus::kProgress:
          moved = true;
          break;
      }
    }
    if (readiness.can_read && session.wants_input()) {
      if (max_reads-- == 0) return Transfer::kMore;
      switch (receive_into(fd, session)) {
        case IoStatus::kClosed:
          return Transfer::kClose;
        case IoStatus::kWouldBlock:
          readiness.can_read = false;  // wait for the next bytes to be reported
          break;
        case IoStatus::kProgress:
          moved = true;
          break;
      }
    }
    if (session.done()) return Transfer::kClose;
    if (!moved) return Transfer::kWait;
  }
}

}  // namespace iomodels
