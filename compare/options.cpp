#include "compare/options.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cxxopts.hpp>

#include "client/option_values.hpp"
#include "harness/models.hpp"

namespace iomodels::compare {
namespace {

using loadgen::BadOption;
using loadgen::duration_option;
using loadgen::int_option;
using loadgen::parse_int;
using loadgen::parse_number;
using loadgen::parse_size;
using loadgen::split_list;

std::vector<int> cpu_option(const cxxopts::ParseResult& parsed, const std::string& name,
                            const std::vector<int>& allowed) {
  const std::string text = parsed[name].as<std::string>();
  std::vector<int> cpus = parse_cpu_list(text);
  if (cpus.empty()) throw BadOption{"--" + name + ": '" + text + "' is not a CPU list (e.g. 0 or 0,2-3)"};
  for (int cpu : cpus) {
    if (!std::binary_search(allowed.begin(), allowed.end(), cpu)) {
      throw BadOption{"--" + name + ": CPU " + std::to_string(cpu) + " is not available (allowed: " +
                      format_cpu_list(allowed) + ")"};
    }
  }
  return cpus;
}

bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

// The servers are built beside bin/compare, so a build into another directory (BIN_DIR=bin-san) compares its own
// servers. A program found through PATH has no directory in argv[0]: then bin, as from the top of the tree.
std::string default_bin_dir(const std::string& argv0) {
  const auto slash = argv0.rfind('/');
  if (slash == std::string::npos) return "bin";
  return slash == 0 ? "/" : argv0.substr(0, slash);
}

cxxopts::Options make_options() {
  cxxopts::Options options("compare", "Runs every echo server of the suite under the same loads and compares them.");
  options.custom_help("[options]");
  options.set_width(110);
  auto text = [] { return cxxopts::value<std::string>(); };
  options.add_options()
      ("models", "servers to run, in this order (default: every server in the bin dir, in models.txt's order); "
       "NAME:OPT[:OPT...] runs a variant with those options, a row of its own (epoll:--threads=2)",
       text(), "NAME[:OPT...][,...]")
      ("scenarios", "named loads to run (default: all of " + scenario_names() + ")", text(), "NAME[,NAME...]")
      ("quick", "a short profile: pingpong, busy, light, accept, slow-clients, 2 runs of 0.4 s each, no system-call "
       "pass (under 3 minutes here)")
      ("connections", "custom scenarios: connection counts, one scenario each (with --sizes, --rate)", text(),
       "N[,N...]")
      ("sizes", "custom scenarios: message sizes, one scenario each: 64, 4k, 1M", text(), "BYTES[,BYTES...]")
      ("duration", "measured length of each run (default 800ms; --quick 400ms)", text(), "T")
      ("warmup", "load before each measured window, not counted (default 200ms; --quick 100ms)", text(), "T")
      ("pipeline", "messages in flight per connection", text()->default_value("1"), "N")
      ("rate", "custom scenarios: messages per second in total, open loop (0: closed loop)", text(), "N")
      ("mix", "scenarios whose system calls are counted per message, call by call, in a pass of their own with "
       "perf (default: busy, with --quick none; none: no pass)", text(), "NAME[,NAME...]|none")
      ("http", "HTTP/1.1 keep-alive POSTs instead of raw echo")
      ("wrk", "also drive each server with wrk (-t1 -cN) and report its requests/s and latency")
      ("repeat", "run each model N times per scenario, interleaved; report the median and the min-max interval "
       "(default 3; --quick 2)", text(), "N")
      ("out", "directory for results.json, results.csv, report.md and charts (default: results/<timestamp>)",
       text(), "DIR")
      ("bin", "where the server binaries are (default: the directory this program is in, bin/ after make)",
       text(), "DIR")
      ("server-cpus", "pin the server to these CPUs (default: the first half of the machine's)", text(),
       "LIST")
      ("client-cpus", "pin the load generator to these CPUs (default: the other half)", text(), "LIST")
      ("syscalls", "also count system calls in every timed window with perf stat (slows them a little)")
      ("net", "the path between load generator and server: loopback, or veth (the server in a network namespace "
              "of its own behind a veth pair; needs root)", text()->default_value("loopback"), "PATH")
      ("python", "also run the Python tutorials' servers (py-threading, py-forking, py-pool, py-selectors, "
                 "py-asyncio, py-gevent), after the others; they are raw echo only")
      ("h,help", "print this help");
  return options;
}

constexpr const char* kHelpTail =
    "\nScenarios (the default matrix):\n"
    "  pingpong      1 connection, 64 B, closed loop: round-trip latency\n"
    "  busy          50 connections, 64 B, closed loop: CPU per message at saturation\n"
    "  idle-10k      50 active beside 10,000 idle connections: O(ready) against O(n)\n"
    "  light         2,000 msgs/s over 50 connections, open loop: what a mostly idle server costs\n"
    "  accept        a new connection per message, 20 at a time: the cost of a connection\n"
    "  bulk          50 connections, 64 KiB messages: MB/s and CPU per MB\n"
    "  slow-clients  10 active beside 500 that send one byte every 100 ms: starved pools\n"
    "\nEach run starts the server afresh with --port 0 (and the variant's options), waits for its banner (3 s),\n"
    "runs the load, measures the server's CPU time, memory, threads and context switches from /proc and the\n"
    "load generator's own CPU use, then stops it with SIGTERM (it must exit 0 within 2 s). Within a scenario\n"
    "the runs go round the models, repeat after repeat.\n"
    "\nExamples:\n"
    "  compare                                         every model, every scenario, 3 runs each\n"
    "  compare --quick                                 a short profile\n"
    "  compare --models epoll,poll --scenarios idle-10k two models, one scenario\n"
    "  compare --models io_uring,io_uring:--single-shot,epoll:--threads=2 --scenarios busy\n"
    "  compare --connections 1,50 --sizes 64,16k       custom scenarios instead of the named ones\n"
    "  compare --models epoll,blocking-threads --python the Python servers beside two C++ ones\n"
    "\nExit status: 0 when the run completed (failed servers are reported, not fatal), 1 when results could\n"
    "not be written, 2 on bad usage.\n";

}  // namespace

const std::vector<std::string>& quick_scenario_names() {
  static const std::vector<std::string> names{"pingpong", "busy", "light", "accept", "slow-clients"};
  return names;
}

const std::vector<std::string>& known_models() {
  static const std::vector<std::string> models = model_names(ModelKind::kServer);
  return models;
}

const std::vector<std::string>& python_models() {
  static const std::vector<std::string> models = model_names(ModelKind::kPython);
  return models;
}

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
  return cpus;
}

void default_cpu_split(const std::vector<int>& allowed, std::vector<int>& server, std::vector<int>& client) {
  server.clear();
  client.clear();
  if (allowed.size() < 2) return;
  const std::size_t half = allowed.size() / 2;
  server.assign(allowed.begin(), allowed.begin() + static_cast<std::ptrdiff_t>(half));
  client.assign(allowed.begin() + static_cast<std::ptrdiff_t>(half), allowed.end());
}

std::vector<int> parse_cpu_list(const std::string& text) {
  std::vector<int> cpus;
  for (const std::string& item : split_list(text)) {
    const auto dash = item.find('-');
    int first = 0;
    int last = 0;
    if (dash == std::string::npos) {
      if (!parse_int(item, first)) return {};
      last = first;
    } else if (!parse_int(std::string_view(item).substr(0, dash), first) ||
               !parse_int(std::string_view(item).substr(dash + 1), last)) {
      return {};
    }
    if (first < 0 || last < first || last >= CPU_SETSIZE) return {};
    for (int cpu = first; cpu <= last; ++cpu) cpus.push_back(cpu);
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

std::string format_cpu_list(const std::vector<int>& cpus) {
  std::string text;
  for (std::size_t i = 0; i < cpus.size(); ++i) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!text.empty()) text += ',';
    text += std::to_string(cpus[i]);
    if (j > i) text += '-' + std::to_string(cpus[j]);
    i = j;
  }
  return text;
}

ParsedCommandLine parse_compare_command_line(int argc, const char* const* argv) {
  ParsedCommandLine result;
  cxxopts::Options options = make_options();
  const auto read = [&](const cxxopts::ParseResult& parsed) {
    CompareOptions& o = result.options;
    if (parsed.count("bin")) {
      o.bin_dir = parsed["bin"].as<std::string>();
      if (o.bin_dir.empty()) throw BadOption{"--bin: needs a directory"};
    } else {
      o.bin_dir = default_bin_dir(argc > 0 ? argv[0] : "");
    }

    if (parsed.count("models")) {
      const auto& known = known_models();
      for (const std::string& name : split_list(parsed["models"].as<std::string>())) {
        const ModelVariant variant = parse_model_variant(name);
        // A name outside the table is accepted when the bin dir has it, so other binaries (the tests' fakes,
        // a variant being tried) can be compared too; a typo is caught here rather than reported as a failure.
        const bool is_known = std::find(known.begin(), known.end(), variant.binary) != known.end();
        if (variant.binary.empty() || variant.binary.find('/') != std::string::npos ||
            (!is_known && !executable(o.bin_dir + "/" + variant.binary))) {
          throw BadOption{"--models: '" + variant.binary + "' is neither a model of the suite nor a program in " +
                          o.bin_dir};
        }
        for (const std::string& arg : variant.args) {
          if (arg.empty()) throw BadOption{"--models: '" + name + "' has an empty option (NAME:OPT[:OPT...])"};
        }
        if (std::find(o.models.begin(), o.models.end(), name) == o.models.end()) o.models.push_back(name);
      }
    }

    o.quick = parsed.count("quick") > 0;
    o.http = parsed.count("http") > 0;
    const bool custom = parsed.count("connections") || parsed.count("sizes") || parsed.count("rate");
    if (parsed.count("connections")) {
      o.connections.clear();
      for (const std::string& item : split_list(parsed["connections"].as<std::string>())) {
        int count = 0;
        if (!parse_int(item, count) || count < 1) {
          throw BadOption{"--connections: '" + item + "' is not a connection count of at least 1"};
        }
        o.connections.push_back(count);
      }
    } else if (custom) {
      o.connections = {50};
    }
    if (parsed.count("sizes")) {
      o.sizes.clear();
      for (const std::string& item : split_list(parsed["sizes"].as<std::string>())) {
        const auto size = parse_size(item);
        if (!size || (*size == 0 && !o.http)) {
          throw BadOption{"--sizes: '" + item + "' is not a size of at least 1 byte (0 only with --http)"};
        }
        o.sizes.push_back(*size);
      }
    }
    if (parsed.count("rate")) {
      const std::string rate_text = parsed["rate"].as<std::string>();
      const auto rate = parse_number(rate_text);
      if (!rate || *rate < 0) {
        throw BadOption{"--rate: '" + rate_text + "' is not a rate of 0 or more messages per second"};
      }
      o.rate = *rate;
    }
    std::vector<std::string> names;
    if (parsed.count("scenarios")) {
      names = split_list(parsed["scenarios"].as<std::string>());
    } else if (!custom) {
      if (o.quick) {
        names = quick_scenario_names();
      } else {
        for (const Scenario& s : named_scenarios()) names.push_back(s.name);
      }
    }
    for (const std::string& name : names) {
      const auto scenario = find_scenario(name);
      if (!scenario) throw BadOption{"--scenarios: '" + name + "' is not a scenario (" + scenario_names() + ")"};
      const bool seen = std::any_of(o.scenarios.begin(), o.scenarios.end(),
                                    [&](const Scenario& s) { return s.name == name; });
      if (!seen) o.scenarios.push_back(*scenario);
    }
    if (custom) {
      for (std::size_t size : o.sizes) {
        for (int connections : o.connections) o.scenarios.push_back(custom_scenario(connections, size, o.rate));
      }
    }
    // --quick leaves out the system-call pass (about 40 s) unless --mix asks for it.
    if (o.quick) o.mix_scenarios.clear();
    if (parsed.count("mix")) {
      o.mix_scenarios.clear();
      const std::string text = parsed["mix"].as<std::string>();
      if (text != "none") {
        for (const std::string& name : split_list(text)) {
          if (!find_scenario(name)) throw BadOption{"--mix: '" + name + "' is not a scenario (" + scenario_names() +
                                                    ", or none)"};
          o.mix_scenarios.push_back(name);
        }
      }
    }
    o.duration = parsed.count("duration") ? duration_option(parsed, "duration", false)
                                          : std::chrono::nanoseconds(o.quick ? kQuickDuration : kDefaultDuration);
    o.warmup = parsed.count("warmup") ? duration_option(parsed, "warmup", true)
                                      : std::chrono::nanoseconds(o.quick ? kQuickWarmup : kDefaultWarmup);
    o.pipeline = int_option(parsed, "pipeline", 1);
    o.repeat = parsed.count("repeat") ? int_option(parsed, "repeat", 1) : (o.quick ? kQuickRepeat : kDefaultRepeat);
    // An explicit --repeat applies to every scenario, idle-10k included.
    if (parsed.count("repeat")) {
      for (Scenario& s : o.scenarios) s.repeat = 0;
    }
    o.wrk = parsed.count("wrk") > 0;
    o.syscalls = parsed.count("syscalls") > 0;
    o.net = parsed["net"].as<std::string>();
    if (o.net != "loopback" && o.net != "veth") throw BadOption{"--net: '" + o.net + "' is not loopback or veth"};
    o.python = parsed.count("python") > 0;
    if (parsed.count("out")) {
      o.out_dir = parsed["out"].as<std::string>();
      if (o.out_dir.empty()) throw BadOption{"--out: needs a directory"};
    }

    const std::vector<int> allowed = allowed_cpus();
    default_cpu_split(allowed, o.server_cpus, o.client_cpus);
    if (parsed.count("server-cpus")) o.server_cpus = cpu_option(parsed, "server-cpus", allowed);
    if (parsed.count("client-cpus")) o.client_cpus = cpu_option(parsed, "client-cpus", allowed);
  };
  result.error = loadgen::parse_options("compare", options, kHelpTail, argc, argv, result.help_text, read);
  result.help = !result.help_text.empty();
  return result;
}

}  // namespace iomodels::compare
