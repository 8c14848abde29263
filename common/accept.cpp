#include "common/accept.hpp"

#include <atomic>
#include <cerrno>

#include "common/errors.hpp"
#include "common/listener.hpp"

namespace iomodels {

AcceptResult accept_failed(int err) {
  switch (classify_errno(err)) {
    case ErrnoClass::kRetry:
      return AcceptResult::kEmpty;
    case ErrnoClass::kPeerGone:
      // accept(2) reports network errors already pending on the new connection (ENETDOWN, EHOSTUNREACH, ...):
      // that connection is lost, the listener is fine.
      return AcceptResult::kLost;
    case ErrnoClass::kShedLoad: {
      // One line per process, not one per attempt: a server out of descriptors may try thousands of times.
      static std::atomic<bool> logged{false};
      if (!logged.exchange(true)) log_errno("accept (pausing accepts until descriptors free up; logged once)", err);
      return AcceptResult::kShed;
    }
    case ErrnoClass::kBug:
      break;
  }
  die_errno("accept", err);
}

AcceptResult accept_or_shed(int listen_fd, bool nonblocking, UniqueFd& connection) {
  connection.reset(accept_connection(listen_fd, nonblocking));
  return connection ? AcceptResult::kAccepted : accept_failed(errno);
}

}  // namespace iomodels
