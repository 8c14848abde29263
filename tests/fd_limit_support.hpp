// Helpers for the tests of the single-threaded readiness models (nonblocking, select, poll) that play with
// descriptor limits: more connections than FD_SETSIZE, and a server squeezed until accept(2) fails with EMFILE.
#pragma once
#include <sys/resource.h>
#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "harness/server_process.hpp"
#include "tests/server_fixture.hpp"
#include "tests/test_support.hpp"

namespace iomodels::test {

// Raises this process's soft RLIMIT_NOFILE to at least want (up to the hard limit). False when the hard limit
// is lower than want.
bool ensure_own_fd_limit(rlim_t want);

// The descriptors the process has open now, from /proc/<pid>/fd.
std::vector<int> open_fds(pid_t pid);

// Lowers the process's RLIMIT_NOFILE (soft and hard, with prlimit(2)) so that exactly free_slots more descriptors
// can be opened: the lowest number that accept(2) would hand out must stay below the limit (getrlimit(2)).
bool leave_free_fds(pid_t pid, std::size_t free_slots);

// CPU time the process has used so far (user + system), in milliseconds, from /proc/<pid>/stat.
long cpu_millis(pid_t pid);

// The scenario every one of these models must pass: with room for three connections only, three clients are
// served, two more wait (not closed, not echoed) while the server keeps serving the three, and each of the two is
// served as soon as one of the first three leaves. may_spin: the busy loop may burn CPU while out of descriptors
// (it always does); the others must sleep. Ends with SIGTERM and exit 0.
void check_recovers_from_emfile(const std::string& model, bool may_spin);

}  // namespace iomodels::test
