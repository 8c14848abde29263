// The comparison runner: its command line, its arithmetic (medians, the best of each scenario, wrk's report), and
// small real runs — two models end to end, a model at its limit, and fake servers that crash or never print their
// banner, which must be reported as failed while the run goes on. Each run is a second or two, so the whole suite
// stays well under 15 s.
#include <sched.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "compare/compare.hpp"
#include "compare/options.hpp"
#include "compare/proc_stats.hpp"
#include "compare/report.hpp"
#include "compare/results.hpp"
#include "compare/scenario.hpp"
#include "compare/scenarios.hpp"
#include "compare/syscalls.hpp"
#include "compare/verdict.hpp"
#include "compare/wrk.hpp"
#include "tests/loadgen_fixture.hpp"

namespace iomodels::compare {
namespace {

using loadgen_test::bin_path;
using loadgen_test::executable;
using loadgen_test::fake_path;

// A directory of its own under /tmp, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/compare-test-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

ParsedCommandLine parse(std::vector<std::string> args) {
  args.insert(args.begin(), "compare");
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return parse_compare_command_line(static_cast<int>(argv.size()), argv.data());
}

// Options for a run short enough for a unit test: one connection count, no warm-up, no pinning.
CompareOptions quick_options(const std::string& bin_dir, const std::string& out_dir) {
  CompareOptions options;
  options.bin_dir = bin_dir;
  options.out_dir = out_dir;
  options.connections = {1};
  options.duration = std::chrono::seconds(1);
  options.warmup = std::chrono::nanoseconds(0);
  options.repeat = 1;
  options.mix_scenarios.clear();
  options.command_line = "compare (from compare_test)";
  return options;
}

const Row* find_row(const CompareResults& results, const std::string& model) {
  for (const Row& row : results.rows) {
    if (row.summary.model == model) return &row;
  }
  return nullptr;
}

RunRecord record(const std::string& model, int connections, double msgs_per_s, double cpu_us_per_msg) {
  RunRecord r;
  r.model = model;
  r.scenario = custom_scenario(connections, 64, 0);
  r.outcome = Outcome::kOk;
  r.load_ran = true;
  r.messages = static_cast<std::uint64_t>(msgs_per_s);
  r.seconds = 1;
  r.msgs_per_s = msgs_per_s;
  r.cpu_us_per_msg = cpu_us_per_msg;
  r.stopped_cleanly = true;
  return r;
}

// ---- the command line ---------------------------------------------------------------------------------------

std::vector<std::string> scenario_names_of(const CompareOptions& o) {
  std::vector<std::string> names;
  for (const Scenario& s : o.scenarios) names.push_back(s.name);
  return names;
}

TEST(CompareOptions, DefaultsAreTheNamedScenariosRepeated) {
  const ParsedCommandLine parsed = parse({});
  ASSERT_EQ(parsed.error, "");
  const CompareOptions& o = parsed.options;
  EXPECT_TRUE(o.models.empty());
  EXPECT_EQ(scenario_names_of(o), (std::vector<std::string>{"pingpong", "busy", "idle-10k", "light", "accept", "bulk",
                                                            "slow-clients"}));
  EXPECT_EQ(o.duration, kDefaultDuration);
  EXPECT_EQ(o.warmup, kDefaultWarmup);
  EXPECT_EQ(o.mix_scenarios, std::vector<std::string>{"busy"});
  EXPECT_EQ(o.bin_dir, "bin");
  // Servers are looked for beside the compare binary, so another build directory compares its own servers.
  const char* elsewhere[] = {"bin-san/compare"};
  EXPECT_EQ(parse_compare_command_line(1, elsewhere).options.bin_dir, "bin-san");
  EXPECT_EQ(o.repeat, kDefaultRepeat);
  EXPECT_GE(o.repeat, 2);  // an interval needs two runs at least
  EXPECT_TRUE(o.out_dir.empty());
  // Server and load generator never share a CPU when there are two or more.
  if (allowed_cpus().size() >= 2) {
    ASSERT_FALSE(o.server_cpus.empty());
    ASSERT_FALSE(o.client_cpus.empty());
    for (int cpu : o.server_cpus) {
      EXPECT_EQ(std::count(o.client_cpus.begin(), o.client_cpus.end(), cpu), 0) << "CPU " << cpu << " shared";
    }
  }
}

TEST(CompareOptions, ParsesEveryOption) {
  const ParsedCommandLine parsed =
      parse({"--connections", "2,8", "--sizes", "64,4k", "--duration", "500ms", "--warmup", "0", "--pipeline", "4",
             "--rate", "1000", "--http", "--wrk", "--repeat", "3", "--out", "/tmp/x", "--bin", "somewhere",
             "--server-cpus", "0", "--client-cpus", "0", "--syscalls"});
  ASSERT_EQ(parsed.error, "");
  const CompareOptions& o = parsed.options;
  EXPECT_EQ(o.connections, (std::vector<int>{2, 8}));
  EXPECT_EQ(o.sizes, (std::vector<std::size_t>{64, 4096}));
  // Custom options replace the named scenarios: connections x sizes at the rate.
  EXPECT_EQ(scenario_names_of(o), (std::vector<std::string>{"2c-64B-R1000", "8c-64B-R1000", "2c-4kB-R1000",
                                                            "8c-4kB-R1000"}));
  EXPECT_EQ(o.duration, std::chrono::milliseconds(500));
  EXPECT_EQ(o.warmup.count(), 0);
  EXPECT_EQ(o.pipeline, 4);
  EXPECT_EQ(o.rate, 1000);
  EXPECT_TRUE(o.http && o.wrk && o.syscalls);
  EXPECT_EQ(o.repeat, 3);
  EXPECT_EQ(o.out_dir, "/tmp/x");
  EXPECT_EQ(o.bin_dir, "somewhere");
  EXPECT_EQ(o.server_cpus, std::vector<int>{0});
  EXPECT_EQ(o.client_cpus, std::vector<int>{0});
}

TEST(CompareOptions, ScenariosQuickMixAndVariants) {
  ParsedCommandLine parsed = parse({"--scenarios", "idle-10k,busy,idle-10k", "--mix", "none"});
  ASSERT_EQ(parsed.error, "");
  EXPECT_EQ(scenario_names_of(parsed.options), (std::vector<std::string>{"idle-10k", "busy"}));
  EXPECT_EQ(parsed.options.scenarios[0].idle, 10000);
  EXPECT_EQ(parsed.options.scenarios[0].connections, 50);
  EXPECT_TRUE(parsed.options.mix_scenarios.empty());

  parsed = parse({"--quick"});
  ASSERT_EQ(parsed.error, "");
  EXPECT_EQ(scenario_names_of(parsed.options), quick_scenario_names());
  EXPECT_EQ(parsed.options.repeat, kQuickRepeat);
  EXPECT_EQ(parsed.options.duration, kQuickDuration);
  EXPECT_TRUE(parsed.options.mix_scenarios.empty());

  parsed = parse({"--models", "epoll,epoll:--threads=2,io_uring:--single-shot:--x"});
  ASSERT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.options.models,
            (std::vector<std::string>{"epoll", "epoll:--threads=2", "io_uring:--single-shot:--x"}));
  const ModelVariant variant = parse_model_variant("io_uring:--single-shot:--x");
  EXPECT_EQ(variant.binary, "io_uring");
  EXPECT_EQ(variant.args, (std::vector<std::string>{"--single-shot", "--x"}));
  EXPECT_TRUE(parse_model_variant("epoll").args.empty());
}

TEST(CompareScenarios, EachNamedOneReproducesWithOneLoadgenCommand) {
  const auto idle = find_scenario("idle-10k");
  ASSERT_TRUE(idle.has_value());
  EXPECT_EQ(loadgen_command(*idle, std::chrono::seconds(1), std::chrono::milliseconds(250), false),
            "bin/loadgen -c 50 -s 64 --idle 10000 --idle-first -d 1s --warmup 250ms HOST:PORT");
  EXPECT_EQ(loadgen_command(*find_scenario("slow-clients"), std::chrono::seconds(1), std::chrono::seconds(0), false),
            "bin/loadgen -c 10 -s 64 --slow 500 --slow-interval 100ms -d 1s --warmup 0s HOST:PORT");
  EXPECT_EQ(loadgen_command(*find_scenario("accept"), std::chrono::seconds(2), std::chrono::seconds(1), false),
            "bin/loadgen -c 20 -s 64 --connect-per-message -d 2s --warmup 1s HOST:PORT");
  EXPECT_EQ(loadgen_command(*find_scenario("light"), std::chrono::seconds(1), std::chrono::seconds(1), false),
            "bin/loadgen -c 50 -s 64 -R 2000 -d 1s --warmup 1s HOST:PORT");
  EXPECT_EQ(loadgen_command(*find_scenario("bulk"), std::chrono::seconds(1), std::chrono::seconds(1), false),
            "bin/loadgen -c 50 -s 64k -d 1s --warmup 1s HOST:PORT");
  EXPECT_FALSE(find_scenario("nope").has_value());
  for (const Scenario& s : named_scenarios()) EXPECT_FALSE(s.shows.empty()) << s.name;
}

TEST(CompareOptions, BadOptionIsOneLineNamingIt) {
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  const Case cases[] = {
      {{"--bogus"}, "bogus"},
      {{"--connections", "0"}, "--connections"},
      {{"--connections", "5,x"}, "--connections"},
      {{"--sizes", "0"}, "--sizes"},
      {{"--duration", "0"}, "--duration"},
      {{"--warmup", "soon"}, "--warmup"},
      {{"--repeat", "0"}, "--repeat"},
      {{"--rate", "-1"}, "--rate"},
      {{"--models", "no-such-model"}, "--models"},
      {{"--models", "epoll:"}, "--models"},
      {{"--scenarios", "busy,nope"}, "--scenarios: 'nope' is not a scenario (pingpong, busy"},
      {{"--mix", "nope"}, "--mix"},
      {{"--server-cpus", "4096"}, "--server-cpus"},
      {{"--client-cpus", "1-0"}, "--client-cpus"},
      {{"stray"}, "stray"},
  };
  for (const Case& c : cases) {
    const ParsedCommandLine parsed = parse(c.args);
    EXPECT_NE(parsed.error.find(c.names), std::string::npos) << c.args[0] << ": " << parsed.error;
    EXPECT_EQ(parsed.error.find('\n'), std::string::npos) << parsed.error;
  }
}

TEST(CompareOptions, HelpListsEveryOption) {
  const ParsedCommandLine parsed = parse({"--help"});
  ASSERT_TRUE(parsed.help);
  for (const char* option : {"--models", "--connections", "--sizes", "--duration", "--warmup", "--pipeline", "--rate",
                             "--http", "--wrk", "--repeat", "--out", "--bin", "--server-cpus", "--client-cpus",
                             "--syscalls", "--scenarios", "--quick", "--mix", "--help"}) {
    EXPECT_NE(parsed.help_text.find(option), std::string::npos) << option;
  }
}

TEST(CompareOptions, ModelsOutsideTheTableAreTakenFromTheBinDir) {
  TempDir bin;
  ASSERT_FALSE(bin.path().empty());
  std::filesystem::create_symlink("/bin/true", bin.path() + "/my_server");
  const ParsedCommandLine parsed = parse({"--bin", bin.path(), "--models", "epoll,my_server,epoll"});
  ASSERT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.options.models, (std::vector<std::string>{"epoll", "my_server"}));
}

TEST(CompareOptions, PythonServersAreOptInRows) {
  // Not in the default run: the default is every C++ server row.
  for (const std::string& name : python_models()) {
    EXPECT_EQ(std::count(known_models().begin(), known_models().end(), name), 0) << name;
  }
  EXPECT_EQ(python_models().size(), 6u);
  EXPECT_FALSE(parse({}).options.python);
  const ParsedCommandLine parsed = parse({"--models", "epoll", "--python"});
  ASSERT_EQ(parsed.error, "");
  EXPECT_TRUE(parsed.options.python);
  EXPECT_EQ(parsed.options.models, std::vector<std::string>{"epoll"});
  EXPECT_NE(parse({"--help"}).help_text.find("--python"), std::string::npos);
}

TEST(CompareOptions, CpuListsTakeRanges) {
  EXPECT_EQ(parse_cpu_list("0"), std::vector<int>{0});
  EXPECT_EQ(parse_cpu_list("3,0-2"), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_TRUE(parse_cpu_list("").empty());
  EXPECT_TRUE(parse_cpu_list("2-1").empty());
  EXPECT_TRUE(parse_cpu_list("a").empty());
  EXPECT_EQ(format_cpu_list({0, 1, 2, 5, 7, 8}), "0-2,5,7-8");
}

TEST(CompareOptions, DefaultSplitPutsServerAndClientApart) {
  std::vector<int> server, client;
  default_cpu_split({0, 1}, server, client);
  EXPECT_EQ(server, std::vector<int>{0});
  EXPECT_EQ(client, std::vector<int>{1});
  default_cpu_split({0, 1, 2, 3}, server, client);
  EXPECT_EQ(server, (std::vector<int>{0, 1}));
  EXPECT_EQ(client, (std::vector<int>{2, 3}));
  default_cpu_split({0}, server, client);
  EXPECT_TRUE(server.empty() && client.empty());
}

TEST(CompareAffinity, PinsTheThreadAndRestoresIt) {
  const std::vector<int> before = allowed_cpus();
  ASSERT_FALSE(before.empty());
  {
    ScopedAffinity pinned({before.back()});
    EXPECT_EQ(allowed_cpus(), std::vector<int>{before.back()});
  }
  EXPECT_EQ(allowed_cpus(), before);
}

// ---- /proc ----------------------------------------------------------------------------------------------------

TEST(CompareProcStats, SamplesEveryMemberOfAGroup) {
  // A shell in a group of its own with a child of its own: two processes, each one thread.
  ServerProcess group("/bin/sh", {"-c", "sleep 5 & while :; do :; done"});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  GroupSample peaks;
  while (peaks.processes < 2 && std::chrono::steady_clock::now() < deadline) {
    peaks = sample_process_group(group.pid(), SampleDetail::kPeaks);
  }
  EXPECT_EQ(peaks.processes, 2);
  EXPECT_EQ(peaks.threads, 2);
  EXPECT_GT(peaks.rss_bytes, 0U);
  EXPECT_EQ(peaks.pss_bytes, 0U);

  const GroupSample first = sample_process_group(group.pid(), SampleDetail::kCounters);
  const GroupSample pss = sample_process_group(group.pid(), SampleDetail::kPss);
  EXPECT_GT(pss.pss_bytes, 0U);
  EXPECT_LE(pss.pss_bytes, pss.rss_bytes);
  // The busy loop's CPU time grows in nanoseconds, long before a 10 ms clock tick would show it.
  GroupSample later = first;
  while (later.cpu_seconds <= first.cpu_seconds && std::chrono::steady_clock::now() < deadline) {
    later = sample_process_group(group.pid(), SampleDetail::kCounters);
  }
  EXPECT_GT(later.cpu_seconds, first.cpu_seconds);
  EXPECT_GE(later.involuntary_switches + later.voluntary_switches, 1U);
  group.kill_group();

  const GroupSample gone = sample_process_group(group.pid(), SampleDetail::kCounters);
  EXPECT_EQ(gone.processes, 0);
  EXPECT_EQ(gone.cpu_seconds, 0);
}

// ---- wrk's report -------------------------------------------------------------------------------------------

TEST(CompareWrk, CommandIsOneThreadWithLatency) {
  EXPECT_EQ(wrk_command("127.0.0.1", 7000, 50, std::chrono::seconds(3)),
            (std::vector<std::string>{"wrk", "-t1", "-c50", "-d3s", "--latency", "http://127.0.0.1:7000/"}));
  EXPECT_EQ(wrk_command("::1", 7000, 1, std::chrono::milliseconds(200)).back(), "http://[::1]:7000/");
}

TEST(CompareWrk, ReadsRateLatencyAndErrors) {
  const std::string report =
      "Running 1s test @ http://127.0.0.1:40153/\n"
      "  1 threads and 10 connections\n"
      "  Thread Stats   Avg      Stdev     Max   +/- Stdev\n"
      "    Latency   425.88us    0.85ms   6.72ms   88.25%\n"
      "    Req/Sec    44.87k    17.05k   71.33k    72.73%\n"
      "  Latency Distribution\n"
      "     50%  104.00us\n"
      "     75%  119.00us\n"
      "     90%    1.51ms\n"
      "     99%    4.40ms\n"
      "  49068 requests in 1.10s, 3.70MB read\n"
      "  Socket errors: connect 0, read 2, write 0, timeout 45\n"
      "  Non-2xx or 3xx responses: 3\n"
      "Requests/sec:  44599.41\n"
      "Transfer/sec:      3.36MB\n";
  const WrkFigures figures = parse_wrk_output(report);
  EXPECT_TRUE(figures.ran);
  EXPECT_DOUBLE_EQ(figures.requests_per_s, 44599.41);
  EXPECT_DOUBLE_EQ(figures.p50_ns, 104000);
  EXPECT_DOUBLE_EQ(figures.p99_ns, 4.4e6);
  EXPECT_EQ(figures.requests, 49068U);
  EXPECT_EQ(figures.errors, 50U);

  const WrkFigures nothing = parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n");
  EXPECT_FALSE(nothing.ran);
  EXPECT_FALSE(nothing.error.empty());
  EXPECT_EQ(parse_wrk_latency("2.00s"), 2e9);
  EXPECT_FALSE(parse_wrk_latency("fast").has_value());
}

// ---- medians, best marks and the reading ----------------------------------------------------------------------

TEST(CompareAggregate, MedianOfRepeatsAndTheirSpread) {
  std::vector<RunRecord> runs{record("epoll", 50, 100, 5), record("epoll", 50, 300, 3), record("epoll", 50, 200, 4)};
  const auto rows = aggregate(runs, {"epoll"}, {custom_scenario(50, 64, 0)});
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_DOUBLE_EQ(rows[0].summary.msgs_per_s, 200);
  EXPECT_DOUBLE_EQ(rows[0].summary.cpu_us_per_msg, 4);
  EXPECT_DOUBLE_EQ(rows[0].msgs_per_s_min, 100);
  EXPECT_DOUBLE_EQ(rows[0].msgs_per_s_max, 300);
  EXPECT_EQ(rows[0].runs.size(), 3U);
  EXPECT_DOUBLE_EQ(rows[0].msgs_per_s.low, 100);
  EXPECT_DOUBLE_EQ(rows[0].msgs_per_s.median, 200);
  EXPECT_DOUBLE_EQ(rows[0].msgs_per_s.high, 300);
  EXPECT_DOUBLE_EQ(rows[0].cpu_us_per_msg.low, 3);
  EXPECT_DOUBLE_EQ(rows[0].cpu_us_per_msg.high, 5);
  EXPECT_EQ(rows[0].cpu_us_per_msg.runs, 3);
}

TEST(CompareAggregate, MarksTheBestOfEachScenarioAmongModelsThatServedIt) {
  RunRecord limited = record("blocking", 50, 900, 1);
  limited.outcome = Outcome::kLimit;
  limited.never_answered = 49;
  limited.note = "limit: 49/50 connections never answered";
  const std::vector<RunRecord> runs{record("epoll", 1, 100, 6),  record("poll", 1, 120, 5), limited,
                                    record("epoll", 50, 500, 2), record("poll", 50, 400, 3)};
  const std::vector<Scenario> scenarios{custom_scenario(1, 64, 0), custom_scenario(50, 64, 0)};
  const auto rows = aggregate(runs, {"blocking", "epoll", "poll"}, scenarios);
  ASSERT_EQ(rows.size(), 5U);
  auto row = [&](const std::string& model, int connections) -> const Row& {
    for (const Row& r : rows) {
      if (r.summary.model == model && r.summary.scenario.connections == connections) return r;
    }
    throw std::runtime_error("no row");
  };
  EXPECT_TRUE(row("poll", 1).best_throughput);
  EXPECT_TRUE(row("poll", 1).best_cpu);
  EXPECT_FALSE(row("epoll", 1).best_throughput);
  // The limit row is faster on paper (it served one connection of 50) but is never marked best.
  EXPECT_FALSE(row("blocking", 50).best_throughput);
  EXPECT_FALSE(row("blocking", 50).best_cpu);
  EXPECT_TRUE(row("epoll", 50).best_throughput);
  EXPECT_TRUE(row("epoll", 50).best_cpu);

  CompareResults results;
  results.models = {"blocking", "epoll", "poll"};
  results.scenarios = scenarios;
  results.rows = rows;
  const std::string text = [&] {
    std::string joined;
    for (const auto& bullet : reading(results)) joined += bullet + "\n";
    return joined;
  }();
  // One run each: no interval, so no verdict is stated, however far apart the figures.
  EXPECT_NE(text.find("one run each: no interval, no verdict"), std::string::npos) << text;
  EXPECT_EQ(text.find(" ahead of "), std::string::npos) << text;
  EXPECT_NE(text.find("`blocking` (49/50 never answered at 50c-64B)"), std::string::npos) << text;
  const std::string table = render_text(build_table(results));
  EXPECT_NE(table.find("limit: 49/50 connections never answered"), std::string::npos) << table;
  EXPECT_NE(render_text(summary_matrix(results)).find("limit"), std::string::npos);
}

// ---- verdicts: a lead is stated only when the intervals do not overlap ------------------------------------------

TEST(CompareVerdict, OverlappingIntervalsAreATieDisjointOnesAVerdict) {
  const Interval a = interval_of({100, 110, 105});
  EXPECT_DOUBLE_EQ(a.median, 105);
  EXPECT_DOUBLE_EQ(a.low, 100);
  EXPECT_DOUBLE_EQ(a.high, 110);
  EXPECT_EQ(a.runs, 3);
  const Interval overlapping = interval_of({108, 120, 115});
  const Interval disjoint = interval_of({130, 140, 135});
  EXPECT_EQ(judge(a, overlapping, true), Verdict::kTie);
  EXPECT_EQ(judge(overlapping, a, false), Verdict::kTie);
  EXPECT_EQ(judge(a, disjoint, true), Verdict::kSecondAhead);  // more msgs/s is better
  EXPECT_EQ(judge(a, disjoint, false), Verdict::kFirstAhead);  // less CPU is better
  EXPECT_EQ(judge(disjoint, a, true), Verdict::kFirstAhead);
  EXPECT_NEAR(lead_ratio(a, disjoint, true), 135.0 / 105.0, 1e-12);
  // Touching ends overlap; one run has no spread to judge by.
  EXPECT_EQ(judge(interval_of({1, 2}), interval_of({2, 3}), true), Verdict::kTie);
  EXPECT_EQ(judge(interval_of({1}), interval_of({5}), true), Verdict::kTie);
  // Disjoint, but a lead smaller than the scenario's run-to-run spread is no verdict.
  EXPECT_EQ(judge(interval_of({100, 101}), interval_of({102, 103}), true, 1.05), Verdict::kTie);
  EXPECT_EQ(judge(interval_of({100, 101}), interval_of({110, 111}), true, 1.05), Verdict::kSecondAhead);
  EXPECT_EQ(interval_of({}).runs, 0);
  EXPECT_DOUBLE_EQ(interval_of({4, 1, 3, 2}).median, 2.5);
}

TEST(CompareVerdict, RankNamesALeaderOnlyWhenItIsAheadOfEveryOther) {
  Ranking r = rank({{"a", interval_of({10, 11, 12})}, {"b", interval_of({20, 21, 22})}, {"c", interval_of({5, 6, 7})}},
                   true);
  ASSERT_EQ(r.order.size(), 3U);
  EXPECT_EQ(r.order[0].model, "b");
  EXPECT_TRUE(r.best_alone);
  EXPECT_TRUE(r.tied.empty());
  r = rank({{"a", interval_of({10, 11, 12})}, {"b", interval_of({11.5, 13, 14})}, {"c", interval_of({5, 6, 7})}}, true);
  EXPECT_EQ(r.order[0].model, "b");
  EXPECT_FALSE(r.best_alone);
  EXPECT_EQ(r.tied, (std::vector<std::string>{"b", "a"}));
  // Lower is better for CPU.
  r = rank({{"a", interval_of({10, 11, 12})}, {"c", interval_of({5, 6, 7})}}, false);
  EXPECT_EQ(r.order[0].model, "c");
  EXPECT_TRUE(r.best_alone);
}

// Three runs per model in one scenario: a and b disjoint, b and c overlapping.
CompareResults synthetic_results(bool a_client_bound) {
  CompareResults results;
  results.models = {"a", "b", "c"};
  results.scenarios = {custom_scenario(50, 64, 0)};
  results.options.repeat = 3;
  std::vector<RunRecord> runs;
  const double rates[3][3] = {{300, 310, 320}, {200, 210, 220}, {205, 215, 225}};
  const double cpus[3][3] = {{3, 3.1, 3.2}, {5, 5.1, 5.2}, {5.05, 5.15, 5.25}};
  for (int m = 0; m < 3; ++m) {
    for (int k = 0; k < 3; ++k) {
      RunRecord r = record(results.models[static_cast<std::size_t>(m)], 50, rates[m][k], cpus[m][k]);
      r.repeat = k;
      r.client_cpu_share = (m == 0 && a_client_bound) ? 0.97 : 0.5;
      runs.push_back(r);
    }
  }
  results.rows = aggregate(runs, results.models, results.scenarios);
  results.verdicts = all_verdicts(results);
  return results;
}

const PairVerdict* find_verdict(const CompareResults& results, const std::string& metric, const std::string& a,
                                const std::string& b) {
  for (const PairVerdict& v : results.verdicts) {
    if (v.metric == metric && v.a == a && v.b == b) return &v;
  }
  return nullptr;
}

TEST(CompareVerdict, ReadingStatesVerdictsOnlyForDisjointIntervals) {
  const CompareResults results = synthetic_results(false);
  const PairVerdict* ab = find_verdict(results, "msgs_per_s", "a", "b");
  ASSERT_NE(ab, nullptr);
  EXPECT_EQ(ab->verdict, Verdict::kFirstAhead);
  EXPECT_NEAR(ab->ratio, 310.0 / 210.0, 1e-9);
  EXPECT_EQ(find_verdict(results, "msgs_per_s", "b", "c")->verdict, Verdict::kTie);
  EXPECT_EQ(find_verdict(results, "cpu_us_per_msg", "a", "c")->verdict, Verdict::kFirstAhead);
  EXPECT_EQ(find_verdict(results, "cpu_us_per_msg", "b", "c")->verdict, Verdict::kTie);
  std::string text;
  for (const auto& bullet : reading(results)) text += bullet + "\n";
  EXPECT_NE(text.find("msgs/s: `a` ahead of every other, 310 [300–320]"), std::string::npos) << text;
  EXPECT_NE(text.find("ahead of the runner-up `c` (215 [205–225]) by 1.44×"), std::string::npos) << text;
  const std::string matrix = render_text(summary_matrix(results));
  EXPECT_NE(matrix.find("3.10 best"), std::string::npos) << matrix;
}

TEST(CompareVerdict, AClientBoundRowIsMarkedAndNeverTheLeaderOnThroughput) {
  const CompareResults results = synthetic_results(true);
  const Row* a = find_row(results, "a");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->client_bound);
  EXPECT_FALSE(a->best_throughput);
  EXPECT_TRUE(a->best_cpu);  // its CPU per message is the server's, client-bound or not
  // a is left out of the msgs/s verdicts; b and c tie.
  EXPECT_EQ(find_verdict(results, "msgs_per_s", "a", "b"), nullptr);
  EXPECT_EQ(find_verdict(results, "msgs_per_s", "b", "c")->verdict, Verdict::kTie);
  const Ranking ranking = rank_scenario(results, results.scenarios[0], true);
  for (const Candidate& c : ranking.order) EXPECT_NE(c.model, "a");
  std::string text;
  for (const auto& bullet : reading(results)) text += bullet + "\n";
  EXPECT_EQ(text.find("msgs/s: `a`"), std::string::npos) << text;
  EXPECT_NE(text.find("msgs/s: tied within the noise for the lead"), std::string::npos) << text;
  const std::string table = render_text(build_table(results));
  EXPECT_NE(table.find("client-bound"), std::string::npos) << table;
}

TEST(CompareSyscalls, ReadsPerfCounts) {
  const std::string output =
      "# started on Tue Dec  1 12:32:48 2026\n\n"
      "170439,,raw_syscalls:sys_enter,225436154,100.00,,\n"
      "82708,,syscalls:sys_enter_recvfrom,225436154,100.00,,\n"
      "0,,syscalls:sys_enter_poll,225436154,100.00,,\n"
      "<not counted>,,syscalls:sys_enter_select,0,0.00,,\n";
  const auto counts = parse_syscall_counts(output);
  ASSERT_EQ(counts.size(), 1U);
  EXPECT_EQ(counts[0].first, "recvfrom");
  EXPECT_EQ(counts[0].second, 82708U);
  EXPECT_EQ(parse_total_syscalls(output), 170439U);
  EXPECT_FALSE(parse_total_syscalls("nothing\n").has_value());
}

// ---- real runs ------------------------------------------------------------------------------------------------

TEST(CompareRun, TwoModelsWriteJsonCsvAndReport) {
  std::vector<std::string> models;
  for (const char* model : {"epoll", "poll"}) {
    if (executable(bin_path(model))) models.push_back(model);
  }
  if (models.empty()) GTEST_SKIP() << "neither bin/epoll nor bin/poll is built";
  TempDir out;
  CompareOptions options = quick_options(loadgen_test::env_or("BIN_DIR", "bin"), out.path());
  options.models = models;
  std::ostringstream table, progress;
  ASSERT_EQ(run_compare(options, table, progress), 0) << progress.str();

  const nlohmann::json json = nlohmann::json::parse(read_text(out.path() + "/results.json"));
  ASSERT_EQ(json["results"].size(), models.size()) << json.dump(1);
  EXPECT_EQ(json["options"]["connections"], nlohmann::json::array({1}));
  EXPECT_TRUE(json["machine"]["cpus"].get<int>() >= 1);
  EXPECT_FALSE(json["machine"]["kernel"].get<std::string>().empty());
  EXPECT_EQ(json["command"], "compare (from compare_test)");
  for (std::size_t i = 0; i < models.size(); ++i) {
    const auto& row = json["results"][i];
    EXPECT_EQ(row["model"], models[i]);
    EXPECT_EQ(row["outcome"], "ok") << row.dump(1);
    EXPECT_GT(row["messages"].get<std::uint64_t>(), 0U);
    EXPECT_EQ(row["errors"]["total"], 0);
    EXPECT_GT(row["server"]["peak_rss_bytes"].get<std::uint64_t>(), 0U);
    EXPECT_GE(row["server"]["peak_threads"].get<int>(), 1);
    EXPECT_TRUE(row["stop"]["clean"].get<bool>()) << row["stop"].dump();
  }

  const auto csv = lines_of(read_text(out.path() + "/results.csv"));
  ASSERT_EQ(csv.size(), models.size() + 1);
  EXPECT_EQ(csv[0], csv_header());
  EXPECT_EQ(csv[0].rfind("model,scenario,connections,size,outcome,note,messages_per_s,", 0), 0U) << csv[0];
  const auto columns = std::count(csv[0].begin(), csv[0].end(), ',');
  for (std::size_t i = 0; i < models.size(); ++i) {
    EXPECT_EQ(csv[i + 1].rfind(models[i] + ",1c-64B,1,64,ok,", 0), 0U) << csv[i + 1];
    EXPECT_EQ(std::count(csv[i + 1].begin(), csv[i + 1].end(), ','), columns) << csv[i + 1];
  }

  const std::string report = read_text(out.path() + "/report.md");
  EXPECT_NE(report.find("## Machine"), std::string::npos);
  EXPECT_NE(report.find("compare (from compare_test)"), std::string::npos);
  EXPECT_NE(report.find("## Reading"), std::string::npos);
  for (const std::string& model : models) {
    EXPECT_NE(report.find("| " + model + " | "), std::string::npos) << report;
    EXPECT_NE(table.str().find(model), std::string::npos) << table.str();
  }
}

TEST(CompareRun, SmallNamedRunWritesIntervalsVerdictsAndCharts) {
  std::vector<std::string> models;
  for (const char* model : {"epoll", "poll"}) {
    if (executable(bin_path(model))) models.push_back(model);
  }
  if (models.size() < 2) GTEST_SKIP() << "bin/epoll and bin/poll are not both built";
  TempDir out;
  CompareOptions options = quick_options(loadgen_test::env_or("BIN_DIR", "bin"), out.path());
  options.models = models;
  options.scenarios = {*find_scenario("pingpong"), *find_scenario("busy")};
  options.repeat = 2;
  options.duration = std::chrono::milliseconds(300);
  std::ostringstream table, progress;
  ASSERT_EQ(run_compare(options, table, progress), 0) << progress.str();

  const nlohmann::json json = nlohmann::json::parse(read_text(out.path() + "/results.json"));
  ASSERT_EQ(json["scenarios"].size(), 2U);
  EXPECT_EQ(json["scenarios"][1]["name"], "busy");
  EXPECT_EQ(json["scenarios"][1]["loadgen"], "bin/loadgen -c 50 -s 64 -d 300ms --warmup 0s HOST:PORT");
  ASSERT_EQ(json["results"].size(), 4U);
  for (const auto& row : json["results"]) {
    EXPECT_EQ(row["outcome"], "ok") << row.dump(1);
    // Every run is kept, and the interval spans them.
    ASSERT_EQ(row["runs"].size(), 2U);
    const auto& rate = row["intervals"]["messages_per_s"];
    EXPECT_EQ(rate["runs"], 2);
    EXPECT_LE(rate["low"].get<double>(), rate["median"].get<double>());
    EXPECT_LE(rate["median"].get<double>(), rate["high"].get<double>());
    for (const auto& run : row["runs"]) {
      EXPECT_GE(run["messages_per_s"].get<double>(), rate["low"].get<double>());
      EXPECT_LE(run["messages_per_s"].get<double>(), rate["high"].get<double>());
      EXPECT_GT(run["client_cpu_share"].get<double>(), 0);
      EXPECT_TRUE(run["steal_share"].is_number());
    }
    EXPECT_EQ(row["intervals"]["kind"], "min-max of the runs");
    EXPECT_TRUE(row["client_bound"].is_boolean());
  }
  // Runs go round the models within a scenario: epoll, poll, epoll, poll.
  EXPECT_EQ(json["results"][0]["runs"][0]["repeat"], 0);
  // One pair per metric per scenario; each verdict names its pair.
  for (const auto& v : json["verdicts"]) {
    EXPECT_TRUE(v["verdict"] == "a" || v["verdict"] == "b" || v["verdict"] == "tie") << v.dump();
    EXPECT_EQ(v["a"], models[0]);
  }
  EXPECT_EQ(json["noise"]["calibration_before"].size(), json["noise"]["calibration_after"].size());
  EXPECT_GT(json["noise"]["calibration_before"][0]["ns_per_iteration"].get<double>(), 0);
  const auto csv = lines_of(read_text(out.path() + "/results.csv"));
  ASSERT_EQ(csv.size(), 5U);
  const auto columns = std::count(csv[0].begin(), csv[0].end(), ',');
  for (const std::string& line : csv) EXPECT_EQ(std::count(line.begin(), line.end(), ','), columns) << line;
  const std::string report = read_text(out.path() + "/report.md");
  for (const char* section : {"## Summary", "## Noise", "### pingpong", "### busy", "## Reading", "By hand: `"}) {
    EXPECT_NE(report.find(section), std::string::npos) << section;
  }
  EXPECT_NE(report.find(" ["), std::string::npos);  // intervals in brackets
  EXPECT_NE(table.str().find("pingpong msgs/s"), std::string::npos) << table.str();
  EXPECT_NE(table.str().find("calibration on CPU"), std::string::npos) << table.str();
}

TEST(CompareRun, IdleAndSlowConnectionsAreHeldBesideTheActiveOnes) {
  if (!executable(bin_path("epoll"))) GTEST_SKIP() << "bin/epoll not built";
  ServerProcess server(bin_path("epoll"), {"--port", "0"});
  ASSERT_TRUE(server.wait_for_banner(std::chrono::seconds(5))) << server.error();
  loadgen::LoadConfig config;
  config.host = server.host();
  config.port = server.port();
  config.connections = 4;
  config.threads = 1;
  config.duration = std::chrono::milliseconds(500);
  config.warmup = std::chrono::nanoseconds(0);
  config.idle = 200;
  config.slow = 20;
  config.slow_interval = std::chrono::milliseconds(50);
  const loadgen::LoadResult result = loadgen::run_load(config);
  EXPECT_EQ(result.idle_open, 200);
  EXPECT_EQ(result.slow_open, 20);
  EXPECT_EQ(result.background_not_established, 0);
  EXPECT_EQ(result.background_closed_by_server, 0);
  EXPECT_EQ(result.errors(), 0U) << result.first_error;
  EXPECT_GT(result.messages, 0U);
  // About 20 slow connections x 500 ms / 50 ms bytes, each echoed back and checked.
  EXPECT_GE(result.slow_bytes_sent, 100U);
  EXPECT_LE(result.slow_bytes_sent, 260U);
  EXPECT_GT(result.slow_bytes_echoed, 0U);
  EXPECT_LE(result.slow_bytes_echoed, result.slow_bytes_sent);
}

TEST(CompareRun, ModelAtItsLimitIsReportedNotHung) {
  if (!executable(bin_path("blocking"))) GTEST_SKIP() << bin_path("blocking") << " not built";
  TempDir out;
  CompareOptions options = quick_options(loadgen_test::env_or("BIN_DIR", "bin"), out.path());
  options.models = {"blocking"};
  options.connections = {3};
  options.duration = std::chrono::milliseconds(500);
  std::ostringstream table, progress;
  CompareResults results;
  ASSERT_EQ(run_compare(options, table, progress, &results), 0) << progress.str();
  ASSERT_EQ(results.rows.size(), 1U);
  const RunRecord& row = results.rows[0].summary;
  EXPECT_EQ(row.outcome, Outcome::kLimit) << row.note;
  EXPECT_EQ(row.note, "limit: 2/3 connections never answered");
  EXPECT_GT(row.messages, 0U);  // the one client it serves
  EXPECT_NE(table.str().find("limit: 2/3 connections never answered"), std::string::npos) << table.str();
}

TEST(CompareRun, CrashingAndSilentServersFailWhileTheRunCompletes) {
  const std::string crash = fake_path("crash_server");
  const std::string silent = fake_path("silent_server");
  LOADGEN_REQUIRE_BINARY(crash);
  LOADGEN_REQUIRE_BINARY(silent);
  TempDir bin, out;
  std::filesystem::create_symlink(std::filesystem::absolute(crash), bin.path() + "/crash_server");
  std::filesystem::create_symlink(std::filesystem::absolute(silent), bin.path() + "/silent_server");
  std::vector<std::string> models{"crash_server", "silent_server"};
  // A correct server after the failures shows the run went on.
  const std::string echo = fake_path("lg_echo");
  if (executable(echo)) {
    std::filesystem::create_symlink(std::filesystem::absolute(echo), bin.path() + "/lg_echo");
    models.push_back("lg_echo");
  }
  CompareOptions options = quick_options(bin.path(), out.path());
  options.models = models;
  options.duration = std::chrono::milliseconds(500);
  options.banner_timeout = std::chrono::milliseconds(1000);
  std::ostringstream table, progress;
  CompareResults results;
  ASSERT_EQ(run_compare(options, table, progress, &results), 0) << progress.str();

  const Row* crashed = find_row(results, "crash_server");
  ASSERT_NE(crashed, nullptr);
  EXPECT_EQ(crashed->summary.outcome, Outcome::kFailed);
  EXPECT_NE(crashed->summary.note.find("killed by SIGABRT during the run"), std::string::npos)
      << crashed->summary.note;
  const Row* quiet = find_row(results, "silent_server");
  ASSERT_NE(quiet, nullptr);
  EXPECT_EQ(quiet->summary.outcome, Outcome::kFailed);
  EXPECT_NE(quiet->summary.note.find("no banner within 1000 ms"), std::string::npos) << quiet->summary.note;
  if (const Row* good = find_row(results, "lg_echo")) {
    EXPECT_EQ(good->summary.outcome, Outcome::kOk) << good->summary.note;
    EXPECT_TRUE(good->best_throughput);
  }

  const nlohmann::json json = nlohmann::json::parse(read_text(out.path() + "/results.json"));
  ASSERT_EQ(json["results"].size(), models.size());
  EXPECT_EQ(json["results"][0]["outcome"], "failed");
  EXPECT_EQ(json["results"][1]["outcome"], "failed");
  EXPECT_EQ(lines_of(read_text(out.path() + "/results.csv")).size(), models.size() + 1);
  const std::string report = read_text(out.path() + "/report.md");
  EXPECT_NE(report.find("Failed: `crash_server`"), std::string::npos) << report;
  EXPECT_NE(report.find("`silent_server` (1c-64B: no banner"), std::string::npos) << report;
  EXPECT_NE(table.str().find("failed: no banner within 1000 ms"), std::string::npos) << table.str();
}

// ---- bin/compare itself ---------------------------------------------------------------------------------------

TEST(CompareBinary, BadOptionExits2AndHelpExits0) {
  const std::string compare = bin_path("compare");
  LOADGEN_REQUIRE_BINARY(compare);
  const CommandResult bad = run_command({compare, "--no-such-option"}, std::chrono::seconds(10));
  EXPECT_EQ(loadgen_test::exit_code(bad), 2);
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  EXPECT_NE(bad.err.find("no-such-option"), std::string::npos) << bad.err;
  EXPECT_TRUE(bad.out.empty());
  const CommandResult help = run_command({compare, "--help"}, std::chrono::seconds(10));
  EXPECT_EQ(loadgen_test::exit_code(help), 0);
  EXPECT_NE(help.out.find("--connections"), std::string::npos);
  const CommandResult scenario = run_command({compare, "--scenarios", "busy,nope"}, std::chrono::seconds(10));
  EXPECT_EQ(loadgen_test::exit_code(scenario), 2);
  EXPECT_EQ(std::count(scenario.err.begin(), scenario.err.end(), '\n'), 1) << scenario.err;
  EXPECT_NE(scenario.err.find("'nope' is not a scenario"), std::string::npos) << scenario.err;
  EXPECT_TRUE(scenario.out.empty());
}

}  // namespace
}  // namespace iomodels::compare
