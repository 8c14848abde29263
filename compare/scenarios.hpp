// The named loads of a comparison, each chosen to show a property of the models (compare/README.md has the
// table), and how one is written as the bin/loadgen command that reproduces it by hand.
#pragma once
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace iomodels::compare {

// What a scenario's summary cell shows and how its models are ranked first.
enum class KeyFigure {
  kMessagesPerSecond,   // round trips or messages per second (higher is better)
  kCpuPerMessage,       // server CPU µs per message (lower is better)
  kCpuShare,            // server CPU as a share of one core at a fixed rate (lower is better)
  kCpuPerConnection,    // server CPU µs per connection, one message each (lower is better)
  kCpuPerMegabyte,      // server CPU µs per MB echoed (lower is better)
};

struct Scenario {
  std::string name;  // "busy"; a custom one is named after its load, "50c-64B"
  int connections = 1;          // the active, measured ones
  std::size_t size = 64;
  double rate = 0;              // messages per second in total; 0 is a closed loop
  bool connect_per_message = false;
  int idle = 0;                 // held open beside the active ones, never sending
  int slow = 0;                 // held beside them, one byte per slow_interval, never finishing a message
  std::chrono::nanoseconds slow_interval{std::chrono::milliseconds(100)};
  std::string shows;            // one line: what it shows
  KeyFigure key = KeyFigure::kCpuPerMessage;
  // Runs per model; 0: CompareOptions::repeat. idle-10k runs fewer by default: its set-up (10,000 threads or
  // processes for some models) costs up to half a minute per run on a shared 2-CPU machine.
  int repeat = 0;

  bool open_loop() const { return rate > 0; }
};

// pingpong, busy, idle-10k, light, accept, bulk, slow-clients: the default matrix, in this order.
const std::vector<Scenario>& named_scenarios();
std::optional<Scenario> find_scenario(const std::string& name);
// "pingpong, busy, ..." for messages.
std::string scenario_names();

// A scenario of the custom options (--connections, --sizes, --rate), named after its load.
Scenario custom_scenario(int connections, std::size_t size, double rate);

// "1 conn, 64 B", "50 conns, 64 B, 10,000 idle", "20 conns, 64 B, a connection per message", ...
std::string describe_load(const Scenario& scenario);

// The bin/loadgen command that drives a server (at HOST:PORT) with this scenario's load by hand.
std::string loadgen_command(const Scenario& scenario, std::chrono::nanoseconds duration,
                            std::chrono::nanoseconds warmup, bool http);

// A model with options: "epoll:--threads=2" runs bin/epoll with --threads=2, "io_uring:--single-shot:--x" with
// both flags. The part before the first ':' is the binary; each further ':'-separated part is one argument.
struct ModelVariant {
  std::string label;   // as written, the row's name
  std::string binary;  // "epoll"
  std::vector<std::string> args;
};
ModelVariant parse_model_variant(const std::string& label);

}  // namespace iomodels::compare
