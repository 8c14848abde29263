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
  r.scenario = {connections, 64};
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

TEST(CompareOptions, DefaultsAreTheQuickComparison) {
  const ParsedCommandLine parsed = parse({});
  ASSERT_EQ(parsed.error, "");
  const CompareOptions& o = parsed.options;
  EXPECT_TRUE(o.models.empty());
  EXPECT_EQ(o.connections, (std::vector<int>{1, 50, 500}));
  EXPECT_EQ(o.sizes, (std::vector<std::size_t>{64}));
  EXPECT_EQ(o.duration, std::chrono::seconds(3));
  EXPECT_EQ(o.warmup, std::chrono::seconds(1));
  EXPECT_EQ(o.bin_dir, "bin");
  // Servers are looked for beside the compare binary, so another build directory compares its own servers.
  const char* elsewhere[] = {"bin-san/compare"};
  EXPECT_EQ(parse_compare_command_line(1, elsewhere).options.bin_dir, "bin-san");
  EXPECT_EQ(o.repeat, 1);
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
                             "--syscalls", "--help"}) {
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
  const auto rows = aggregate(runs, {"epoll"}, {{50, 64}});
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_DOUBLE_EQ(rows[0].summary.msgs_per_s, 200);
  EXPECT_DOUBLE_EQ(rows[0].summary.cpu_us_per_msg, 4);
  EXPECT_DOUBLE_EQ(rows[0].msgs_per_s_min, 100);
  EXPECT_DOUBLE_EQ(rows[0].msgs_per_s_max, 300);
  EXPECT_EQ(rows[0].runs.size(), 3U);
}

TEST(CompareAggregate, MarksTheBestOfEachScenarioAmongModelsThatServedIt) {
  RunRecord limited = record("blocking", 50, 900, 1);
  limited.outcome = Outcome::kLimit;
  limited.never_answered = 49;
  limited.note = "limit: 49/50 connections never answered";
  const std::vector<RunRecord> runs{record("epoll", 1, 100, 6),  record("poll", 1, 120, 5), limited,
                                    record("epoll", 50, 500, 2), record("poll", 50, 400, 3)};
  const auto rows = aggregate(runs, {"blocking", "epoll", "poll"}, {{1, 64}, {50, 64}});
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
  results.scenarios = {{1, 64}, {50, 64}};
  results.rows = rows;
  const std::string text = [&] {
    std::string joined;
    for (const auto& bullet : reading(results)) joined += bullet + "\n";
    return joined;
  }();
  EXPECT_NE(text.find("`epoll` leads with 500 msgs/s, 1.25× the runner-up `poll`"), std::string::npos) << text;
  EXPECT_NE(text.find("`blocking` (49/50 never answered at 50 conns)"), std::string::npos) << text;
  const std::string table = render_text(build_table(results));
  EXPECT_NE(table.find("500*"), std::string::npos) << table;
  EXPECT_NE(table.find("limit: 49/50 connections never answered"), std::string::npos) << table;
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
  EXPECT_EQ(csv[0].rfind("model,connections,size,outcome,note,messages_per_s,", 0), 0U) << csv[0];
  const auto columns = std::count(csv[0].begin(), csv[0].end(), ',');
  for (std::size_t i = 0; i < models.size(); ++i) {
    EXPECT_EQ(csv[i + 1].rfind(models[i] + ",1,64,ok,", 0), 0U) << csv[i + 1];
    EXPECT_EQ(std::count(csv[i + 1].begin(), csv[i + 1].end(), ','), columns) << csv[i + 1];
  }

  const std::string report = read_text(out.path() + "/report.md");
  EXPECT_NE(report.find("## Machine"), std::string::npos);
  EXPECT_NE(report.find("compare (from compare_test)"), std::string::npos);
  EXPECT_NE(report.find("## Reading"), std::string::npos);
  for (const std::string& model : models) {
    EXPECT_NE(report.find("| " + model + " | 1 | 64 B |"), std::string::npos) << report;
    EXPECT_NE(table.str().find(model), std::string::npos) << table.str();
  }
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
  EXPECT_NE(report.find("`silent_server` (1 conn: no banner"), std::string::npos) << report;
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
}

}  // namespace
}  // namespace iomodels::compare
