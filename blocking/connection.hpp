// What the five blocking servers share: accepting on a blocking listener, and serving one connection to its end
// with blocking recv(2) and send(2). The server files differ only in who runs serve_connection: the one thread,
// a thread per connection, a process per connection, a pool of threads, or a pool of processes.
#pragma once
#include "common/fd.hpp"
#include "common/session.hpp"
#include "common/shutdown.hpp"

namespace iomodels {

// Blocks in accept(2) until a connection arrives; the socket is blocking, CLOEXEC and TCP_NODELAY. Retries
// transient errors and backs off briefly on shed-load errors (EMFILE, ENFILE, ENOBUFS, ENOMEM). Returns an empty
// UniqueFd once the listener has been shut down, which only happens when the server is stopping.
UniqueFd accept_blocking(int listen_fd);

// Serves one connection until its session is done or the peer goes: recv, then send everything owed before the
// next recv. The fd is neither registered nor closed: for a forked child, whom SIGTERM simply kills.
void serve_connection(int fd, const SessionConfig& config);

// The same for a server that must stop within a second: the connection is registered with shutdown while it is
// served, so that SIGTERM wakes a recv or send blocked on it, and closed at the end. If shutdown has already
// begun it is closed at once.
void serve_connection(UniqueFd connection, const SessionConfig& config, BlockingShutdown& shutdown);

}  // namespace iomodels
