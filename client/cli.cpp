#include "client/cli.hpp"

#include <cxxopts.hpp>
#include <thread>

#include "client/endpoint.hpp"
#include "client/option_values.hpp"
#include "client/segment.hpp"

namespace iomodels::loadgen {
namespace {

cxxopts::Options make_options() {
  cxxopts::Options options("loadgen",
                           "Drives an echo server (raw TCP or HTTP/1.1) and reports throughput and latency.");
  options.custom_help("[options]");
  options.positional_help("HOST:PORT");
  auto text = [] { return cxxopts::value<std::string>(); };
  options.add_options()
      ("c,connections", "connections kept open", text()->default_value("50"), "N")
      ("idle", "connections held open without traffic beside the active ones", text()->default_value("0"), "N")
      ("connect-rate", "open connections at most this many per second (0: all at once)",
       text()->default_value("0"), "N")
      ("t,threads", "worker threads, each with its own epoll loop (default: number of CPUs)", text(), "N")
      ("d,duration", "measured length of the run: 500ms, 10s, 2m", text()->default_value("10s"), "T")
      ("warmup", "run this long first, not counted", text()->default_value("1s"), "T")
      ("s,size", "bytes per message (the HTTP body; 0 with --http sends GET)", text()->default_value("64"), "BYTES")
      ("pipeline", "messages in flight per connection", text()->default_value("1"), "N")
      ("R,rate", "messages per second in total, open loop (0: closed loop)", text()->default_value("0"), "N")
      ("connect-per-message", "a new connection for every message (measures the accept path)")
      ("idle-first", "open the --idle connections first, from a thread of their own, and start once the server "
       "has accepted them (each echoes one byte); not with --connect-rate")
      ("slow", "also hold N connections that send one byte per --slow-interval and never finish a message",
       text()->default_value("0"), "N")
      ("slow-interval", "how often each --slow connection sends its byte", text()->default_value("100ms"), "T")
      ("http", "HTTP/1.1 keep-alive requests, responses parsed and checked")
      ("no-verify", "do not compare the echoed bytes with those sent")
      ("timeout", "a message unanswered this long is a timeout", text()->default_value("5s"), "T")
      ("bind", "source addresses to connect from, used in turn", text(), "ADDR[,ADDR...]")
      ("cpus", "pin worker threads to these CPUs", text(), "N[,N...]")
      ("json", "write every figure as JSON to FILE (- for standard output)", text(), "FILE")
      ("hdr-log", "write an HdrHistogram interval log (.hlog) of the latencies to FILE", text(), "FILE")
      ("hdr-interval", "length of one interval of --hdr-log", text()->default_value("1s"), "T")
      ("segment", "run share I of N of the connections and the rate (one instance per host)", text(), "I/N")
      ("start-at", "start measuring at this epoch second (or +T from now); warm up until then", text(), "TIME")
      ("q,quiet", "print nothing but errors (and the JSON)")
      ("h,help", "print this help")
      ("target", "HOST:PORT", text());
  options.parse_positional({"target"});
  return options;
}

constexpr const char* kHelpTail =
    "\nExamples:\n"
    "  loadgen -c 50 -t 2 -d 10s 127.0.0.1:7000            raw echo, closed loop\n"
    "  loadgen -c 100 -R 20000 -d 30s 127.0.0.1:7000       open loop at 20,000 messages/s\n"
    "  loadgen --http -s 0 -c 50 -d 10s 127.0.0.1:7000     HTTP GET keep-alive, as wrk does\n"
    "  loadgen --connect-per-message -c 20 127.0.0.1:7000  a connection per message\n"
    "  loadgen -c 50 --idle 10000 --idle-first 127.0.0.1:7000\n"
    "                                                      50 active beside 10,000 idle, held first\n"
    "  loadgen -c 10 --slow 500 --slow-interval 100ms 127.0.0.1:7000\n"
    "                                                      10 active beside 500 slow senders\n"
    "  loadgen -c 100 --idle 19000 --connect-rate 2000 --warmup 12s 127.0.0.1:7000\n"
    "                                                      19,000 idle connections opened at 2,000/s, 100 active\n"
    "  loadgen --segment 2/3 --start-at 1767225600 -c 300 -R 90000 --json b.json --hdr-log b.hlog 10.0.0.1:7000\n"
    "                                                      the second of three hosts sharing one load\n"
    "  loadgen merge a.json b.json c.hlog                  one result from several instances' files\n"
    "\nExit status: 0 when every message came back intact, 1 when any error was counted, 2 on bad usage.\n";

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv) {
  CommandLine result;
  cxxopts::Options options = make_options();
  const auto read = [&](const cxxopts::ParseResult& parsed) {
    LoadConfig& config = result.config;
    config.connections = int_option(parsed, "connections", 1);
    config.idle_connections = int_option(parsed, "idle", 0);
    if (parsed.count("idle-first")) {
      if (parsed.count("connect-rate")) {
        throw BadOption{"--idle-first: opens the idle connections at once, not with --connect-rate"};
      }
      // The held idle connections of client/background.hpp: the same count, opened first and greeted.
      config.idle = config.idle_connections;
      config.idle_connections = 0;
    }
    const std::string connect_rate_text = parsed["connect-rate"].as<std::string>();
    const auto connect_rate = parse_number(connect_rate_text);
    if (!connect_rate || *connect_rate < 0) {
      throw BadOption{"--connect-rate: '" + connect_rate_text + "' is not a rate of 0 or more per second"};
    }
    config.connect_rate = *connect_rate;
    config.threads = parsed.count("threads") ? int_option(parsed, "threads", 1) : 0;
    config.duration = duration_option(parsed, "duration", false);
    config.warmup = duration_option(parsed, "warmup", true);
    config.timeout = duration_option(parsed, "timeout", false);
    config.pipeline = int_option(parsed, "pipeline", 1);
    config.slow = int_option(parsed, "slow", 0);
    config.slow_interval = duration_option(parsed, "slow-interval", false);
    config.http = parsed.count("http") > 0;
    config.connect_per_message = parsed.count("connect-per-message") > 0;
    config.verify = parsed.count("no-verify") == 0;
    result.quiet = parsed.count("quiet") > 0;

    const std::string size_text = parsed["size"].as<std::string>();
    const auto size = parse_size(size_text);
    if (!size || (*size == 0 && !config.http)) {
      throw BadOption{"--size: '" + size_text + "' is not a size of at least 1 byte (0 only with --http)"};
    }
    config.message_size = *size;

    const std::string rate_text = parsed["rate"].as<std::string>();
    const auto rate = parse_number(rate_text);
    if (!rate || *rate < 0) throw BadOption{"--rate: '" + rate_text + "' is not a rate of 0 or more per second"};
    config.rate = *rate;

    if (config.connect_per_message && config.pipeline != 1) {
      throw BadOption{"--pipeline: a connection per message carries one message at a time"};
    }
    if (parsed.count("bind")) {
      for (const std::string& address : split_list(parsed["bind"].as<std::string>())) {
        try {
          source_endpoint(address);
        } catch (const std::exception&) {
          throw BadOption{"--bind: '" + address + "' is not an IPv4 or IPv6 address"};
        }
        config.bind_addresses.push_back(address);
      }
    }
    if (parsed.count("cpus")) {
      const unsigned cpus = std::max(1U, std::thread::hardware_concurrency());
      for (const std::string& item : split_list(parsed["cpus"].as<std::string>())) {
        int cpu = -1;
        if (!parse_int(item, cpu) || cpu < 0 || static_cast<unsigned>(cpu) >= cpus) {
          throw BadOption{"--cpus: '" + item + "' is not a CPU number below " + std::to_string(cpus)};
        }
        config.cpus.push_back(cpu);
      }
    }
    if (parsed.count("json")) {
      result.json_path = parsed["json"].as<std::string>();
      if (result.json_path.empty()) throw BadOption{"--json: needs a file name, or - for standard output"};
    }
    if (parsed.count("hdr-log")) {
      config.hdr_log = parsed["hdr-log"].as<std::string>();
      if (config.hdr_log.empty()) throw BadOption{"--hdr-log: needs a file name"};
    }
    config.hdr_interval = duration_option(parsed, "hdr-interval", false);
    if (parsed.count("segment")) {
      const std::string text = parsed["segment"].as<std::string>();
      const auto segment = parse_segment(text);
      if (!segment) throw BadOption{"--segment: '" + text + "' is not I/N with 1 <= I <= N"};
      if (segment_connections(config.connections, *segment).size() < 1) {
        throw BadOption{"--segment: " + std::to_string(config.connections) + " connections leave segment " + text +
                        " none (give at least N connections)"};
      }
      config.segment = *segment;
    }
    if (parsed.count("start-at")) {
      const std::string text = parsed["start-at"].as<std::string>();
      const double now = epoch_now();
      const auto at = parse_start_at(text, now);
      if (!at) throw BadOption{"--start-at: '" + text + "' is not an epoch second (e.g. 1767225600.5) or +T"};
      // A time already gone would silently shorten the warm-up of one host only; a day ahead is surely a typo.
      if (*at <= now) throw BadOption{"--start-at: " + text + " has already passed (now is " +
                                      std::to_string(static_cast<long long>(now)) + ")"};
      if (*at > now + 86400) throw BadOption{"--start-at: " + text + " is more than a day away"};
      config.start_at = *at;
    }
    if (!parsed.count("target")) throw BadOption{"HOST:PORT: missing (the server to drive, e.g. 127.0.0.1:7000)"};
    const std::string target = parsed["target"].as<std::string>();
    if (!split_host_port(target, config.host, config.port)) {
      throw BadOption{"HOST:PORT: '" + target + "' is not HOST:PORT with a port from 1 to 65535"};
    }
  };
  result.error = parse_options("loadgen", options, kHelpTail, argc, argv, result.help_text, read);
  result.help = !result.help_text.empty();
  return result;
}

}  // namespace iomodels::loadgen
