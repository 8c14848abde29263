#include "compare/scenarios.hpp"

#include <cstdio>

namespace iomodels::compare {
namespace {

std::string size_text(std::size_t bytes) {
  if (bytes >= (1U << 20) && bytes % (1U << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

std::string size_flag(std::size_t bytes) {
  if (bytes >= (1U << 20) && bytes % (1U << 20) == 0) return std::to_string(bytes >> 20) + "M";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + "k";
  return std::to_string(bytes);
}

std::string grouped(long long value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string duration_flag(std::chrono::nanoseconds d) {
  const long long ns = d.count();
  if (ns % 1'000'000'000 == 0) return std::to_string(ns / 1'000'000'000) + "s";
  if (ns % 1'000'000 == 0) return std::to_string(ns / 1'000'000) + "ms";
  return std::to_string(ns / 1000) + "us";
}

std::vector<Scenario> make_named() {
  std::vector<Scenario> list;
  Scenario s;
  s = {};
  s.name = "pingpong";
  s.connections = 1;
  s.shows = "round-trip latency and wake-up cost; every model is bound by the round trip";
  s.key = KeyFigure::kMessagesPerSecond;
  list.push_back(s);

  s = {};
  s.name = "busy";
  s.connections = 50;
  s.shows = "server CPU per message at saturation";
  s.key = KeyFigure::kCpuPerMessage;
  list.push_back(s);

  s = {};
  s.name = "idle-10k";
  s.connections = 50;
  s.idle = 10000;
  s.repeat = 2;
  s.shows = "O(ready) against O(n): select's and poll's cost per round grows with every idle connection, epoll's "
            "does not; thread per connection holds 10,000 threads; select refuses descriptors past FD_SETSIZE";
  s.key = KeyFigure::kCpuPerMessage;
  list.push_back(s);

  s = {};
  s.name = "light";
  s.connections = 50;
  s.rate = 2000;
  s.shows = "what a server costs when mostly idle: its CPU as a share of a core at 2,000 msgs/s; the busy loop "
            "burns a core";
  s.key = KeyFigure::kCpuShare;
  list.push_back(s);

  s = {};
  s.name = "accept";
  s.connections = 20;
  s.connect_per_message = true;
  s.shows = "connections per second and server CPU per connection: fork per connection against prefork, a thread "
            "per connection against a pool";
  s.key = KeyFigure::kCpuPerConnection;
  list.push_back(s);

  s = {};
  s.name = "bulk";
  s.connections = 50;
  s.size = 64 * 1024;
  s.shows = "MB/s and CPU per MB: copies, and completion models' buffers";
  s.key = KeyFigure::kCpuPerMegabyte;
  list.push_back(s);

  s = {};
  s.name = "slow-clients";
  s.connections = 10;
  s.slow = 500;
  s.shows = "what slow or stalled peers do to everyone else: a fixed pool is starved, event loops serve the 10 "
            "active clients as before";
  s.key = KeyFigure::kMessagesPerSecond;
  list.push_back(s);
  return list;
}

}  // namespace

const std::vector<Scenario>& named_scenarios() {
  static const std::vector<Scenario> list = make_named();
  return list;
}

std::optional<Scenario> find_scenario(const std::string& name) {
  for (const Scenario& s : named_scenarios()) {
    if (s.name == name) return s;
  }
  return std::nullopt;
}

std::string scenario_names() {
  std::string text;
  for (const Scenario& s : named_scenarios()) text += (text.empty() ? "" : ", ") + s.name;
  return text;
}

Scenario custom_scenario(int connections, std::size_t size, double rate) {
  Scenario s;
  s.connections = connections;
  s.size = size;
  s.rate = rate;
  s.name = std::to_string(connections) + "c-" + size_flag(size) + "B";
  if (rate > 0) {
    char text[32];
    std::snprintf(text, sizeof text, "-R%g", rate);
    s.name += text;
  }
  s.shows = "a custom load (--connections, --sizes, --rate)";
  s.key = rate > 0 ? KeyFigure::kCpuShare : KeyFigure::kCpuPerMessage;
  return s;
}

std::string describe_load(const Scenario& s) {
  std::string text = std::to_string(s.connections) + (s.connections == 1 ? " conn, " : " conns, ") + size_text(s.size);
  if (s.connect_per_message) text += ", a connection per message";
  if (s.rate > 0) text += ", open loop at " + grouped(static_cast<long long>(s.rate)) + " msgs/s";
  if (s.idle > 0) text += ", " + grouped(s.idle) + " idle beside";
  if (s.slow > 0) {
    text += ", " + grouped(s.slow) + " slow beside (1 byte per " + duration_flag(s.slow_interval) + ")";
  }
  return text;
}

std::string loadgen_command(const Scenario& s, std::chrono::nanoseconds duration, std::chrono::nanoseconds warmup,
                            bool http) {
  std::string command = "bin/loadgen -c " + std::to_string(s.connections) + " -s " + size_flag(s.size);
  if (s.rate > 0) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", s.rate);
    command += std::string(" -R ") + text;
  }
  if (s.connect_per_message) command += " --connect-per-message";
  if (s.idle > 0) command += " --idle " + std::to_string(s.idle) + " --idle-first";
  if (s.slow > 0) command += " --slow " + std::to_string(s.slow) + " --slow-interval " + duration_flag(s.slow_interval);
  if (http) command += " --http";
  command += " -d " + duration_flag(duration) + " --warmup " + duration_flag(warmup) + " HOST:PORT";
  return command;
}

ModelVariant parse_model_variant(const std::string& label) {
  ModelVariant variant;
  variant.label = label;
  std::size_t begin = 0;
  std::size_t colon = label.find(':');
  variant.binary = label.substr(0, colon);
  while (colon != std::string::npos) {
    begin = colon + 1;
    colon = label.find(':', begin);
    variant.args.push_back(label.substr(begin, colon == std::string::npos ? std::string::npos : colon - begin));
  }
  return variant;
}

}  // namespace iomodels::compare
