#include "common/limits.hpp"

#include <sys/resource.h>

#include <cerrno>

#include "common/errors.hpp"

namespace iomodels {

void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) die_errno("getrlimit RLIMIT_NOFILE", errno);
  if (limit.rlim_cur == limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) log_errno("setrlimit RLIMIT_NOFILE", errno);
}

}  // namespace iomodels
