// Everything a server does before its loop, in one call: signals, options, listener, banner.
#pragma once
#include <functional>
#include <vector>

#include "common/fd.hpp"
#include "common/listener.hpp"
#include "common/options.hpp"
#include "common/session.hpp"

namespace iomodels {

struct Server {
  ServerOptions options;
  SessionConfig session;  // what every connection's Session is built with
  UniqueFd listener;
  ListenerConfig listener_config;
};

// init_process_signals(), parse_server_options(), raise_open_file_limit(), open_listener(); then before_banner, when
// given (for what must exist before the server may say it listens: rings, worker processes); prints the banner last,
// once the listener accepts connections. With config.listener_per_thread and --threads N > 1 (or --processes N > 1)
// the listener gets SO_REUSEPORT, so that open_listeners() can add the others. Exits 0 after --help, 2 on a bad option, 1 when
// binding fails.
Server start_server(int argc, char** argv, const ModelInfo& model, const ListenerConfig& config = {},
                    const std::function<void(Server&)>& before_banner = {});

// n listeners on the server's port, server.listener first (moved out): one per event loop (or per worker process).
// n > 1 needs config.listener_per_thread and n == --threads (or --processes), which gave the first SO_REUSEPORT.
std::vector<UniqueFd> open_listeners(Server& server, int n);

// --max-conns: true when one more connection would exceed the limit (0 means no limit but the model's own).
inline bool over_connection_limit(const ServerOptions& options, std::size_t open_connections) {
  return options.max_conns != 0 && open_connections >= options.max_conns;
}

}  // namespace iomodels
