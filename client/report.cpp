#include "client/report.hpp"

#include <cmath>
#include <cstdio>

#include "client/endpoint.hpp"
#include "client/hdr_log.hpp"

namespace iomodels::loadgen {
namespace {

std::string printf_string(const char* format, auto... args) {
  char line[256];
  std::snprintf(line, sizeof line, format, args...);
  return line;
}

std::string percentile_label(double p) {
  std::string label = printf_string("%.2f", p);
  while (label.back() == '0') label.pop_back();
  if (label.back() == '.') label.pop_back();
  return label + "%";
}

nlohmann::json histogram_json(const Histogram& h) {
  nlohmann::json j = {{"count", h.count()}, {"min", h.min()},     {"mean", h.mean()},
                      {"stdev", h.stddev()}, {"max", h.max()}};
  for (double p : kReportedPercentiles) {
    std::string key = "p" + printf_string("%g", p);
    j[key] = h.value_at_percentile(p);
  }
  // The whole histogram (HdrHistogram's compressed encoding) and its exact sum, so that results merge exactly.
  j["sum"] = h.sum();
  j["hdr"] = encode_compressed_base64(h);
  return j;
}

std::string mode_text(const LoadConfig& config) {
  std::string mode = config.http ? (config.message_size == 0 ? "HTTP GET" : "HTTP POST") : "raw echo";
  mode += config.rate > 0 ? printf_string(", open loop at %.0f msgs/s", config.rate) : ", closed loop";
  if (config.connect_per_message) mode += ", a connection per message";
  if (!config.verify) mode += ", unverified";
  if (!config.segment.whole()) {
    mode += printf_string(", segment %d/%d", config.segment.index, config.segment.count);
  }
  return mode;
}

void append_distribution(std::string& out, const char* title, const Histogram& h) {
  out += printf_string("  %s\n", title);
  for (double p : kReportedPercentiles) {
    out += printf_string("  %7s %10s\n", percentile_label(p).c_str(),
                         format_duration_ns(static_cast<double>(h.value_at_percentile(p))).c_str());
  }
  out += printf_string("  %7s %10s\n", "max", format_duration_ns(static_cast<double>(h.max())).c_str());
}

}  // namespace

std::string format_duration_ns(double ns) {
  if (ns < 1e3) return printf_string("%.0fns", ns);
  if (ns < 1e6) return printf_string("%.2fus", ns / 1e3);
  if (ns < 1e9) return printf_string("%.2fms", ns / 1e6);
  return printf_string("%.2fs", ns / 1e9);
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? printf_string("%.0fB", bytes) : printf_string("%.2f%s", bytes, units[unit]);
}

std::string format_header(const LoadConfig& config, int threads) {
  std::string out;
  if (config.start_at > 0) out += printf_string("Measuring from %.3f (epoch s); warming up until then\n", config.start_at);
  out += printf_string("Running %s test @ %s (%s)\n",
                                  format_duration_ns(static_cast<double>(config.duration.count())).c_str(),
                                  format_endpoint(config.host, config.port).c_str(), mode_text(config).c_str());
  out += printf_string("  %d threads and %d connections, %zu-byte %s, pipeline %d, %s warm-up\n", threads,
                       segment_connections(config.connections, config.segment).size(), config.message_size,
                       config.http ? "bodies" : "messages",
                       config.connect_per_message ? 1 : config.pipeline,
                       format_duration_ns(static_cast<double>(config.warmup.count())).c_str());
  if (config.idle_connections > 0 || config.connect_rate > 0) {
    out += printf_string("  %d idle connections beside them; connecting at %s\n", config.idle_connections,
                         config.connect_rate > 0 ? printf_string("%.0f per second", config.connect_rate).c_str()
                                                 : "once");
  }
  return out;
}

std::string format_summary(const LoadConfig& config, const LoadResult& result) {
  const Histogram& latency = result.latency;
  std::string out;
  out += "  Thread Stats   Avg      Stdev     Max\n";
  out += printf_string("    Latency %9s %9s %9s\n", format_duration_ns(latency.mean()).c_str(),
                       format_duration_ns(latency.stddev()).c_str(),
                       format_duration_ns(static_cast<double>(latency.max())).c_str());
  const bool open_loop = config.rate > 0;
  append_distribution(out, open_loop ? "Latency Distribution (from when each message was due)" : "Latency Distribution",
                      latency);
  if (open_loop) append_distribution(out, "Service Time Distribution (from when each was sent)", result.service_time);
  out += printf_string("  %llu %s in %.2fs, %s read\n", static_cast<unsigned long long>(result.messages),
                       config.http ? "requests" : "messages", result.seconds,
                       format_bytes(static_cast<double>(result.bytes)).c_str());
  out += printf_string("  Connections: %d opened, %d open at the end, %d never answered\n",
                       result.connections_opened, result.connections_open_at_end, result.connections_never_answered);
  if (config.idle > 0 || config.slow > 0) {
    out += printf_string("  Held beside them: %d/%d idle, %d/%d slow established in %.2fs, %d closed by the server; "
                         "slow bytes %llu sent, %llu echoed\n",
                         result.idle_open, config.idle, result.slow_open, config.slow,
                         result.background_setup_seconds, result.background_closed_by_server,
                         static_cast<unsigned long long>(result.slow_bytes_sent),
                         static_cast<unsigned long long>(result.slow_bytes_echoed));
  }
  if (result.errors() > 0) {
    out += printf_string("  Errors: connect %llu, reset %llu, timeout %llu, mismatch %llu, http %llu\n",
                         static_cast<unsigned long long>(result.connect_errors),
                         static_cast<unsigned long long>(result.resets),
                         static_cast<unsigned long long>(result.timeouts),
                         static_cast<unsigned long long>(result.mismatches),
                         static_cast<unsigned long long>(result.http_errors));
    out += "  First error: " + result.first_error + "\n";
  }
  out += printf_string("%s/sec: %10.2f", config.http ? "Requests" : "Messages", result.achieved_rate);
  if (open_loop) out += printf_string(" (target %.2f)", result.target_rate);
  out += "\n";
  const double bytes_per_s = static_cast<double>(result.bytes) / result.seconds;
  out += printf_string("Transfer/sec: %10s\n", format_bytes(bytes_per_s).c_str());
  const double per_message = result.messages ? result.client_cpu_seconds / static_cast<double>(result.messages) : 0;
  out += printf_string("Client CPU: %.2fs (%s per message, warm-up included)\n", result.client_cpu_seconds,
                       format_duration_ns(per_message * 1e9).c_str());
  return out;
}

std::string format_progress(const Progress& progress) {
  return printf_string("[%4.0fs] %12llu msgs %12.0f/s %8llu errors%s", progress.elapsed_s,
                       static_cast<unsigned long long>(progress.messages), progress.messages_per_s,
                       static_cast<unsigned long long>(progress.errors), progress.warming_up ? "  (warming up)" : "");
}

nlohmann::json to_json(const LoadConfig& config, const LoadResult& result) {
  auto seconds = [](std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e9; };
  nlohmann::json options = {
      {"host", config.host},
      {"port", config.port},
      {"connections", config.connections},
      {"idle_connections", config.idle_connections},
      {"connect_rate", config.connect_rate},
      {"threads", config.threads},
      {"duration_s", seconds(config.duration)},
      {"warmup_s", seconds(config.warmup)},
      {"message_size", config.message_size},
      {"pipeline", config.pipeline},
      {"rate", config.rate},
      {"connect_per_message", config.connect_per_message},
      {"http", config.http},
      {"verify", config.verify},
      {"timeout_s", seconds(config.timeout)},
      {"bind", config.bind_addresses},
      {"cpus", config.cpus},
      {"segment", std::to_string(config.segment.index) + "/" + std::to_string(config.segment.count)},
      {"start_at", config.start_at},
      {"hdr_log", config.hdr_log},
      {"idle", config.idle},
      {"slow", config.slow},
      {"slow_interval_s", seconds(config.slow_interval)},
  };
  const double per_message = result.messages ? result.client_cpu_seconds / static_cast<double>(result.messages) : 0;
  return {
      {"loadgen_version", kLoadgenVersion},
      {"options", options},
      {"threads", result.threads},
      {"connections", result.connections},
      {"start_time", result.start_time},
      {"messages", result.messages},
      {"bytes", result.bytes},
      {"seconds", result.seconds},
      {"messages_per_s", result.achieved_rate},
      {"target_rate", result.target_rate},
      {"achieved_rate", result.achieved_rate},
      {"bytes_per_s", result.seconds > 0 ? static_cast<double>(result.bytes) / result.seconds : 0},
      {"latency_ns", histogram_json(result.latency)},
      {"service_time_ns", histogram_json(result.service_time)},
      {"errors",
       {{"total", result.errors()},
        {"connect", result.connect_errors},
        {"reset", result.resets},
        {"timeout", result.timeouts},
        {"mismatch", result.mismatches},
        {"http", result.http_errors}}},
      {"first_error", result.first_error},
      {"connections_opened", result.connections_opened},
      {"connections_never_answered", result.connections_never_answered},
      {"connections_open_at_end", result.connections_open_at_end},
      {"client_cpu_seconds", result.client_cpu_seconds},
      {"client_cpu_us_per_message", per_message * 1e6},
      {"held",
       {{"idle_open", result.idle_open},
        {"slow_open", result.slow_open},
        {"not_established", result.background_not_established},
        {"closed_by_server", result.background_closed_by_server},
        {"slow_bytes_sent", result.slow_bytes_sent},
        {"slow_bytes_echoed", result.slow_bytes_echoed},
        {"setup_seconds", result.background_setup_seconds}}},
  };
}

}  // namespace iomodels::loadgen
