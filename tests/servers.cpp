#include "tests/servers.hpp"

#include <cstdlib>
#include <ostream>

namespace iomodels::test {
namespace {

std::vector<ServerSpec> make_list() {
  std::vector<ServerSpec> list;
  for (const ModelRow& row : model_table()) {
    ServerSpec spec;
    spec.python = row.kind == ModelKind::kPython;
    spec.name = spec.python ? row.runs : row.binary();
    spec.args = row.args;
    spec.label = row.name;
    for (char& c : spec.label) {
      if (c == '-') c = '_';
    }
    spec.limit = row.limit;
    spec.limit_is_threads = row.limit_is_threads;
    spec.threads = row.threads;
    spec.forks = row.forks;
    for (std::size_t i = 0; i + 1 < spec.args.size(); ++i) {
      if (spec.args[i] == "--processes") spec.worker_processes = std::atoi(spec.args[i + 1].c_str());
    }
    list.push_back(std::move(spec));
  }
  return list;
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

std::string binary_path(const ServerSpec& spec) {
  return spec.python ? "/usr/bin/python3" : bin_dir() + "/" + spec.name;
}

std::vector<std::string> spec_args(const ServerSpec& spec) {
  std::vector<std::string> args;
  if (spec.python) args.push_back(spec.name);
  args.insert(args.end(), spec.args.begin(), spec.args.end());
  return args;
}

void PrintTo(const ServerSpec& spec, std::ostream* out) { *out << spec.label; }

}  // namespace iomodels::test
