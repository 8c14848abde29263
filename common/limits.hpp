// Every limit of the protocol, defined once with its default. docs/PROTOCOL.md states them; flags override some.
#pragma once
#include <cstddef>

namespace iomodels {

// Past this much unsent output a connection is not read from until the peer reads (docs/PROTOCOL.md, backpressure).
inline constexpr std::size_t kMaxPendingOutput = 1 << 20;
// The largest single read a session asks for. Large enough for bulk echo, small enough to keep the bound above tight.
inline constexpr std::size_t kReadChunk = 64 * 1024;
// HTTP: a header section (request line included) over this gets 431.
inline constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
// HTTP: default for --max-body; a larger body gets 413.
inline constexpr std::size_t kDefaultMaxBody = 1 << 20;
// Default for --port.
inline constexpr int kDefaultPort = 7000;
// listen(2) backlog; the kernel caps it at net.core.somaxconn.
inline constexpr int kListenBacklog = 4096;

// Raises the soft RLIMIT_NOFILE to the hard limit (allowed without privilege, setrlimit(2)): the usual soft limit
// of 1024 would cap every model, and the load generator, at about a thousand connections, which is a shell
// default, not a model's limit. A lowered hard limit (prlimit --nofile=64:64) stays in force.
void raise_open_file_limit();

}  // namespace iomodels
