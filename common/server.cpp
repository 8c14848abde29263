#include "common/server.hpp"

#include "common/limits.hpp"
#include "common/shutdown.hpp"

namespace iomodels {

Server start_server(int argc, char** argv, const ModelInfo& model, const ListenerConfig& config) {
  init_process_signals();
  Server server;
  server.options = parse_server_options(argc, argv, model);
  server.session = SessionConfig{server.options.mode, server.options.max_body};
  raise_open_file_limit();
  server.listener = open_listener(server.options, config);
  print_banner(server.listener.get());
  return server;
}

}  // namespace iomodels
