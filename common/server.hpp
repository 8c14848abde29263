// Everything a server does before its loop, in one call: signals, options, listener, banner.
#pragma once
#include "common/fd.hpp"
#include "common/listener.hpp"
#include "common/options.hpp"
#include "common/session.hpp"

namespace iomodels {

struct Server {
  ServerOptions options;
  SessionConfig session;  // what every connection's Session is built with
  UniqueFd listener;
};

// init_process_signals(), parse_server_options(), raise_open_file_limit(), open_listener(); prints the banner
// only after the listener accepts connections (listen(2) has returned). Exits 0 after --help, 2 on a bad option, 1 when binding fails.
Server start_server(int argc, char** argv, const ModelInfo& model, const ListenerConfig& config = {});

// --max-conns: true when one more connection would exceed the limit (0 means no limit but the model's own).
inline bool over_connection_limit(const ServerOptions& options, std::size_t open_connections) {
  return options.max_conns != 0 && open_connections >= options.max_conns;
}

}  // namespace iomodels
