#include "tests/servers.hpp"

#include <cstdlib>
#include <ostream>

namespace iomodels::test {
namespace {

ServerSpec spec(std::string name, ThreadsFlag threads, std::vector<std::string> args = {}, std::string variant = {}) {
  ServerSpec result;
  result.name = std::move(name);
  result.args = std::move(args);
  result.threads = threads;
  result.label = result.name;
  for (char& c : result.label) {
    if (c == '-') c = '_';
  }
  if (!variant.empty()) result.label += "_" + variant;
  return result;
}

ServerSpec limited(ServerSpec result, int limit, bool is_threads) {
  result.limit = limit;
  result.limit_is_threads = is_threads;
  return result;
}

ServerSpec forking(ServerSpec result) {
  result.forks = true;
  return result;
}

ServerSpec raw_only(ServerSpec result) {
  result.raw_only = true;
  return result;
}

std::vector<ServerSpec> make_list() {
  using enum ThreadsFlag;
  // Pools default to 5 workers, as the Python seeds' ThreadPoolExecutor(5).
  constexpr int kPoolDefault = 5;
  return {
      limited(spec("blocking", kRejected), 1, false),
      spec("blocking-threads", kRejected),
      forking(spec("blocking-fork", kRejected)),
      limited(spec("blocking-pool", kRequired), kPoolDefault, true),
      forking(limited(spec("blocking-prefork", kRequired), kPoolDefault, true)),
      spec("nonblocking", kRejected),
      spec("select", kRejected),
      spec("poll", kRejected),
      spec("epoll", kRequired),
      spec("epoll", kRequired, {"--edge"}, "edge"),
      spec("epoll", kRequired, {"--threads", "2"}, "threads2"),
      spec("sigio", kRejected),
      spec("aio", kRejected),
      spec("io_uring", kOptional),
      spec("io_uring", kOptional, {"--single-shot"}, "single_shot"),
      spec("io_uring", kOptional, {"--threads", "2"}, "threads2"),
      spec("libevent", kOptional),
      spec("libevent", kOptional, {"--threads", "2"}, "threads2"),
      spec("libuv", kOptional),
      spec("coroutine", kRequired),
      spec("coroutine", kRequired, {"--threads", "2"}, "threads2"),
      // The Python tutorials' servers, run by bin/py-* launchers (Makefile). ForkingTCPServer serves at most
      // socketserver's max_children (40) clients at once; ThreadPoolExecutor(5) takes --threads.
      raw_only(spec("py-threading", kRejected)),
      raw_only(forking(limited(spec("py-forking", kRejected), 40, false))),
      raw_only(limited(spec("py-pool", kRequired), kPoolDefault, true)),
      raw_only(spec("py-selectors", kRejected)),
      raw_only(spec("py-asyncio", kRejected)),
      raw_only(spec("py-gevent", kRejected)),
  };
}

}  // namespace

const std::vector<ServerSpec>& all_servers() {
  static const std::vector<ServerSpec> servers = make_list();
  return servers;
}

std::vector<ServerSpec> servers_where(bool (*keep)(const ServerSpec&)) {
  std::vector<ServerSpec> kept;
  for (const auto& server : all_servers()) {
    if (keep(server)) kept.push_back(server);
  }
  return kept;
}

std::string bin_dir() {
  const char* dir = std::getenv("BIN_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "bin";
}

std::string binary_path(const ServerSpec& spec) { return bin_dir() + "/" + spec.name; }

void PrintTo(const ServerSpec& spec, std::ostream* out) { *out << spec.label; }

}  // namespace iomodels::test
