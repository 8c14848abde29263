#include "common/errors.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace iomodels {
namespace {
std::string& log_prefix() {
  static std::string prefix = "iomodels";
  return prefix;
}
}  // namespace

void set_log_prefix(std::string_view name) { log_prefix() = std::string(name); }

ErrnoClass classify_errno(int err) {
  switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
    case ECONNABORTED:
    // accept(2): "Linux accept() passes already-pending network errors on the new socket as an error code";
    // the man page says to treat these like EAGAIN and retry.
    case EPROTO:
    case ENONET:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return ErrnoClass::kRetry;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return ErrnoClass::kShedLoad;
    case ECONNRESET:
    case EPIPE:
    case ETIMEDOUT:
    case ENOTCONN:
    case EHOSTUNREACH:
    case ENETDOWN:
    case ENETRESET:
    case ESHUTDOWN:
    case ECONNREFUSED:
      return ErrnoClass::kPeerGone;
    default:
      return ErrnoClass::kBug;
  }
}

std::string errno_message(std::string_view call, int err) {
  std::string text(call);
  text += ": ";
  text += std::strerror(err);
  return text;
}

void log_message(std::string_view text) {
  std::fprintf(stderr, "%s: %.*s\n", log_prefix().c_str(), static_cast<int>(text.size()), text.data());
}

void log_errno(std::string_view call, int err) { log_message(errno_message(call, err)); }

void die_errno(std::string_view call, int err) {
  log_errno(call, err);
  std::abort();
}

void fail(std::string_view message, int exit_status) {
  std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
  std::exit(exit_status);
}

bool connection_error_is_fatal(std::string_view call, int err) {
  switch (classify_errno(err)) {
    case ErrnoClass::kRetry:
      return false;
    case ErrnoClass::kShedLoad:
      log_errno(call, err);
      return false;
    case ErrnoClass::kPeerGone:
      return true;
    case ErrnoClass::kBug:
      break;
  }
  die_errno(call, err);
}

}  // namespace iomodels
