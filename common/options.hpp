// Shared command-line options of every server (docs/PROTOCOL.md, "Start, stop, options").
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "common/limits.hpp"

namespace iomodels {

enum class Mode { kAuto, kEcho, kHttp };

// What a server binary tells the option parser about itself.
struct ModelInfo {
  std::string name{};          // binary name, e.g. "epoll"
  std::string summary{};       // one line: how the model waits
  std::string limit{};         // the model's inherent limit, shown in --help; empty when it has none
  int default_threads = 0;     // > 0: the model accepts --threads with this default; 0: --threads is rejected
  std::string threads_help{};  // what --threads means for this model
  std::string processes_help{};  // non-empty: the model takes --processes N (default 1), and what it means
  // Model-specific boolean flags, e.g. {"edge", "edge-triggered epoll"}.
  struct Flag {
    std::string name;
    std::string help;
  };
  std::vector<Flag> flags{};
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = kDefaultPort;
  Mode mode = Mode::kAuto;
  std::size_t max_body = kDefaultMaxBody;
  std::size_t max_conns = 0;  // 0: no limit but the model's own
  int threads = 0;            // the model's default when it takes --threads, else 0
  int processes = 1;          // --processes, for the models that take it
  std::vector<std::string> flags_set;  // names of the model-specific flags given

  bool flag(const std::string& name) const;
};

// Parses argv. --help prints usage to stdout and exits 0; a bad option or value prints one line on stderr
// naming it and exits 2.
ServerOptions parse_server_options(int argc, char** argv, const ModelInfo& model);

}  // namespace iomodels
