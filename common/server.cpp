#include "common/server.hpp"

#include <cerrno>

#include "common/errors.hpp"
#include "common/limits.hpp"
#include "common/shutdown.hpp"

namespace iomodels {

Server start_server(int argc, char** argv, const ModelInfo& model, const ListenerConfig& config,
                    const std::function<void(Server&)>& before_banner) {
  init_process_signals();
  Server server;
  server.options = parse_server_options(argc, argv, model);
  server.session = SessionConfig{server.options.mode, server.options.max_body};
  server.listener_config = config;
  raise_open_file_limit();
  // --threads N loops, or --processes N workers, each with a listener of its own on the port.
  const bool several_listeners =
      config.listener_per_thread && (server.options.threads > 1 || server.options.processes > 1);
  server.listener = open_listener(server.options, config.nonblocking, several_listeners);
  // The hook may move the listener into open_listeners(); whoever holds it keeps the descriptor open.
  const int listen_fd = server.listener.get();
  if (before_banner) before_banner(server);
  print_banner(listen_fd);
  return server;
}

std::vector<UniqueFd> open_listeners(Server& server, int n) {
  if (n > 1 && !(server.listener_config.listener_per_thread &&
                 (n == server.options.threads || n == server.options.processes))) {
    die_errno("open_listeners: more listeners than start_server prepared for", EINVAL);
  }
  std::vector<UniqueFd> listeners;
  const int first = server.listener.get();
  listeners.push_back(std::move(server.listener));
  for (int i = 1; i < n; ++i)
    listeners.push_back(open_listener_on_same_port(first, server.listener_config.nonblocking));
  return listeners;
}

}  // namespace iomodels
