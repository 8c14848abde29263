#include "client/merge.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <stdexcept>

#include "client/hdr_log.hpp"
#include "client/report.hpp"

namespace iomodels::loadgen {
namespace {

// One file's contribution before it is added to the rest.
struct Part {
  LoadResult result;
  double start = 0;  // epoch seconds; 0 when unknown
  bool counts_known = false;  // bytes, errors and connections: only a JSON result has them
};

void histogram_from_json(const nlohmann::json& j, Histogram& into, const std::string& what) {
  if (!j.contains("hdr")) throw std::runtime_error(what + " has no \"hdr\" histogram (written by loadgen before 1.1)");
  decode_compressed_base64(j.at("hdr").get<std::string>(), into);
  if (into.count() != j.at("count").get<std::uint64_t>()) {
    throw std::runtime_error(what + ": the histogram holds " + std::to_string(into.count()) + " values, count says " +
                             std::to_string(j.at("count").get<std::uint64_t>()));
  }
  // The encoding keeps buckets; the JSON keeps the exact extremes and sum beside it.
  into.set_exact_stats(j.at("min").get<std::uint64_t>(), j.at("max").get<std::uint64_t>(),
                       j.at("sum").get<std::uint64_t>());
}

LoadConfig config_from_json(const nlohmann::json& options) {
  LoadConfig config;
  auto seconds = [](double s) { return std::chrono::nanoseconds(static_cast<long long>(s * 1e9)); };
  config.host = options.value("host", config.host);
  config.port = options.value("port", 0);
  config.connections = options.value("connections", 0);
  config.threads = options.value("threads", 0);
  config.duration = seconds(options.value("duration_s", 0.0));
  config.warmup = seconds(options.value("warmup_s", 0.0));
  config.message_size = options.value("message_size", std::size_t{0});
  config.pipeline = options.value("pipeline", 1);
  config.rate = options.value("rate", 0.0);
  config.connect_per_message = options.value("connect_per_message", false);
  config.http = options.value("http", false);
  config.verify = options.value("verify", true);
  return config;
}

Part read_json_part(const std::string& path, const nlohmann::json& j, LoadConfig& config, bool& have_config) {
  Part part;
  LoadResult& r = part.result;
  histogram_from_json(j.at("latency_ns"), r.latency, path + ": latency_ns");
  histogram_from_json(j.at("service_time_ns"), r.service_time, path + ": service_time_ns");
  r.messages = j.at("messages").get<std::uint64_t>();
  r.bytes = j.at("bytes").get<std::uint64_t>();
  r.seconds = j.at("seconds").get<double>();
  const nlohmann::json& errors = j.at("errors");
  r.connect_errors = errors.at("connect").get<std::uint64_t>();
  r.resets = errors.at("reset").get<std::uint64_t>();
  r.timeouts = errors.at("timeout").get<std::uint64_t>();
  r.mismatches = errors.at("mismatch").get<std::uint64_t>();
  r.http_errors = errors.at("http").get<std::uint64_t>();
  r.first_error = j.value("first_error", "");
  r.connections_opened = j.value("connections_opened", 0);
  r.connections_never_answered = j.value("connections_never_answered", 0);
  r.connections_open_at_end = j.value("connections_open_at_end", 0);
  r.client_cpu_seconds = j.value("client_cpu_seconds", 0.0);
  r.threads = j.value("threads", 0);
  r.target_rate = j.value("target_rate", 0.0);
  const nlohmann::json& options = j.at("options");
  r.connections = j.value("connections", options.value("connections", 0));
  part.start = j.value("start_time", 0.0);
  part.counts_known = true;
  if (!have_config) {
    config = config_from_json(options);
    have_config = true;
  }
  return part;
}

Part read_hlog_part(const std::string& path) {
  const HdrLog log = read_hdr_log(path);
  if (log.intervals.empty()) throw std::runtime_error(path + ": no interval lines");
  Part part;
  double first = std::numeric_limits<double>::max(), last = 0;
  for (const HdrLogInterval& interval : log.intervals) {
    if (interval.tag.empty()) {
      part.result.latency.merge(interval.histogram);
    } else if (interval.tag == "service_time") {
      part.result.service_time.merge(interval.histogram);
    } else {
      continue;
    }
    first = std::min(first, interval.start_s);
    last = std::max(last, interval.start_s + interval.length_s);
  }
  part.result.messages = part.result.latency.count();
  part.result.seconds = last - first;
  part.start = log.base_time_s > 0 ? log.base_time_s + first : 0;
  return part;
}

bool looks_like_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  char first = 0;
  while (in.get(first) && std::isspace(static_cast<unsigned char>(first))) {
  }
  return first == '{';
}

}  // namespace

MergedResult merge_results(const std::vector<std::string>& paths) {
  if (paths.empty()) throw std::runtime_error("nothing to merge");
  MergedResult merged;
  LoadConfig& config = merged.config;
  LoadResult& total = merged.result;
  bool have_config = false;
  bool all_counts = true;
  bool all_starts = true;
  double earliest = std::numeric_limits<double>::max(), latest = 0, longest = 0;
  int connections = 0;
  double target_rate = 0;
  merged.parts = nlohmann::json::array();
  for (const std::string& path : paths) {
    Part part;
    std::string kind;
    if (looks_like_json(path)) {
      std::ifstream in(path);
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(in);
        part = read_json_part(path, j, config, have_config);
      } catch (const nlohmann::json::exception& bad) {
        throw std::runtime_error(path + ": not a loadgen JSON result (" + bad.what() + ")");
      }
      kind = "json";
    } else {
      part = read_hlog_part(path);
      kind = "hlog";
    }
    const LoadResult& r = part.result;
    merged.parts.push_back({{"file", path}, {"kind", kind}, {"messages", r.messages}, {"seconds", r.seconds},
                            {"connections", r.connections}, {"errors", r.errors()}, {"start_time", part.start}});
    total.add(r);
    total.client_cpu_seconds += r.client_cpu_seconds;
    total.threads += r.threads;
    if (total.first_error.empty()) total.first_error = r.first_error;
    connections += r.connections;
    target_rate += r.target_rate;
    all_counts = all_counts && part.counts_known;
    if (part.start > 0) {
      earliest = std::min(earliest, part.start);
      latest = std::max(latest, part.start + r.seconds);
    } else {
      all_starts = false;
    }
    longest = std::max(longest, r.seconds);
  }
  total.seconds = all_starts ? latest - earliest : longest;
  total.start_time = all_starts ? earliest : 0;
  total.connections = connections;
  total.target_rate = target_rate;
  total.achieved_rate = total.seconds > 0 ? static_cast<double>(total.messages) / total.seconds : 0;
  if (all_starts && total.seconds > longest * 1.001) {
    merged.notes.push_back("the parts' windows differ (no common --start-at?): rates are over their whole span");
  }
  if (!all_counts) merged.notes.push_back(".hlog parts carry latencies only: no bytes, errors or connections");
  config.connections = std::max(1, connections);
  config.rate = target_rate;
  config.duration = std::chrono::nanoseconds(static_cast<long long>(total.seconds * 1e9));
  if (!have_config) config.port = 0;
  return merged;
}

int merge_main(int argc, char** argv) {
  std::string json_path;
  bool quiet = false;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(
          "Usage: loadgen merge [--json FILE] [-q] FILE...\n"
          "Merges the results of several loadgen instances (--json results and/or --hdr-log files, one file per\n"
          "instance) exactly: histogram counts are added and the percentiles read off the sum, never averaged.\n"
          "Prints the merged result like a run does; --json FILE (- for standard output) writes it as JSON.\n"
          "Give each instance once: its JSON result or its .hlog, not both.\n"
          "\nExit status: 0, 1 when the merged result counts errors or a file cannot be read, 2 on bad usage.\n",
          stdout);
      return 0;
    }
    if (arg == "-q" || arg == "--quiet") {
      quiet = true;
    } else if (arg == "--json" || arg.starts_with("--json=")) {
      if (arg == "--json") {
        if (i + 1 >= argc) {
          std::fprintf(stderr, "loadgen merge: --json: needs a file name, or - for standard output\n");
          return 2;
        }
        json_path = argv[++i];
      } else {
        json_path = arg.substr(7);
      }
      if (json_path.empty()) {
        std::fprintf(stderr, "loadgen merge: --json: needs a file name, or - for standard output\n");
        return 2;
      }
    } else if (arg.starts_with("-") && arg != "-") {
      std::fprintf(stderr, "loadgen merge: unknown option '%s'\n", arg.c_str());
      return 2;
    } else {
      paths.push_back(arg);
    }
  }
  if (paths.empty()) {
    std::fprintf(stderr, "loadgen merge: FILE: missing (the --json results or .hlog files to merge)\n");
    return 2;
  }
  MergedResult merged;
  try {
    merged = merge_results(paths);
  } catch (const std::exception& bad) {
    std::fprintf(stderr, "loadgen merge: %s\n", bad.what());
    return 1;
  }
  const bool text_out = !quiet && json_path != "-";
  if (text_out) {
    std::printf("Merged %zu results: %d connections", paths.size(), merged.result.connections);
    if (merged.config.rate > 0) std::printf(", target %.0f msgs/s", merged.config.rate);
    std::printf(", %.2fs window\n", merged.result.seconds);
    for (const auto& part : merged.parts) {
      std::printf("  %-32s %12llu msgs  %5d connections  %llu errors\n", part["file"].get<std::string>().c_str(),
                  static_cast<unsigned long long>(part["messages"].get<std::uint64_t>()),
                  part["connections"].get<int>(), static_cast<unsigned long long>(part["errors"].get<std::uint64_t>()));
    }
    for (const std::string& note : merged.notes) std::printf("  note: %s\n", note.c_str());
    std::fputs(format_summary(merged.config, merged.result).c_str(), stdout);
  }
  if (!json_path.empty()) {
    nlohmann::json j = to_json(merged.config, merged.result);
    j["merged_from"] = merged.parts;
    j["notes"] = merged.notes;
    const std::string text = j.dump(2) + "\n";
    if (json_path == "-") {
      std::fputs(text.c_str(), stdout);
    } else {
      std::ofstream file(json_path);
      file << text;
      if (!file.flush()) {
        std::fprintf(stderr, "loadgen merge: cannot write %s\n", json_path.c_str());
        return 1;
      }
    }
  }
  return merged.result.errors() > 0 ? 1 : 0;
}

}  // namespace iomodels::loadgen
