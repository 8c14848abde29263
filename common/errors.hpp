// The errno classification (docs/DESIGN.md, "Errors"), made once, and the messages that name the failing call.
#pragma once
#include <string>
#include <string_view>

namespace iomodels {

enum class ErrnoClass {
  kRetry,     // EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED: try again (later, when ready)
  kShedLoad,  // EMFILE, ENFILE, ENOBUFS, ENOMEM: keep serving what we have; do not spin
  kPeerGone,  // ECONNRESET, EPIPE, ETIMEDOUT, ENOTCONN, EHOSTUNREACH, ...: close quietly
  kBug,       // EBADF, EINVAL, EFAULT, ENOTSOCK, ...: our mistake; abort with a message
};

ErrnoClass classify_errno(int err);

// "CALL: strerror(err)".
std::string errno_message(std::string_view call, int err);

// Prints "iomodels: <model>: CALL: strerror(err)" style lines on stderr.
void log_errno(std::string_view call, int err);
void log_message(std::string_view text);

// For kBug errors and impossible states: prints the call and errno, then aborts.
[[noreturn]] void die_errno(std::string_view call, int err);
// Start-up failures: prints the message and exits with the given status.
[[noreturn]] void fail(std::string_view message, int exit_status = 1);

// Handles an errno from a call on one connection: returns true when the connection should be closed
// (peer gone), false to retry; dies on a bug. Shed-load errors are logged once and count as retry.
bool connection_error_is_fatal(std::string_view call, int err);

// Sets the program name used as the prefix of log lines.
void set_log_prefix(std::string_view name);

}  // namespace iomodels
