#include "compare/report.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

namespace iomodels::compare {
namespace {


std::string fixed(double value, int precision) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", precision, value);
  return text;
}

// Three significant digits or so, for figures whose size varies by orders of magnitude.
std::string short_figure(double value) {
  if (value >= 100) return fixed(value, 0);
  if (value >= 10) return fixed(value, 1);
  return fixed(value, 2);
}

// Terminal columns taken by UTF-8 text: every byte that does not continue a character ("µ" is two bytes).
std::size_t display_width(const std::string& text) {
  std::size_t width = 0;
  for (unsigned char c : text) width += (c & 0xC0) != 0x80;
  return width;
}

std::string markdown_cell(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '|') escaped += '\\';
    escaped += c;
  }
  return escaped;
}


std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) text += (i ? separator : "") + items[i];
  return text;
}

std::string mode_text(const CompareOptions& o) {
  std::string text = o.http ? "HTTP/1.1 keep-alive POST" : "raw echo";
  if (o.pipeline > 1) text += ", pipeline " + std::to_string(o.pipeline);
  text += o.net == "veth" ? ", server behind a veth pair in its own network namespace" : ", over loopback";
  return text;
}

std::string seconds_text(std::chrono::nanoseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", static_cast<double>(duration.count()) / 1e9);
  return text;
}

}  // namespace

std::string format_count(double value) {
  std::string digits = fixed(value, 0);
  std::string grouped;
  const std::size_t start = digits[0] == '-' ? 1 : 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > start && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  return grouped;
}

std::string format_latency(double ns) {
  if (ns < 1e3) return fixed(ns, 0) + "ns";
  if (ns < 1e6) return short_figure(ns / 1e3) + "µs";
  if (ns < 1e9) return short_figure(ns / 1e6) + "ms";
  return short_figure(ns / 1e9) + "s";
}

std::string format_size(std::size_t bytes) {
  if (bytes >= (1U << 20) && bytes % (1U << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

std::string format_scenario(int connections, std::size_t size) {
  return std::to_string(connections) + (connections == 1 ? " conn, " : " conns, ") + format_size(size);
}


namespace {

std::string percent(double share) { return short_figure(share * 100) + " %"; }

// The key figure of a scenario for a row, its interval, and the unit, as the summary and the reading show them.
struct KeyValue {
  Interval interval;
  std::string unit;
  bool on_throughput = false;  // ranked on msgs/s (else on CPU per message)
};

KeyValue key_value(const Scenario& scenario, const Row& row) {
  KeyValue k;
  switch (scenario.key) {
    case KeyFigure::kMessagesPerSecond:
      k.interval = row.msgs_per_s;
      k.unit = "msgs/s";
      k.on_throughput = true;
      break;
    case KeyFigure::kCpuPerMessage:
      k.interval = row.cpu_us_per_msg;
      k.unit = "µs/msg";
      break;
    case KeyFigure::kCpuPerConnection:
      k.interval = row.cpu_us_per_msg;
      k.unit = "µs/conn";
      break;
    case KeyFigure::kCpuShare:
      k.interval = row.cpu_share;
      k.interval.low *= 100;
      k.interval.median *= 100;
      k.interval.high *= 100;
      k.unit = "% of a core";
      break;
    case KeyFigure::kCpuPerMegabyte: {
      const double mb = static_cast<double>(scenario.size) / 1e6;
      k.interval = row.cpu_us_per_msg;
      k.interval.low /= mb;
      k.interval.median /= mb;
      k.interval.high /= mb;
      k.unit = "µs/MB";
      break;
    }
  }
  return k;
}

std::string figure_text(double value, const std::string& unit) {
  return unit == "msgs/s" ? format_count(value) : short_figure(value);
}

std::string interval_text(const Interval& i, const std::string& unit) {
  if (i.runs < 2) return figure_text(i.median, unit);
  return figure_text(i.median, unit) + " [" + figure_text(i.low, unit) + "–" + figure_text(i.high, unit) + "]";
}

// The mark of a row in its scenario's key figure: best, tied, limit, failed, errors, client-bound.
std::string mark_of(const CompareResults& results, const Scenario& scenario, const Row& row) {
  if (row.summary.outcome == Outcome::kFailed) return "failed";
  if (row.summary.outcome == Outcome::kLimit) return "limit";
  if (!row.eligible()) return "errors";
  const KeyValue k = key_value(scenario, row);
  if (k.on_throughput && row.client_bound) return "client-bound";
  const Ranking ranking = rank_scenario(results, scenario, k.on_throughput);
  if (ranking.order.empty()) return "";
  if (ranking.best_alone && ranking.order.front().model == row.summary.model) return "best";
  if (std::find(ranking.tied.begin(), ranking.tied.end(), row.summary.model) != ranking.tied.end()) return "tied";
  return row.client_bound ? "client-bound" : "";
}

std::string list_models(const std::vector<std::string>& models) {
  std::vector<std::string> quoted;
  for (const std::string& m : models) quoted.push_back("`" + m + "`");
  return join(quoted, ", ");
}

// "msgs/s: best `a` 120,000 [118,000–121,000]; ..." for one metric of one scenario.
std::string verdict_digest(const CompareResults& results, const Scenario& scenario, bool on_throughput) {
  const Ranking ranking = rank_scenario(results, scenario, on_throughput);
  const std::string unit = on_throughput ? "msgs/s" : "µs/msg";
  const std::string what = on_throughput ? "msgs/s" : "server CPU µs/msg";
  if (ranking.order.empty()) {
    if (on_throughput) {
      bool any_bound = false;
      for (const Row* row : rows_of(results, scenario.name)) any_bound = any_bound || (row->eligible() && row->client_bound);
      if (any_bound) {
        return what + ": every model that served the load saturated the load generator (client-bound), so msgs/s "
                      "measures the client here and ranks no model";
      }
    }
    return what + ": no model to rank";
  }
  const Candidate& best = ranking.order.front();
  std::string text = what + ": ";
  if (ranking.order.size() == 1) return text + "only `" + best.model + "` ranked, " + interval_text(best.interval, unit);
  if (best.interval.runs < 2) return text + "one run each: no interval, no verdict";
  if (ranking.best_alone) {
    const Candidate& next = ranking.order[1];
    text += "`" + best.model + "` ahead of every other, " + interval_text(best.interval, unit) + "; `" + best.model +
            "` ahead of the runner-up `" + next.model + "` (" + interval_text(next.interval, unit) + ") by " +
            fixed(lead_ratio(best.interval, next.interval, on_throughput), 2) + "×";
  } else {
    std::vector<std::string> shown;
    for (const std::string& m : ranking.tied) {
      for (const Candidate& c : ranking.order) {
        if (c.model == m) shown.push_back("`" + m + "` " + interval_text(c.interval, unit));
      }
    }
    text += "tied within the noise for the lead: " + join(shown, ", ");
    // The first model clearly behind every one of the leaders, if any.
    for (const Candidate& c : ranking.order) {
      if (std::find(ranking.tied.begin(), ranking.tied.end(), c.model) != ranking.tied.end()) continue;
      bool behind_all = true;
      for (const Candidate& lead : ranking.order) {
        if (std::find(ranking.tied.begin(), ranking.tied.end(), lead.model) == ranking.tied.end()) continue;
        behind_all = behind_all && judge(lead.interval, c.interval, on_throughput,
                                         verdict_min_ratio(results, scenario.name, on_throughput)) ==
                                       Verdict::kFirstAhead;
      }
      if (behind_all) {
        text += "; `" + best.model + "` ahead of `" + c.model + "` (" + interval_text(c.interval, unit) + ") by " +
                fixed(lead_ratio(best.interval, c.interval, on_throughput), 2) + "×";
        break;
      }
    }
  }
  const Candidate& last = ranking.order.back();
  if (ranking.order.size() >= 3 &&
      judge(best.interval, last.interval, on_throughput, verdict_min_ratio(results, scenario.name, on_throughput)) ==
          Verdict::kFirstAhead) {
    text += "; the " + std::string(on_throughput ? "slowest" : "costliest") + " `" + last.model + "`, " +
            interval_text(last.interval, unit) + ", " + fixed(lead_ratio(best.interval, last.interval, on_throughput), 1) +
            "× " + (on_throughput ? "fewer" : "more") + " than `" + best.model + "`";
  }
  return text;
}

std::vector<std::string> limited_models(const CompareResults& results, const std::string& scenario) {
  std::vector<std::string> models;
  for (const Row* row : rows_of(results, scenario)) {
    if (row->summary.outcome == Outcome::kLimit) models.push_back(row->summary.model);
  }
  return models;
}

// What the data show about the property a named scenario is there for; empty when the scenario is custom.
std::string property_sentence(const CompareResults& results, const Scenario& scenario) {
  const std::string& name = scenario.name;
  auto served = [&](const std::string& s) {
    std::vector<const Row*> rows;
    for (const Row* row : rows_of(results, s)) {
      if (row->eligible()) rows.push_back(row);
    }
    return rows;
  };
  if (name == "pingpong") {
    const auto rows = served(name);
    if (rows.size() < 2) return "";
    const Row* fast = rows.front();
    const Row* slow = rows.front();
    for (const Row* r : rows) {
      if (r->summary.p50_ns < fast->summary.p50_ns) fast = r;
      if (r->summary.p50_ns > slow->summary.p50_ns) slow = r;
    }
    std::string text = "One connection, one message in flight: each message is a full round trip and a wake-up, so "
                       "the median latency runs from " + format_latency(fast->summary.p50_ns) + " (`" +
                       fast->summary.model + "`) to " + format_latency(slow->summary.p50_ns) + " (`" +
                       slow->summary.model + "`)";
    // Models within 1.5x of the fastest are bound by the round trip itself.
    int near = 0;
    for (const Row* r : rows) near += r->summary.p50_ns <= fast->summary.p50_ns * 1.5 ? 1 : 0;
    text += "; " + std::to_string(near) + " of " + std::to_string(rows.size()) +
            " models are within 1.5× of the fastest, bound by the round trip rather than by their IO model.";
    return text;
  }
  if (name == "idle-10k") {
    std::vector<std::string> grew, same;
    for (const Row* row : served(name)) {
      const Row* base = find_row(results, row->summary.model, "busy");
      if (!base || !base->eligible() || base->cpu_us_per_msg.empty() || row->cpu_us_per_msg.empty()) continue;
      const Verdict v = judge(row->cpu_us_per_msg, base->cpu_us_per_msg, false);
      const double ratio = row->cpu_us_per_msg.median / base->cpu_us_per_msg.median;
      const std::string item = "`" + row->summary.model + "` " + fixed(ratio, 1) + "× (" +
                               interval_text(row->cpu_us_per_msg, "µs") + " against " +
                               interval_text(base->cpu_us_per_msg, "µs") + " µs/msg in busy)";
      if (v == Verdict::kSecondAhead) {
        grew.push_back(item);
      } else {
        same.push_back("`" + row->summary.model + "` " + fixed(ratio, 2) + "×");
      }
    }
    std::string text;
    if (!grew.empty()) {
      text += "With 10,000 idle connections beside the same 50 active ones, server CPU per message grew for " +
              join(grew, ", ") + ": each round of these models costs in proportion to every connection it holds. ";
    }
    if (!same.empty()) text += "It stayed within the noise of busy (no verdict of growth) for " + join(same, ", ") + ". ";
    const Row* most = nullptr;
    for (const Row* row : rows_of(results, name)) {
      if (row->summary.load_ran && (!most || row->summary.peak_threads > most->summary.peak_threads)) most = row;
    }
    if (most && most->summary.peak_threads > 1000) {
      text += "`" + most->summary.model + "` held " + format_count(most->summary.peak_threads) + " threads (peak RSS " +
              short_figure(static_cast<double>(most->summary.peak_rss_bytes) / (1024.0 * 1024.0)) + " MiB). ";
    }
    const auto limited = limited_models(results, name);
    if (!limited.empty()) {
      text += "At their limit (the 50 active connections were not all answered): " + list_models(limited) + ".";
    }
    return text;
  }
  if (name == "light") {
    auto rows = served(name);
    if (rows.size() < 2) return "";
    std::sort(rows.begin(), rows.end(),
              [](const Row* a, const Row* b) { return a->cpu_share.median > b->cpu_share.median; });
    const Row* top = rows.front();
    std::string text = "At 2,000 msgs/s the server's CPU is a share of one core: the highest is `" + top->summary.model +
                       "`, " + percent(top->cpu_share.median) + " [" + percent(top->cpu_share.low) + "–" +
                       percent(top->cpu_share.high) + "]";
    const Row* second = rows[1];
    if (judge(top->cpu_share, second->cpu_share, true) == Verdict::kFirstAhead) {
      text += ", ahead of every other (the next, `" + second->summary.model + "`, " + percent(second->cpu_share.median) +
              ")";
    }
    const Row* low = rows.back();
    text += "; the lowest `" + low->summary.model + "`, " + percent(low->cpu_share.median) + " [" +
            percent(low->cpu_share.low) + "–" + percent(low->cpu_share.high) + "].";
    // A model that never waits shows it in its voluntary context switches: it never gives up its CPU by itself, so
    // it burns whatever share of the core the machine leaves it.
    std::vector<double> others;
    for (const Row* r : rows) {
      if (r != top) others.push_back(static_cast<double>(r->summary.voluntary_switches));
    }
    const double typical = interval_of(others).median;
    if (typical > 0 && static_cast<double>(top->summary.voluntary_switches) < typical / 10) {
      text += " `" + top->summary.model + "` never waited: " + format_count(top->summary.voluntary_switches) +
              " voluntary context switches in the window against a median of " + format_count(typical) +
              " for the others, so it spins on whatever share of its core the machine leaves it (on an idle machine, "
              "a whole core).";
    }
    return text;
  }
  if (name == "accept") {
    std::vector<std::string> parts;
    for (const auto& [a, b] : std::vector<std::pair<std::string, std::string>>{
             {"blocking-fork", "blocking-prefork"}, {"blocking-threads", "blocking-pool"}}) {
      const Row* ra = find_row(results, a, name);
      const Row* rb = find_row(results, b, name);
      if (!ra || !rb || !ra->eligible() || !rb->eligible()) continue;
      const Verdict v = judge(ra->cpu_us_per_msg, rb->cpu_us_per_msg, false);
      std::string part = "`" + a + "` " + interval_text(ra->cpu_us_per_msg, "µs") + " µs per connection against `" +
                         b + "` " + interval_text(rb->cpu_us_per_msg, "µs");
      if (v == Verdict::kTie) {
        part += ": tied within the noise";
      } else {
        const std::string& ahead = v == Verdict::kFirstAhead ? a : b;
        part += ": `" + ahead + "` ahead by " + fixed(lead_ratio(ra->cpu_us_per_msg, rb->cpu_us_per_msg, false), 2) + "×";
      }
      part += " (" + format_count(ra->msgs_per_s.median) + " against " + format_count(rb->msgs_per_s.median) +
              " connections/s)";
      parts.push_back(part);
    }
    if (parts.empty()) return "";
    return "A connection per message: " + join(parts, "; ") + ".";
  }
  if (name == "bulk") {
    auto rows = served(name);
    if (rows.size() < 2) return "";
    std::sort(rows.begin(), rows.end(),
              [](const Row* a, const Row* b) { return a->summary.bytes_per_s > b->summary.bytes_per_s; });
    return "64 KiB messages: from " + short_figure(rows.front()->summary.bytes_per_s / 1e6) + " MB/s (`" +
           rows.front()->summary.model + "`) to " + short_figure(rows.back()->summary.bytes_per_s / 1e6) + " MB/s (`" +
           rows.back()->summary.model + "`); the CPU ranking above counts µs per message of 64 KiB (÷ 0.066 for µs "
           "per MB), where copies and buffer handling show.";
  }
  if (name == "slow-clients") {
    const auto limited = limited_models(results, name);
    std::string text;
    if (!limited.empty()) {
      text += "500 peers sending a byte every 100 ms starved " + list_models(limited) +
              ": their workers sat in reads of the slow peers and the 10 active clients were not all answered. ";
    }
    auto rows = served(name);
    if (!rows.empty()) {
      std::sort(rows.begin(), rows.end(),
                [](const Row* a, const Row* b) { return a->msgs_per_s.median > b->msgs_per_s.median; });
      text += std::to_string(rows.size()) + " models served the 10 active clients beside them, from " +
              format_count(rows.back()->msgs_per_s.median) + " (`" + rows.back()->summary.model + "`) to " +
              format_count(rows.front()->msgs_per_s.median) + " msgs/s (`" + rows.front()->summary.model + "`).";
    }
    return text;
  }
  return "";
}

}  // namespace

Table build_table(const CompareResults& results) {
  Table table;
  for (const Scenario& scenario : results.scenarios) {
    Table part = scenario_table(results, scenario);
    if (table.headers.empty()) {
      table.headers.push_back("scenario");
      table.right_aligned.push_back(false);
      table.headers.insert(table.headers.end(), part.headers.begin(), part.headers.end());
      table.right_aligned.insert(table.right_aligned.end(), part.right_aligned.begin(), part.right_aligned.end());
    }
    for (auto& cells : part.rows) {
      cells.insert(cells.begin(), scenario.name);
      table.rows.push_back(std::move(cells));
    }
  }
  return table;
}

Table scenario_table(const CompareResults& results, const Scenario& scenario) {
  const CompareOptions& o = results.options;
  Table table;
  auto column = [&](const std::string& name, bool right) {
    table.headers.push_back(name);
    table.right_aligned.push_back(right);
  };
  const bool held = scenario.idle > 0 || scenario.slow > 0;
  column("model", false);
  column("msgs/s [min–max]", true);
  column("MB/s", true);
  column("p50", true);
  column("p99", true);
  column("CPU µs/msg [min–max]", true);
  column("CPU % core", true);
  if (o.syscalls) column("syscalls/msg", true);
  column("client CPU", true);
  column("RSS MiB", true);
  column("PSS MiB", true);
  column("thr/proc", true);
  if (held) column("held open", true);
  column("errors", true);
  if (o.wrk) {
    column("wrk req/s", true);
    column("wrk p99", true);
  }
  column("mark", false);
  column("note", false);

  for (const Row* row_ptr : rows_of(results, scenario.name)) {
    const Row& row = *row_ptr;
    const RunRecord& s = row.summary;
    const bool loaded = s.load_ran;
    auto or_dash = [&](const std::string& text) { return loaded ? text : std::string("-"); };
    std::vector<std::string> cells;
    cells.push_back(s.model);
    cells.push_back(row.msgs_per_s.empty() ? or_dash(format_count(s.msgs_per_s)) : interval_text(row.msgs_per_s, "msgs/s"));
    cells.push_back(or_dash(short_figure(s.bytes_per_s / 1e6)));
    const bool latency = loaded && s.messages > 0;
    cells.push_back(latency ? format_latency(s.p50_ns) : "-");
    cells.push_back(latency ? format_latency(s.p99_ns) : "-");
    cells.push_back(!row.cpu_us_per_msg.empty() ? interval_text(row.cpu_us_per_msg, "µs")
                                                : (latency && s.cpu_us_per_msg > 0 ? short_figure(s.cpu_us_per_msg) : "-"));
    cells.push_back(or_dash(short_figure(s.server_cpu_share * 100)));
    if (o.syscalls) cells.push_back(s.syscalls_per_msg ? short_figure(*s.syscalls_per_msg) : "-");
    cells.push_back(or_dash(percent(s.client_cpu_share)));
    cells.push_back(or_dash(short_figure(static_cast<double>(s.peak_rss_bytes) / (1024.0 * 1024.0))));
    cells.push_back(or_dash(short_figure(static_cast<double>(s.pss_bytes) / (1024.0 * 1024.0))));
    cells.push_back(or_dash(std::to_string(s.peak_threads) + "/" + std::to_string(s.peak_processes)));
    if (held) {
      cells.push_back(or_dash(format_count(s.idle_open + s.slow_open) + "/" +
                              format_count(scenario.idle + scenario.slow) +
                              (s.held_closed > 0 ? ", " + format_count(s.held_closed) + " closed" : "")));
    }
    cells.push_back(or_dash(format_count(static_cast<double>(s.errors))));
    if (o.wrk) {
      cells.push_back(s.wrk.ran ? format_count(s.wrk.requests_per_s) : "-");
      cells.push_back(s.wrk.ran ? format_latency(s.wrk.p99_ns) : "-");
    }
    std::string mark;
    const std::string throughput_mark = row.client_bound ? "client-bound" : "";
    const Ranking by_rate = rank_scenario(results, scenario, true);
    const Ranking by_cpu = rank_scenario(results, scenario, false);
    auto mark_in = [&](const Ranking& r, const std::string& what) -> std::string {
      if (r.order.empty()) return "";
      if (r.best_alone && r.order.front().model == s.model) return "best " + what;
      if (std::find(r.tied.begin(), r.tied.end(), s.model) != r.tied.end()) return "tied " + what;
      return "";
    };
    std::vector<std::string> marks;
    for (const std::string& m : {mark_in(by_rate, "msgs/s"), mark_in(by_cpu, "CPU"), throughput_mark}) {
      if (!m.empty()) marks.push_back(m);
    }
    mark = join(marks, ", ");
    cells.push_back(mark);
    cells.push_back(row_note(row));
    table.rows.push_back(std::move(cells));
  }
  return table;
}

Table summary_matrix(const CompareResults& results) {
  Table table;
  table.headers.push_back("model");
  table.right_aligned.push_back(false);
  for (const Scenario& scenario : results.scenarios) {
    std::string unit;
    switch (scenario.key) {
      case KeyFigure::kMessagesPerSecond: unit = "msgs/s"; break;
      case KeyFigure::kCpuPerMessage: unit = "µs/msg"; break;
      case KeyFigure::kCpuPerConnection: unit = "µs/conn"; break;
      case KeyFigure::kCpuShare: unit = "% core"; break;
      case KeyFigure::kCpuPerMegabyte: unit = "µs/MB"; break;
    }
    table.headers.push_back(scenario.name + " " + unit);
    table.right_aligned.push_back(true);
  }
  for (const std::string& model : results.models) {
    std::vector<std::string> cells{model};
    for (const Scenario& scenario : results.scenarios) {
      const Row* row = find_row(results, model, scenario.name);
      if (!row) {
        cells.push_back("-");
        continue;
      }
      const std::string mark = mark_of(results, scenario, *row);
      if (mark == "failed" || mark == "limit" || row->msgs_per_s.empty()) {
        cells.push_back(mark.empty() ? "-" : mark);
        continue;
      }
      const KeyValue k = key_value(scenario, *row);
      std::string cell = figure_text(k.interval.median, k.unit);
      if (k.interval.empty()) cell = "-";
      if (!mark.empty()) cell += " " + std::string(mark == "client-bound" ? "(c)" : mark == "best" ? "best" : mark);
      cells.push_back(cell);
    }
    table.rows.push_back(std::move(cells));
  }
  return table;
}

std::string noise_text(const CompareResults& results, bool markdown) {
  const NoiseReport& n = results.noise;
  std::ostringstream text;
  const std::string bullet = markdown ? "- " : "  ";
  for (std::size_t i = 0; i < n.before.size() && i < n.after.size(); ++i) {
    const Calibration& b = n.before[i];
    const Calibration& a = n.after[i];
    text << bullet << "calibration on CPU " << (b.cpu < 0 ? std::string("any") : std::to_string(b.cpu)) << ": "
         << fixed(b.ns_per_iteration, 3) << " ns per step before [" << fixed(b.min_ns, 3) << "–" << fixed(b.max_ns, 3)
         << "], " << fixed(a.ns_per_iteration, 3) << " after [" << fixed(a.min_ns, 3) << "–" << fixed(a.max_ns, 3)
         << "]: " << fixed(a.ns_per_iteration / std::max(b.ns_per_iteration, 1e-12), 2) << "× (1.00: the machine ran "
         << "as fast at the end as at the start)\n";
  }
  text << bullet << "steal time: " << percent(n.steal_share) << " of all CPU time over the comparison, "
       << percent(n.steal_share_max_run) << " in the worst run\n";
  for (const Scenario& scenario : results.scenarios) {
    text << bullet << "same-model run-to-run spread in " << scenario.name << " ((max − min) / median, the median over "
         << "the models): msgs/s " << percent(median_relative_spread(results, scenario.name, true)) << ", CPU µs/msg "
         << percent(median_relative_spread(results, scenario.name, false)) << "\n";
  }
  return text.str();
}

std::string render_summary_text(const CompareResults& results) {
  std::ostringstream out;
  out << render_text(summary_matrix(results));
  out << "Each cell: the median of " << results.options.repeat << " interleaved run"
      << (results.options.repeat == 1 ? "" : "s") << " (idle-10k: its own count, see report.md); best: ahead of every "
      << "other model (min-max intervals disjoint, lead beyond the scenario's run-to-run spread); tied: shares the lead within the noise; (c): client-bound, the load generator was saturated "
      << "so msgs/s is not the server's; limit: the model's own limit; failed: see report.md.\n";
  std::vector<std::string> notes;
  for (const Row& row : results.rows) {
    const std::string note = row_note(row);
    if (!note.empty()) notes.push_back("  " + row.summary.model + ", " + row.summary.scenario.name + ": " + note);
  }
  if (!notes.empty()) out << "Limits and failures:\n" << join(notes, "\n") << "\n";
  out << "Noise:\n" << noise_text(results, false);
  return out.str();
}

std::string render_text(const Table& table) {
  std::vector<std::size_t> widths;
  for (const auto& header : table.headers) widths.push_back(display_width(header));
  for (const auto& row : table.rows) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string padding(widths[i] - display_width(cells[i]), ' ');
      const bool last = i + 1 == cells.size();
      text += table.right_aligned[i] ? padding + cells[i] : cells[i] + (last ? "" : padding);
      if (!last) text += "  ";
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text + "\n";
  };
  std::string text = line(table.headers);
  std::vector<std::string> rules;
  for (std::size_t width : widths) rules.emplace_back(width, '-');
  text += line(rules);
  for (const auto& row : table.rows) text += line(row);
  return text;
}

std::string render_markdown(const Table& table) {
  std::string text = "|";
  for (const auto& header : table.headers) text += " " + markdown_cell(header) + " |";
  text += "\n|";
  for (bool right : table.right_aligned) text += right ? "---:|" : "---|";
  text += "\n";
  for (const auto& row : table.rows) {
    text += "|";
    for (const auto& cell : row) text += " " + markdown_cell(cell) + " |";
    text += "\n";
  }
  return text;
}

std::vector<std::string> reading(const CompareResults& results) {
  std::vector<std::string> bullets;
  for (const Scenario& scenario : results.scenarios) {
    std::string text = "**" + scenario.name + "** (" + describe_load(scenario) + "): ";
    bool any = false;
    for (const Row* row : rows_of(results, scenario.name)) any = any || row->eligible();
    if (!any) {
      bullets.push_back(text + "no model served the whole load without errors.");
      continue;
    }
    if (scenario.open_loop()) {
      text += "an open loop at " + format_count(scenario.rate) + " msgs/s, which every model that keeps up serves "
              "alike: msgs/s ranks no model; ";
    } else {
      text += verdict_digest(results, scenario, true) + ". ";
    }
    text += verdict_digest(results, scenario, false) + ".";
    const std::string property = property_sentence(results, scenario);
    if (!property.empty()) text += " " + property;
    bullets.push_back(text);
  }
  // The system-call mix explains the CPU column: the fewest and the most calls per message.
  for (const Scenario& scenario : results.scenarios) {
    const SyscallMix* fewest = nullptr;
    const SyscallMix* most = nullptr;
    for (const SyscallMix& mix : results.mixes) {
      if (!mix.counted || mix.scenario != scenario.name) continue;
      if (!fewest || mix.total_per_msg < fewest->total_per_msg) fewest = &mix;
      if (!most || mix.total_per_msg > most->total_per_msg) most = &mix;
    }
    if (!fewest || fewest == most) continue;
    auto top = [](const SyscallMix& mix) {
      std::vector<std::string> calls;
      for (const auto& [name, per_msg] : mix.per_msg) {
        if (per_msg >= 0.05 && calls.size() < 4) calls.push_back(name + " " + fixed(per_msg, 2));
      }
      return join(calls, ", ");
    };
    bullets.push_back("System calls per message in " + scenario.name + " (counted exactly, in a pass of their own): "
                      "from " + fixed(fewest->total_per_msg, 2) + " (`" + fewest->model + "`: " + top(*fewest) +
                      ") to " + fixed(most->total_per_msg, 2) + " (`" + most->model + "`: " + top(*most) + ").");
  }
  // Limits, failures, errors and stops, gathered per model so that each model gets one sentence.
  std::map<std::string, std::vector<std::string>> limits, failures, errors, stops;
  std::vector<std::string> order;
  bool any_load = false;
  bool any_verification_error = false;
  for (const Row& row : results.rows) {
    const RunRecord& s = row.summary;
    if (std::find(order.begin(), order.end(), s.model) == order.end()) order.push_back(s.model);
    const std::string where = s.scenario.name;
    any_load = any_load || s.load_ran;
    if (s.outcome == Outcome::kLimit) {
      limits[s.model].push_back(std::to_string(s.never_answered) + "/" + std::to_string(s.scenario.connections) +
                                " never answered at " + where);
    } else if (s.outcome == Outcome::kFailed) {
      std::string failure = where + ": " + s.note.substr(s.note.rfind("failed: ", 0) == 0 ? 8 : 0);
      if (!s.server_stderr.empty()) {
        failure += "; its stderr ended with \"" + s.server_stderr.substr(s.server_stderr.rfind('\n') + 1) + "\"";
      }
      failures[s.model].push_back(failure);
    }
    if (s.mismatches > 0 || s.http_errors > 0) any_verification_error = true;
    if (s.errors > 0 && s.outcome != Outcome::kFailed) {
      std::vector<std::string> kinds;
      auto kind = [&](std::uint64_t count, const char* what) {
        if (count > 0) kinds.push_back(format_count(static_cast<double>(count)) + " " + what);
      };
      kind(s.mismatches, "mismatched");
      kind(s.http_errors, "bad HTTP");
      kind(s.resets, "reset");
      kind(s.timeouts, "timed out");
      kind(s.connect_errors, "connect errors");
      errors[s.model].push_back(where + ": " + join(kinds, ", ") +
                                (s.first_error.empty() ? "" : " (first: " + s.first_error + ")"));
    }
    if (!s.stop_note.empty()) stops[s.model].push_back(where + ": " + s.stop_note);
  }
  auto gather = [&](const std::map<std::string, std::vector<std::string>>& found, const std::string& title) {
    if (found.empty()) return;
    std::vector<std::string> parts;
    for (const std::string& model : order) {
      if (auto it = found.find(model); it != found.end()) {
        parts.push_back("`" + model + "` (" + join(it->second, "; ") + ")");
      }
    }
    bullets.push_back(title + join(parts, ", ") + ".");
  };
  gather(limits, "Left active connections unanswered in at least one run (\"limit\" rows; for the iterative server, "
                 "the pool and prefork, and select past FD_SETSIZE, their documented limit; elsewhere a finding to "
                 "look into): ");
  gather(failures, "Failed: ");
  gather(errors, "Errors counted by the load generator: ");
  gather(stops, "Did not stop cleanly on SIGTERM: ");
  if (any_load && !any_verification_error) {
    bullets.push_back("No verification error: every echoed byte that came back matched what was sent.");
  }
  return bullets;
}

std::string mix_table(const CompareResults& results) {
  std::string text;
  for (const Scenario& scenario : results.scenarios) {
    Table table;
    table.headers = {"model", "syscalls/msg", "per message, most frequent first (≥ 0.01)"};
    table.right_aligned = {false, true, false};
    for (const SyscallMix& mix : results.mixes) {
      if (mix.scenario != scenario.name) continue;
      std::vector<std::string> calls;
      for (const auto& [name, per_msg] : mix.per_msg) {
        if (per_msg >= 0.01) calls.push_back(name + " " + fixed(per_msg, 2));
      }
      table.rows.push_back({mix.model, mix.counted ? fixed(mix.total_per_msg, 2) : "-",
                            mix.counted ? join(calls, ", ") + (mix.note.empty() ? "" : " (" + mix.note + ")")
                                        : mix.note});
    }
    if (table.rows.empty()) continue;
    text += "### " + scenario.name + "\n\n" + render_markdown(table) + "\n";
  }
  return text;
}

std::string report_markdown(const CompareResults& results) {
  const CompareOptions& o = results.options;
  const MachineInfo& m = results.machine;
  std::ostringstream text;
  text << "# iomodels comparison, " << results.started_at << "\n\n";
  text << "## Machine\n\n";
  text << "- CPU: " << (m.cpu_model.empty() ? "unknown" : m.cpu_model) << ", " << m.cpus << " CPUs online\n";
  text << "- Memory: " << fixed(static_cast<double>(m.memory_bytes) / (1024.0 * 1024 * 1024), 1) << " GiB\n";
  text << "- Kernel: " << m.kernel << "\n";
  if (o.server_cpus.empty()) {
    text << "- Pinning: none (fewer than two CPUs, or none asked for): server and load generator share the CPUs\n";
  } else {
    text << "- Pinning: server on CPU " << format_cpu_list(o.server_cpus) << ", load generator on CPU "
         << format_cpu_list(o.client_cpus) << "\n";
  }
  text << "\n## Command\n\n```\n" << o.command_line << "\n```\n\n";
  text << "Each run: " << seconds_text(o.duration) << " measured after a " << seconds_text(o.warmup) << " warm-up, "
       << mode_text(o) << ", every echoed byte verified, the server started afresh with its default options (or the "
       << "variant's). " << o.repeat << (o.repeat == 1 ? " run" : " runs") << " per model and scenario, interleaved: "
       << "within a scenario the runs go round the models, repeat after repeat. Every figure is the median of the "
       << "runs; the interval in brackets is the lowest and the highest run (min-max). A model is said to be ahead of "
       << "another only when their intervals do not overlap and the lead is larger than the scenario's same-model "
       << "run-to-run spread (see Noise); otherwise they are tied within the noise. With "
       << o.repeat << " runs each, two identical models show disjoint intervals by chance in about "
       << (o.repeat == 2 ? "33" : o.repeat == 3 ? "10" : o.repeat == 4 ? "3" : "1") << " % of pairs (before the "
       << "spread rule). ";
  for (const Scenario& scenario : results.scenarios) {
    if (scenario.repeat > 0 && scenario.repeat != o.repeat) {
      text << scenario.name << " runs " << scenario.repeat << " times per model: its set-up (10,000 threads or "
           << "processes for some models) costs up to half a minute per run here. ";
    }
  }
  text << "The whole comparison took " << fixed(results.elapsed_s, 0) << " s.\n\n";

  text << "## Summary\n\n" << render_markdown(summary_matrix(results)) << "\n";
  text << "Each cell is the scenario's key figure (median): msgs/s where the point is throughput or being served at "
          "all, else the server's CPU per message, per connection, per MB, or as a share of one core. best: ahead of "
          "every other model; tied: shares the lead within the noise; (c): client-bound — the load generator used "
          "at least " << percent(o.client_bound_share) << " of its CPU, so msgs/s measures the client and the row is "
          "never named the leader on msgs/s; limit: the model's own documented limit; failed: it crashed or did not "
          "start.\n\n";
  text << "Which figure to trust for what: server CPU per message is the robust measure of efficiency (it does not "
          "depend on how fast the client is); msgs/s ranks servers only where the client was not saturated; "
          "latency percentiles on a shared machine move with the neighbours. System calls per message (below) are "
          "steady where times are not.\n\n";
  text << "## Noise\n\n" << noise_text(results, true) << "\n";

  text << "## Scenarios\n\n";
  for (const Scenario& scenario : results.scenarios) {
    text << "### " << scenario.name << "\n\n";
    text << describe_load(scenario) << ". Shows: " << scenario.shows << ".\n\n";
    text << "By hand: `" << loadgen_command(scenario, o.duration, o.warmup, o.http) << "` against a server started "
         << "with `--port 0`.\n\n";
    text << render_markdown(scenario_table(results, scenario)) << "\n";
    for (const std::string& chart : results.charts) {
      if (chart == "scenario-" + scenario.name + ".png") text << "![" << chart << "](" << chart << ")\n\n";
    }
  }
  text << "Columns: msgs/s and CPU µs/msg with their min-max interval; CPU µs/msg is the server's user + system time "
          "over the measured window (its whole process group, reaped children included) divided by the messages "
          "answered; CPU % core the same time as a share of one core; client CPU the load generator's share of its "
          "CPUs over the run. RSS is the peak of the summed resident set sizes of the group (shared pages counted "
          "once per process); PSS divides shared pages among their sharers. thr/proc: peak threads and processes. "
          "held open: idle or slow connections established when the measured window began.\n\n";
  if (!results.mixes.empty()) {
    text << "## System calls per message\n\n";
    text << "Counted in a pass of its own after the timed runs (`perf stat` on the server counting raw_syscalls:sys_enter for the total and the sys_enter tracepoints of "
            "the message path's calls, the rest as other; "
            "one " << seconds_text(o.duration) << " window of the scenario's load, start-up and shutdown included): "
            "exact counts, divided by the messages answered. These explain the CPU column.\n\n";
    text << mix_table(results);
  }
  for (const std::string& chart : results.charts) {
    if (chart.rfind("scenario-", 0) != 0) text << "![" << chart << "](" << chart << ")\n\n";
  }
  text << "## Reading\n\n";
  for (const std::string& bullet : reading(results)) text << "- " << bullet << "\n";
  text << "- These figures come from a " << m.cpus << "-CPU machine that other work may share; the Noise section "
       << "above says how much it moved.\n";
  if (!results.notes.empty()) {
    text << "\n## Notes\n\n";
    for (const std::string& note : results.notes) text << "- " << note << "\n";
  }
  return text.str();
}

}  // namespace iomodels::compare
