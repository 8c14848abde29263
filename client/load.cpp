// run_load(): plans a run, starts one worker per thread, reports progress, merges the workers' results.
#include "client/load.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>

#include "client/background.hpp"
#include "client/endpoint.hpp"
#include "client/engine.hpp"
#include "client/hdr_log.hpp"
#include "common/limits.hpp"

namespace iomodels::loadgen {
namespace {

void validate(const LoadConfig& config) {
  auto bad = [](const std::string& what) { throw std::runtime_error("invalid load configuration: " + what); };
  if (config.port < 1 || config.port > 65535) bad("port " + std::to_string(config.port));
  if (config.connections < 1) bad("connections must be at least 1");
  if (config.idle_connections < 0) bad("idle connections must not be negative");
  if (config.connect_rate < 0) bad("connect rate must not be negative");
  if (config.threads < 0) bad("threads must not be negative");
  if (config.pipeline < 1) bad("pipeline must be at least 1");
  if (config.rate < 0) bad("rate must not be negative");
  if (config.duration.count() <= 0) bad("duration must be positive");
  if (config.warmup.count() < 0) bad("warm-up must not be negative");
  if (config.idle < 0 || config.slow < 0) bad("idle and slow connections must not be negative");
  if (config.slow > 0 && config.slow_interval.count() <= 0) bad("the slow interval must be positive");
  if (config.timeout.count() <= 0) bad("timeout must be positive");
  if (config.message_size == 0 && !config.http) bad("raw echo needs messages of at least 1 byte");
  // A GET request is formatted into a fixed buffer of each message in flight (engine.cpp, kMaxGetRequest).
  if (config.http && config.message_size == 0 && config.host.size() > 100) bad("host name over 100 characters");
  if (config.segment.count < 1 || config.segment.index < 1 || config.segment.index > config.segment.count) {
    bad("segment " + std::to_string(config.segment.index) + "/" + std::to_string(config.segment.count));
  }
  if (segment_connections(config.connections, config.segment).size() < 1) {
    bad(std::to_string(config.connections) + " connections leave segment " + std::to_string(config.segment.index) +
        "/" + std::to_string(config.segment.count) + " none");
  }
  if (config.hdr_interval.count() <= 0) bad("the HdrHistogram log interval must be positive");
}

int thread_count(const LoadConfig& config) {
  int threads = config.threads;
  if (threads == 0) threads = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  return std::min(threads, segment_connections(config.connections, config.segment).size() +
                               segment_connections(config.idle_connections, config.segment).size());
}

}  // namespace

void Tally::add(const Tally& other) {
  latency.merge(other.latency);
  service_time.merge(other.service_time);
  messages += other.messages;
  bytes += other.bytes;
  connect_errors += other.connect_errors;
  resets += other.resets;
  timeouts += other.timeouts;
  mismatches += other.mismatches;
  http_errors += other.http_errors;
  connections_opened += other.connections_opened;
  connections_open_at_end += other.connections_open_at_end;
  connections_never_answered += other.connections_never_answered;
}

LoadResult run_load(const LoadConfig& config) {
  validate(config);
  // Each connection costs a descriptor; a run of 10,000 connections needs more than the usual soft 1024.
  raise_open_file_limit();

  detail::RunPlan plan;
  plan.config = &config;
  plan.target = resolve_endpoint(config.host, config.port);
  for (const std::string& address : config.bind_addresses) {
    plan.sources.push_back(source_endpoint(address));
    if (plan.sources.back().family() != plan.target.family()) {
      throw std::runtime_error("bind address " + address + " is not of the server's address family");
    }
  }
  plan.payload = Payload(config.message_size);
  plan.host_header = "Host: " + format_endpoint(config.host, config.port) + "\r\n";
  plan.post_head = "POST / HTTP/1.1\r\n" + plan.host_header + "Content-Length: " +
                   std::to_string(config.message_size) + "\r\n" +
                   (config.connect_per_message ? "Connection: close\r\n" : "") + "\r\n";
  if (config.rate > 0) plan.interval_ns = 1e9 * config.connections / config.rate;

  // The idle and slow connections come first, so that a model which serves connections in order of arrival (a
  // pool, prefork, the iterative server) meets them before the measured ones, as it would in production.
  std::unique_ptr<detail::Background> background;
  if (config.idle > 0 || config.slow > 0) {
    detail::BackgroundPlan held;
    held.target = plan.target;
    held.sources = plan.sources;
    held.idle = config.idle;
    held.slow = config.slow;
    held.slow_interval = config.slow_interval;
    held.http = config.http;
    held.host = format_endpoint(config.host, config.port);
    held.cpu = config.cpus.empty() ? -1 : config.cpus.front();
    background = std::make_unique<detail::Background>(std::move(held));
    background->wait_ready();
  }

  const int threads = thread_count(config);
  // This instance's connections: its segment of the active ones, then its segment of the idle ones (whose ids
  // follow every active one). A worker runs a contiguous range of ids, so a thread's part that spans both is
  // given to two workers, unless the ids run on (one segment), when one worker opens them all in order.
  const ConnectionRange share = segment_connections(config.connections, config.segment);
  const ConnectionRange idle_share = segment_connections(config.idle_connections, config.segment);
  const long long active = share.size();
  const long long mine = active + idle_share.size();
  auto id_at = [&](long long position) {
    return static_cast<int>(position < active ? share.first + position
                                              : config.connections + idle_share.first + (position - active));
  };
  std::vector<std::pair<int, int>> pieces;  // first id, count
  for (int t = 0; t < threads; ++t) {
    const long long from = mine * t / threads;
    const long long to = mine * (t + 1) / threads;
    if (from < active && to > active && id_at(active) != id_at(active - 1) + 1) {
      pieces.emplace_back(id_at(from), static_cast<int>(active - from));
      pieces.emplace_back(id_at(active), static_cast<int>(to - active));
    } else if (to > from) {
      pieces.emplace_back(id_at(from), static_cast<int>(to - from));
    }
  }
  std::vector<detail::LiveCounters> live(pieces.size());
  std::vector<std::future<detail::WorkerResult>> workers;
  plan.start = detail::now_ns();
  const double start_epoch = epoch_now();
  std::int64_t warmup = config.warmup.count();
  // Instances started by ssh at different moments measure the same window: each warms up until the agreed time.
  if (config.start_at > 0) warmup = std::max<std::int64_t>(0, std::llround((config.start_at - start_epoch) * 1e9));
  plan.measure_start = plan.start + warmup;
  plan.end = plan.measure_start + config.duration.count();
  const double measure_epoch = config.start_at > 0 && warmup > 0 ? config.start_at : start_epoch + warmup / 1e9;
  std::unique_ptr<IntervalLog> interval_log;
  if (!config.hdr_log.empty()) {
    std::string comment = std::string("[loadgen ") + kLoadgenVersion + ": latency in ns" +
                          (config.rate > 0 ? " from each message's due time; Tag=service_time from when it was sent"
                                           : "") +
                          ", " + format_endpoint(config.host, config.port) + ", segment " +
                          std::to_string(config.segment.index) + "/" + std::to_string(config.segment.count) + "]";
    interval_log = std::make_unique<IntervalLog>(config.hdr_log, config.hdr_interval.count(), plan.measure_start,
                                                 plan.end, measure_epoch, config.rate > 0,
                                                 static_cast<int>(pieces.size()), comment);
    plan.intervals = interval_log.get();
  }
  for (std::size_t t = 0; t < pieces.size(); ++t) {
    const int first = pieces[t].first;
    const int next = pieces[t].first + pieces[t].second;
    const int cpu = config.cpus.empty() ? -1 : config.cpus[static_cast<std::size_t>(t) % config.cpus.size()];
    workers.push_back(std::async(std::launch::async, detail::run_worker, std::cref(plan), first, next - first, cpu,
                                 std::ref(live[static_cast<std::size_t>(t)])));
  }

  if (config.on_progress) {
    std::uint64_t last_completed = 0;
    std::int64_t last_at = plan.start;
    for (std::int64_t tick = plan.start + 1'000'000'000; tick < plan.end; tick += 1'000'000'000) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(tick - detail::now_ns()));
      Progress progress;
      std::uint64_t completed = 0;
      for (const auto& counters : live) {
        completed += counters.completed.load(std::memory_order_relaxed);
        progress.messages += counters.measured.load(std::memory_order_relaxed);
        progress.errors += counters.errors.load(std::memory_order_relaxed);
      }
      const std::int64_t now = detail::now_ns();
      progress.elapsed_s = static_cast<double>(now - plan.start) / 1e9;
      progress.messages_per_s =
          static_cast<double>(completed - last_completed) * 1e9 / static_cast<double>(now - last_at);
      progress.warming_up = now < plan.measure_start;
      last_completed = completed;
      last_at = now;
      config.on_progress(progress);
    }
  }

  LoadResult result;
  result.threads = threads;
  std::int64_t first_error_at = 0;
  for (auto& worker : workers) {
    detail::WorkerResult part = worker.get();
    result.add(part);
    result.client_cpu_seconds += part.cpu_seconds;
    if (!part.first_error.empty() && (result.first_error.empty() || part.first_error_at < first_error_at)) {
      result.first_error = part.first_error;
      first_error_at = part.first_error_at;
    }
  }
  if (interval_log) interval_log->close();
  if (background) {
    const detail::BackgroundResult held = background->stop();
    result.idle_open = held.idle_open;
    result.slow_open = held.slow_open;
    result.background_not_established = held.not_established;
    result.background_closed_by_server = held.closed_by_server;
    result.slow_bytes_sent = held.slow_bytes_sent;
    result.slow_bytes_echoed = held.slow_bytes_echoed;
    result.background_setup_seconds = held.setup_seconds;
    result.mismatches += held.mismatches;
    result.client_cpu_seconds += held.cpu_seconds;
    if (result.first_error.empty() && held.mismatches > 0) result.first_error = held.first_error;
  }
  result.seconds = static_cast<double>(config.duration.count()) / 1e9;
  result.connections = share.size();
  result.start_time = measure_epoch;
  result.target_rate = config.rate * share.size() / config.connections;
  result.achieved_rate = static_cast<double>(result.messages) / result.seconds;
  return result;
}

}  // namespace iomodels::loadgen
