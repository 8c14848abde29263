// Accepting a connection and shedding load when descriptors run out: the one policy every server follows
// (docs/PROTOCOL.md, "Faults"). A server keeps only its own way of pausing: unwatching the listener, a timer, a sleep.
#pragma once
#include <chrono>
#include <utility>

#include "common/fd.hpp"

namespace iomodels {

// How many connections a loop accepts per round at most, so that a flood of connects cannot starve the open ones.
inline constexpr int kAcceptsPerRound = 64;

// Out of descriptors (EMFILE, ENFILE) or memory: how long a server stops accepting unless a connection closes first.
// The pending connection stays in the backlog, so a listener watched for readiness would be reported again at once,
// round after round; pausing keeps the server from spinning while it goes on serving what it has.
inline constexpr std::chrono::milliseconds kShedLoadPause{100};

enum class AcceptResult {
  kAccepted,  // the new connection is in the UniqueFd
  kEmpty,     // EAGAIN, EINTR, ECONNABORTED: nothing (more) to accept now
  kLost,      // the connection failed before it was accepted (reset, unreachable): try the next one
  kShed,      // out of descriptors or memory: stop accepting for kShedLoadPause or until a connection closes
};

// Classifies the errno of a failed accept, whichever way it came (accept(2), an io_uring completion, a libuv
// status, an Asio error code). kShed is logged once per process; a bug (EBADF, EINVAL...) aborts with the errno.
AcceptResult accept_failed(int err);

// accept_connection() (accept4, CLOEXEC, TCP_NODELAY) classified by accept_failed().
AcceptResult accept_or_shed(int listen_fd, bool nonblocking, UniqueFd& connection);

// One round of accepting on a non-blocking listener, for the loops that accept when told the listener is ready:
// accepts until the backlog is empty, at most kAcceptsPerRound, and hands each connection to take(UniqueFd).
// Returns kEmpty when the backlog is empty, kShed when descriptors ran out (the caller pauses in its own way), and
// kAccepted when it stopped at the bound with connections perhaps still waiting.
template <class Take>
AcceptResult accept_round(int listen_fd, Take take) {
  for (int i = 0; i < kAcceptsPerRound; ++i) {
    UniqueFd connection;
    switch (const AcceptResult result = accept_or_shed(listen_fd, /*nonblocking=*/true, connection)) {
      case AcceptResult::kAccepted:
        take(std::move(connection));
        break;
      case AcceptResult::kLost:
        break;
      case AcceptResult::kEmpty:
      case AcceptResult::kShed:
        return result;
    }
  }
  return AcceptResult::kAccepted;
}

}  // namespace iomodels
