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

}  // namespace iomodels
