#include "compare/results.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "client/load.hpp"

namespace iomodels::compare {
namespace {

template <typename T>
double median_of(const std::vector<const RunRecord*>& runs, T RunRecord::*field) {
  std::vector<double> values;
  for (const RunRecord* run : runs) values.push_back(static_cast<double>(run->*field));
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

template <typename T>
void set_median(RunRecord& summary, const std::vector<const RunRecord*>& runs, T RunRecord::*field) {
  summary.*field = static_cast<T>(median_of(runs, field));
}

int severity(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk: return 0;
    case Outcome::kLimit: return 1;
    case Outcome::kFailed: return 2;
  }
  return 2;
}

Row summarize(std::vector<RunRecord> runs) {
  Row row;
  row.runs = std::move(runs);
  // The worst run decides the outcome and the note: a model that failed once in three has a problem to show.
  const RunRecord* worst = &row.runs.front();
  for (const RunRecord& run : row.runs) {
    if (severity(run.outcome) > severity(worst->outcome)) worst = &run;
  }
  RunRecord& s = row.summary;
  s = *worst;
  std::vector<const RunRecord*> loaded;
  for (const RunRecord& run : row.runs) {
    if (run.load_ran) loaded.push_back(&run);
  }
  // The intervals rest on the runs that served the whole load: a failed or limited run is not a slow sample.
  {
    std::vector<double> rates, cpus, shares, clients;
    for (const RunRecord& run : row.runs) {
      if (!run.load_ran) continue;
      clients.push_back(run.client_cpu_share);
      if (run.outcome != Outcome::kOk || run.errors > 0 || run.messages == 0) continue;
      rates.push_back(run.msgs_per_s);
      if (run.cpu_us_per_msg > 0) cpus.push_back(run.cpu_us_per_msg);
      shares.push_back(run.server_cpu_share);
    }
    row.msgs_per_s = interval_of(rates);
    row.cpu_us_per_msg = interval_of(cpus);
    row.cpu_share = interval_of(shares);
    row.client_cpu_share = interval_of(clients);
    int bound = 0;
    for (const RunRecord& run : row.runs) bound += run.client_bound ? 1 : 0;
    row.client_bound = bound * 2 > static_cast<int>(row.runs.size());
  }
  if (loaded.empty() || row.runs.size() == 1) {
    row.msgs_per_s_min = row.msgs_per_s_max = s.msgs_per_s;
    return row;
  }
  s.load_ran = true;
  set_median(s, loaded, &RunRecord::messages);
  set_median(s, loaded, &RunRecord::bytes);
  set_median(s, loaded, &RunRecord::seconds);
  set_median(s, loaded, &RunRecord::msgs_per_s);
  set_median(s, loaded, &RunRecord::bytes_per_s);
  set_median(s, loaded, &RunRecord::p50_ns);
  set_median(s, loaded, &RunRecord::p90_ns);
  set_median(s, loaded, &RunRecord::p99_ns);
  set_median(s, loaded, &RunRecord::p999_ns);
  set_median(s, loaded, &RunRecord::max_ns);
  set_median(s, loaded, &RunRecord::mean_ns);
  set_median(s, loaded, &RunRecord::client_cpu_seconds);
  set_median(s, loaded, &RunRecord::client_cpu_share);
  set_median(s, loaded, &RunRecord::steal_share);
  set_median(s, loaded, &RunRecord::server_cpu_share);
  set_median(s, loaded, &RunRecord::idle_open);
  set_median(s, loaded, &RunRecord::slow_open);
  set_median(s, loaded, &RunRecord::held_not_established);
  set_median(s, loaded, &RunRecord::held_closed);
  set_median(s, loaded, &RunRecord::held_setup_seconds);
  set_median(s, loaded, &RunRecord::server_user_seconds);
  set_median(s, loaded, &RunRecord::server_system_seconds);
  set_median(s, loaded, &RunRecord::server_cpu_seconds);
  set_median(s, loaded, &RunRecord::server_sampled_seconds);
  set_median(s, loaded, &RunRecord::cpu_us_per_msg);
  set_median(s, loaded, &RunRecord::peak_rss_bytes);
  set_median(s, loaded, &RunRecord::pss_bytes);
  set_median(s, loaded, &RunRecord::peak_threads);
  set_median(s, loaded, &RunRecord::peak_processes);
  set_median(s, loaded, &RunRecord::voluntary_switches);
  set_median(s, loaded, &RunRecord::involuntary_switches);
  // A limit row says how many went unanswered in the run that showed the limit, not a median of 0 over the others.
  if (s.outcome != Outcome::kLimit) set_median(s, loaded, &RunRecord::never_answered);
  set_median(s, loaded, &RunRecord::connections_opened);
  // Errors are summed rather than averaged: one corrupted byte in any run is worth seeing.
  s.errors = s.connect_errors = s.resets = s.timeouts = s.mismatches = s.http_errors = 0;
  for (const RunRecord* run : loaded) {
    s.errors += run->errors;
    s.connect_errors += run->connect_errors;
    s.resets += run->resets;
    s.timeouts += run->timeouts;
    s.mismatches += run->mismatches;
    s.http_errors += run->http_errors;
    if (s.first_error.empty()) s.first_error = run->first_error;
  }
  std::vector<double> syscalls;
  std::vector<double> wrk_rate, wrk_p50, wrk_p99;
  std::uint64_t wrk_errors = 0;
  for (const RunRecord* run : loaded) {
    if (run->syscalls_per_msg) syscalls.push_back(*run->syscalls_per_msg);
    if (run->wrk.ran) {
      wrk_rate.push_back(run->wrk.requests_per_s);
      wrk_p50.push_back(run->wrk.p50_ns);
      wrk_p99.push_back(run->wrk.p99_ns);
      wrk_errors += run->wrk.errors;
    }
  }
  auto median = [](std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t middle = values.size() / 2;
    return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
  };
  if (!syscalls.empty()) s.syscalls_per_msg = median(syscalls);
  if (!wrk_rate.empty()) {
    s.wrk.ran = true;
    s.wrk.error.clear();
    s.wrk.requests_per_s = median(wrk_rate);
    s.wrk.p50_ns = median(wrk_p50);
    s.wrk.p99_ns = median(wrk_p99);
    s.wrk.errors = wrk_errors;
  }
  row.msgs_per_s_min = row.msgs_per_s_max = loaded.front()->msgs_per_s;
  for (const RunRecord* run : loaded) {
    row.msgs_per_s_min = std::min(row.msgs_per_s_min, run->msgs_per_s);
    row.msgs_per_s_max = std::max(row.msgs_per_s_max, run->msgs_per_s);
  }
  // A stop problem in any run is reported.
  for (const RunRecord& run : row.runs) {
    if (!run.stop_note.empty() && s.stop_note.empty()) s.stop_note = run.stop_note;
  }
  return row;
}

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string number(double value, int precision) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", precision, value);
  return text;
}

}  // namespace

MachineInfo read_machine_info() {
  MachineInfo info;
  std::istringstream cpuinfo(read_file("/proc/cpuinfo"));
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      info.cpu_model = line.substr(line.find(':') + 2);
      break;
    }
  }
  info.cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  std::istringstream meminfo(read_file("/proc/meminfo"));
  for (std::string line; std::getline(meminfo, line);) {
    if (line.rfind("MemTotal:", 0) == 0) {
      info.memory_bytes = std::strtoull(line.c_str() + 9, nullptr, 10) * 1024;
      break;
    }
  }
  utsname name{};
  if (::uname(&name) == 0) {
    info.kernel = std::string(name.sysname) + " " + name.release + " " + name.machine;
    info.hostname = name.nodename;
  }
  return info;
}

std::vector<Row> aggregate(const std::vector<RunRecord>& runs, const std::vector<std::string>& models,
                           const std::vector<Scenario>& scenarios, double client_bound_share) {
  std::vector<Row> rows;
  for (const std::string& model : models) {
    for (const Scenario& scenario : scenarios) {
      std::vector<RunRecord> matching;
      for (const RunRecord& run : runs) {
        if (run.model == model && run.scenario.name == scenario.name) {
          matching.push_back(run);
          // Records made elsewhere (the tests') may not carry the mark; the share decides.
          if (run.load_ran && run.client_cpu_share >= client_bound_share) matching.back().client_bound = true;
        }
      }
      if (!matching.empty()) rows.push_back(summarize(std::move(matching)));
    }
  }
  for (const Scenario& scenario : scenarios) {
    Row* fastest = nullptr;
    Row* leanest = nullptr;
    for (Row& row : rows) {
      if (row.summary.scenario.name != scenario.name || !row.eligible()) continue;
      // A client-bound row's msgs/s is the load generator's: it is never the fastest. In an open loop every
      // model that keeps up sends the same msgs/s, so none is.
      if (!row.client_bound && !scenario.open_loop() &&
          (!fastest || row.summary.msgs_per_s > fastest->summary.msgs_per_s)) {
        fastest = &row;
      }
      if (row.summary.cpu_us_per_msg > 0 &&
          (!leanest || row.summary.cpu_us_per_msg < leanest->summary.cpu_us_per_msg)) {
        leanest = &row;
      }
    }
    if (fastest) fastest->best_throughput = true;
    if (leanest) leanest->best_cpu = true;
  }
  return rows;
}

std::vector<const Row*> rows_of(const CompareResults& results, const std::string& scenario) {
  std::vector<const Row*> rows;
  for (const Row& row : results.rows) {
    if (row.summary.scenario.name == scenario) rows.push_back(&row);
  }
  return rows;
}

const Row* find_row(const CompareResults& results, const std::string& model, const std::string& scenario) {
  for (const Row& row : results.rows) {
    if (row.summary.model == model && row.summary.scenario.name == scenario) return &row;
  }
  return nullptr;
}

Ranking rank_scenario(const CompareResults& results, const Scenario& scenario, bool on_throughput) {
  std::vector<Candidate> candidates;
  for (const Row* row : rows_of(results, scenario.name)) {
    if (!row->eligible()) continue;
    if (on_throughput) {
      if (scenario.open_loop() || row->client_bound || row->msgs_per_s.empty()) continue;
      candidates.push_back({row->summary.model, row->msgs_per_s});
    } else {
      if (row->cpu_us_per_msg.empty()) continue;
      candidates.push_back({row->summary.model, row->cpu_us_per_msg});
    }
  }
  return rank(std::move(candidates), on_throughput, verdict_min_ratio(results, scenario.name, on_throughput));
}

double verdict_min_ratio(const CompareResults& results, const std::string& scenario, bool on_throughput) {
  return 1.0 + median_relative_spread(results, scenario, on_throughput);
}

std::vector<PairVerdict> all_verdicts(const CompareResults& results) {
  std::vector<PairVerdict> verdicts;
  for (const Scenario& scenario : results.scenarios) {
    for (bool on_throughput : {true, false}) {
      const Ranking ranking = rank_scenario(results, scenario, on_throughput);
      // In the models' order, so that two comparisons list the same pairs the same way round.
      std::vector<const Candidate*> in_order;
      for (const std::string& model : results.models) {
        for (const Candidate& c : ranking.order) {
          if (c.model == model) in_order.push_back(&c);
        }
      }
      const double min_ratio = verdict_min_ratio(results, scenario.name, on_throughput);
      for (std::size_t i = 0; i < in_order.size(); ++i) {
        for (std::size_t j = i + 1; j < in_order.size(); ++j) {
          PairVerdict v;
          v.scenario = scenario.name;
          v.metric = on_throughput ? "msgs_per_s" : "cpu_us_per_msg";
          v.a = in_order[i]->model;
          v.b = in_order[j]->model;
          v.verdict = judge(in_order[i]->interval, in_order[j]->interval, on_throughput, min_ratio);
          v.ratio = lead_ratio(in_order[i]->interval, in_order[j]->interval, on_throughput);
          verdicts.push_back(v);
        }
      }
    }
  }
  return verdicts;
}

double median_relative_spread(const CompareResults& results, const std::string& scenario, bool on_throughput) {
  std::vector<double> spreads;
  for (const Row* row : rows_of(results, scenario)) {
    const Interval& i = on_throughput ? row->msgs_per_s : row->cpu_us_per_msg;
    if (i.runs >= 2 && i.median > 0) spreads.push_back((i.high - i.low) / i.median);
  }
  return interval_of(spreads).median;
}

std::string row_note(const Row& row) {
  std::string note = row.summary.note;
  if (!row.summary.stop_note.empty()) note += (note.empty() ? "" : "; ") + row.summary.stop_note;
  return note;
}

nlohmann::json run_to_json(const RunRecord& r) {
  nlohmann::json json = {
      {"model", r.model},
      {"scenario", r.scenario.name},
      {"connections", r.scenario.connections},
      {"size", r.scenario.size},
      {"rate", r.scenario.rate},
      {"idle", r.scenario.idle},
      {"slow", r.scenario.slow},
      {"connect_per_message", r.scenario.connect_per_message},
      {"repeat", r.repeat},
      {"outcome", to_string(r.outcome)},
      {"note", r.note},
      {"load_ran", r.load_ran},
      {"messages", r.messages},
      {"bytes", r.bytes},
      {"seconds", r.seconds},
      {"messages_per_s", r.msgs_per_s},
      {"bytes_per_s", r.bytes_per_s},
      {"latency_ns", {{"p50", r.p50_ns}, {"p90", r.p90_ns}, {"p99", r.p99_ns}, {"p99_9", r.p999_ns},
                      {"max", r.max_ns}, {"mean", r.mean_ns}}},
      {"errors", {{"total", r.errors}, {"connect", r.connect_errors}, {"resets", r.resets},
                  {"timeouts", r.timeouts}, {"mismatches", r.mismatches}, {"http", r.http_errors},
                  {"first", r.first_error}}},
      {"connections_opened", r.connections_opened},
      {"connections_never_answered", r.never_answered},
      {"client_cpu_seconds", r.client_cpu_seconds},
      {"client_cpu_share", r.client_cpu_share},
      {"client_bound", r.client_bound},
      {"steal_share", r.steal_share},
      {"held", {{"idle_open", r.idle_open}, {"slow_open", r.slow_open}, {"not_established", r.held_not_established},
                {"closed_by_server", r.held_closed}, {"setup_seconds", r.held_setup_seconds}}},
      {"server", {{"user_seconds", r.server_user_seconds},
                  {"system_seconds", r.server_system_seconds},
                  {"cpu_seconds", r.server_cpu_seconds},
                  {"sampled_seconds", r.server_sampled_seconds},
                  {"cpu_us_per_message", r.cpu_us_per_msg},
                  {"cpu_share_of_a_core", r.server_cpu_share},
                  {"peak_rss_bytes", r.peak_rss_bytes},
                  {"pss_bytes", r.pss_bytes},
                  {"peak_threads", r.peak_threads},
                  {"peak_processes", r.peak_processes},
                  {"voluntary_context_switches", r.voluntary_switches},
                  {"involuntary_context_switches", r.involuntary_switches},
                  {"stderr", r.server_stderr}}},
      {"stop", {{"clean", r.stopped_cleanly}, {"note", r.stop_note}, {"ms", r.stop_ms}}},
  };
  json["server"]["syscalls"] = r.syscalls ? nlohmann::json(*r.syscalls) : nlohmann::json(nullptr);
  json["server"]["syscalls_seconds"] = r.syscalls_seconds;
  json["server"]["syscalls_per_message"] =
      r.syscalls_per_msg ? nlohmann::json(*r.syscalls_per_msg) : nlohmann::json(nullptr);
  if (!r.syscalls_note.empty()) json["server"]["syscalls_note"] = r.syscalls_note;
  if (r.wrk.ran || !r.wrk.error.empty()) {
    json["wrk"] = {{"ran", r.wrk.ran},           {"error", r.wrk.error},   {"requests_per_s", r.wrk.requests_per_s},
                   {"latency_p50_ns", r.wrk.p50_ns}, {"latency_p99_ns", r.wrk.p99_ns}, {"requests", r.wrk.requests},
                   {"errors", r.wrk.errors}};
  }
  return json;
}

nlohmann::json options_to_json(const CompareOptions& o) {
  return {
      {"models", o.models},
      {"quick", o.quick},
      {"mix", o.mix_scenarios},
      {"client_bound_share", o.client_bound_share},
      {"connections", o.connections},
      {"sizes", o.sizes},
      {"duration_s", static_cast<double>(o.duration.count()) / 1e9},
      {"warmup_s", static_cast<double>(o.warmup.count()) / 1e9},
      {"pipeline", o.pipeline},
      {"rate", o.rate},
      {"http", o.http},
      {"wrk", o.wrk},
      {"syscalls", o.syscalls},
      {"net", o.net},
      {"repeat", o.repeat},
      {"out", o.out_dir},
      {"bin", o.bin_dir},
      {"server_cpus", o.server_cpus},
      {"client_cpus", o.client_cpus},
      {"banner_timeout_ms", o.banner_timeout.count()},
      {"stop_timeout_ms", o.stop_timeout.count()},
  };
}

nlohmann::json results_to_json(const CompareResults& results) {
  nlohmann::json rows = nlohmann::json::array();
  for (const Row& row : results.rows) {
    nlohmann::json json = run_to_json(row.summary);
    json.erase("repeat");
    json["messages_per_s_min"] = row.msgs_per_s_min;
    json["messages_per_s_max"] = row.msgs_per_s_max;
    auto interval = [](const Interval& i) {
      return nlohmann::json{{"median", i.median}, {"low", i.low}, {"high", i.high}, {"runs", i.runs}};
    };
    // The interval is the min-max of the runs that served the whole load (verdict.hpp).
    json["intervals"] = {{"kind", "min-max of the runs"},
                         {"messages_per_s", interval(row.msgs_per_s)},
                         {"cpu_us_per_message", interval(row.cpu_us_per_msg)},
                         {"cpu_share_of_a_core", interval(row.cpu_share)},
                         {"client_cpu_share", interval(row.client_cpu_share)}};
    json["client_bound"] = row.client_bound;
    json["best_throughput"] = row.best_throughput;
    json["best_cpu_per_message"] = row.best_cpu;
    nlohmann::json runs = nlohmann::json::array();
    for (const RunRecord& run : row.runs) runs.push_back(run_to_json(run));
    json["runs"] = std::move(runs);
    rows.push_back(std::move(json));
  }
  nlohmann::json scenarios = nlohmann::json::array();
  for (const Scenario& scenario : results.scenarios) {
    scenarios.push_back({{"name", scenario.name},
                         {"connections", scenario.connections},
                         {"size", scenario.size},
                         {"rate", scenario.rate},
                         {"connect_per_message", scenario.connect_per_message},
                         {"idle", scenario.idle},
                         {"slow", scenario.slow},
                         {"slow_interval_s", static_cast<double>(scenario.slow_interval.count()) / 1e9},
                         {"shows", scenario.shows},
                         {"loadgen", loadgen_command(scenario, results.options.duration, results.options.warmup,
                                                     results.options.http)},
                         {"spread_messages_per_s", median_relative_spread(results, scenario.name, true)},
                         {"spread_cpu_us_per_message", median_relative_spread(results, scenario.name, false)}});
  }
  nlohmann::json verdicts = nlohmann::json::array();
  for (const PairVerdict& v : results.verdicts) {
    verdicts.push_back({{"scenario", v.scenario}, {"metric", v.metric}, {"a", v.a}, {"b", v.b},
                        {"verdict", v.verdict == Verdict::kTie ? "tie" : v.verdict == Verdict::kFirstAhead ? "a" : "b"},
                        {"ratio", v.ratio}});
  }
  nlohmann::json mixes = nlohmann::json::array();
  for (const SyscallMix& mix : results.mixes) {
    nlohmann::json calls = nlohmann::json::object();
    for (const auto& [name, per_msg] : mix.per_msg) calls[name] = per_msg;
    mixes.push_back({{"model", mix.model}, {"scenario", mix.scenario}, {"counted", mix.counted}, {"note", mix.note},
                     {"messages", mix.messages}, {"syscalls_per_message", mix.total_per_msg}, {"per_message", calls}});
  }
  auto calibrations = [](const std::vector<Calibration>& list) {
    nlohmann::json json = nlohmann::json::array();
    for (const Calibration& c : list) {
      json.push_back({{"cpu", c.cpu}, {"ns_per_iteration", c.ns_per_iteration}, {"min_ns", c.min_ns},
                      {"max_ns", c.max_ns}});
    }
    return json;
  };
  const nlohmann::json noise = {{"calibration_before", calibrations(results.noise.before)},
                                {"calibration_after", calibrations(results.noise.after)},
                                {"steal_share", results.noise.steal_share},
                                {"steal_share_worst_run", results.noise.steal_share_max_run}};
  return {
      {"tool", "iomodels compare"},
      {"loadgen_version", loadgen::kLoadgenVersion},
      {"command", results.options.command_line},
      {"started_at", results.started_at},
      {"elapsed_s", results.elapsed_s},
      {"options", options_to_json(results.options)},
      {"machine", {{"cpu_model", results.machine.cpu_model},
                   {"cpus", results.machine.cpus},
                   {"memory_bytes", results.machine.memory_bytes},
                   {"kernel", results.machine.kernel},
                   {"hostname", results.machine.hostname}}},
      {"models", results.models},
      {"scenarios", scenarios},
      {"notes", results.notes},
      {"charts", results.charts},
      {"noise", noise},
      {"verdicts", verdicts},
      {"syscall_mix", mixes},
      {"results", rows},
  };
}

std::string csv_header() {
  return "model,scenario,connections,size,outcome,note,messages_per_s,messages_per_s_min,messages_per_s_max,mb_per_s,"
         "p50_us,p90_us,p99_us,p99_9_us,max_us,server_cpu_s,server_cpu_us_per_message,peak_rss_mib,pss_mib,"
         "peak_threads,peak_processes,voluntary_context_switches,involuntary_context_switches,errors,"
         "connect_errors,resets,timeouts,mismatches,http_errors,connections_never_answered,syscalls_per_message,"
         "wrk_requests_per_s,wrk_p50_us,wrk_p99_us,wrk_errors,stopped_cleanly,best_throughput,best_cpu,"
         "server_cpu_us_per_message_min,server_cpu_us_per_message_max,server_cpu_share,client_cpu_share,client_bound,"
         "steal_share,runs";
}

std::string csv_line(const Row& row) {
  const RunRecord& s = row.summary;
  const bool loaded = s.load_ran;
  auto figure = [&](double value, int precision) { return loaded ? number(value, precision) : std::string(); };
  std::vector<std::string> fields{
      csv_field(s.model),
      csv_field(s.scenario.name),
      std::to_string(s.scenario.connections),
      std::to_string(s.scenario.size),
      to_string(s.outcome),
      csv_field(row_note(row)),
      figure(s.msgs_per_s, 1),
      figure(row.msgs_per_s_min, 1),
      figure(row.msgs_per_s_max, 1),
      figure(s.bytes_per_s / 1e6, 3),
      figure(s.p50_ns / 1e3, 2),
      figure(s.p90_ns / 1e3, 2),
      figure(s.p99_ns / 1e3, 2),
      figure(s.p999_ns / 1e3, 2),
      figure(s.max_ns / 1e3, 2),
      figure(s.server_cpu_seconds, 3),
      figure(s.cpu_us_per_msg, 3),
      figure(static_cast<double>(s.peak_rss_bytes) / (1024.0 * 1024.0), 2),
      figure(static_cast<double>(s.pss_bytes) / (1024.0 * 1024.0), 2),
      loaded ? std::to_string(s.peak_threads) : "",
      loaded ? std::to_string(s.peak_processes) : "",
      loaded ? std::to_string(s.voluntary_switches) : "",
      loaded ? std::to_string(s.involuntary_switches) : "",
      loaded ? std::to_string(s.errors) : "",
      loaded ? std::to_string(s.connect_errors) : "",
      loaded ? std::to_string(s.resets) : "",
      loaded ? std::to_string(s.timeouts) : "",
      loaded ? std::to_string(s.mismatches) : "",
      loaded ? std::to_string(s.http_errors) : "",
      loaded ? std::to_string(s.never_answered) : "",
      s.syscalls_per_msg ? number(*s.syscalls_per_msg, 2) : "",
      s.wrk.ran ? number(s.wrk.requests_per_s, 1) : "",
      s.wrk.ran ? number(s.wrk.p50_ns / 1e3, 2) : "",
      s.wrk.ran ? number(s.wrk.p99_ns / 1e3, 2) : "",
      s.wrk.ran ? std::to_string(s.wrk.errors) : "",
      s.outcome == Outcome::kFailed && !loaded ? "" : (s.stopped_cleanly ? "true" : "false"),
      row.best_throughput ? "true" : "false",
      row.best_cpu ? "true" : "false",
      row.cpu_us_per_msg.empty() ? "" : number(row.cpu_us_per_msg.low, 3),
      row.cpu_us_per_msg.empty() ? "" : number(row.cpu_us_per_msg.high, 3),
      figure(s.server_cpu_share, 4),
      figure(s.client_cpu_share, 3),
      row.client_bound ? "true" : "false",
      figure(s.steal_share, 4),
      std::to_string(row.runs.size()),
  };
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) line += (i ? "," : "") + fields[i];
  return line;
}

std::string results_to_csv(const CompareResults& results) {
  std::string text = csv_header() + "\n";
  for (const Row& row : results.rows) text += csv_line(row) + "\n";
  return text;
}

}  // namespace iomodels::compare
