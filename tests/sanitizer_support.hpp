// What the tests adapt when the binaries carry a sanitizer: the Makefile sets IOMODELS_SANITIZER to $(SAN).
#pragma once
#include <string>

#include "tests/servers.hpp"

namespace iomodels::test {

// True when IOMODELS_SANITIZER lists name ("thread", "address", ...).
bool built_with_sanitizer(const std::string& name);

// Under ThreadSanitizer only the servers with threads of their own run: blocking-threads, blocking-pool and every
// --threads shape. The others have one thread (or one per process), so TSan has no race to look for in them, and
// its 5-15x slowdown would only cost CI time; aio's threads are glibc's, which TSan does not instrument, so its
// reports there would be about glibc, not about the server. Returns why spec is skipped, or "" to run it.
std::string sanitizer_skip_reason(const ServerSpec& spec);

}  // namespace iomodels::test
