// The model list (models.txt at the top of the repository), compiled into the comparison and the tests: one row
// per server, shape of a server, or Python server. models.txt documents the columns.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace iomodels {

enum class ModelKind { kServer, kShape, kPython };

// What a model does with --threads.
enum class ThreadsFlag {
  kRejected,  // no workers: --threads is a bad option (exit 2)
  kRequired,  // workers or loops: --threads N sets them
  kOptional,  // the protocol lets the model take it or not (io_uring, libevent, libuv)
};

struct ModelRow {
  std::string name;
  ModelKind kind = ModelKind::kServer;
  std::string runs;  // server: main source; shape: the server row it runs; python: the script
  ThreadsFlag threads = ThreadsFlag::kRejected;
  int limit = 0;                  // clients served at once by design; 0 for none but the machine's
  bool limit_is_threads = false;  // limit is the --threads default, and --threads sets it
  bool forks = false;
  std::vector<std::string> libs;
  std::vector<std::string> args;  // a shape's extra arguments

  // The binary in the bin dir that this row starts (a shape starts its server's); empty for a Python server.
  std::string binary() const;
};

// Parses the table's text. A malformed row throws std::invalid_argument naming its line.
std::vector<ModelRow> parse_model_table(std::string_view text);

// models.txt as it was when this program was built.
const std::vector<ModelRow>& model_table();

// The names of the rows of one kind, in the table's order.
std::vector<std::string> model_names(ModelKind kind);

}  // namespace iomodels
