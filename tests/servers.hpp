// The servers the integration tests run against: every row of models.txt (harness/models.hpp). A model joins every
// conformance and smoke test by its row there; until its binary exists in $BIN_DIR, its tests skip with
// "bin/NAME not built".
#pragma once
#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

#include "harness/models.hpp"

namespace iomodels::test {

using iomodels::ThreadsFlag;

struct ServerSpec {
  std::string name;               // the binary in $BIN_DIR (a shape's server); a Python server's script
  std::vector<std::string> args;  // this shape's own arguments: epoll runs plain, with --edge and with --threads 2
  std::string label;              // the test-name suffix (letters, digits and '_' only)
  // Clients served at once by design: 0 for no limit but the machine's, 1 for the iterative server, N for a pool
  // (then it is the --threads default, and the tests pass --threads to set it).
  int limit = 0;
  bool limit_is_threads = false;
  ThreadsFlag threads = ThreadsFlag::kRejected;
  bool forks = false;  // serves with child processes: zombies and leftover children are possible
  // A supervising parent with this many long-lived worker processes, each serving many clients (epoll --processes
  // N, from the shape's arguments); 0 otherwise.
  int worker_processes = 0;
  // Run by /usr/bin/python3: name is its script, args follow it. The Python servers (python/) keep the command-line
  // contract and raw echo only: they refuse --mode http and have no --max-conns or --max-body, so the HTTP, wrk/ab
  // and --max-conns tests skip them, saying why.
  bool python = false;
};

inline constexpr const char* kRawOnlySkip = "a Python server (python/): raw echo only, no HTTP mode";
inline constexpr const char* kNoMaxConnsSkip = "a Python server (python/): no --max-conns";

// The processes of an idle server's group: the server, plus a prefork pool's workers or a supervisor's worker
// processes.
inline std::size_t idle_group_size(const ServerSpec& spec) {
  return 1 + static_cast<std::size_t>((spec.forks && spec.limit_is_threads ? spec.limit : 0) + spec.worker_processes);
}

// The iterative server: one client at a time, and no worker count to raise it.
inline bool is_iterative(const ServerSpec& spec) { return spec.limit == 1 && !spec.limit_is_threads; }

const std::vector<ServerSpec>& all_servers();
// The listed servers for which keep(spec) holds.
std::vector<ServerSpec> servers_where(bool (*keep)(const ServerSpec&));

// $BIN_DIR (default "bin") and the binary's path in it; /usr/bin/python3 for a Python server.
std::string bin_dir();
std::string binary_path(const ServerSpec& spec);
// The arguments before the protocol's own: a Python server's script, then the shape's arguments.
std::vector<std::string> spec_args(const ServerSpec& spec);

// gtest prints a test's parameter in failure lines; the label says it all.
void PrintTo(const ServerSpec& spec, std::ostream* out);

}  // namespace iomodels::test
