// bin/loadgen: drives one echo server and reports throughput, latency percentiles and every error it saw.
//
//   bin/loadgen -c 50 -t 2 -d 10s 127.0.0.1:7000
//
// Exit status: 0 when every message came back intact, 1 when any error was counted (or the run could not be set
// up), 2 on bad usage.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string_view>

#include "client/cli.hpp"
#include "client/load.hpp"
#include "client/merge.hpp"
#include "client/report.hpp"

using namespace iomodels::loadgen;

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "merge") return merge_main(argc - 1, argv + 1);
  CommandLine command = parse_command_line(argc, argv);
  if (!command.error.empty()) {
    std::fprintf(stderr, "%s\n", command.error.c_str());
    return 2;
  }
  if (command.help) {
    std::fputs(command.help_text.c_str(), stdout);
    return 0;
  }
  LoadConfig& config = command.config;
  // With --json - standard output carries the JSON alone, so that it can be piped.
  const bool text_out = !command.quiet && command.json_path != "-";
  const bool live = text_out && ::isatty(STDOUT_FILENO);
  if (live) {
    config.on_progress = [](const Progress& progress) {
      std::fprintf(stdout, "\r%s\x1b[K", format_progress(progress).c_str());
      std::fflush(stdout);
    };
  }

  LoadResult result;
  try {
    if (text_out) {
      const int threads = config.threads ? config.threads : static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
      const int share = segment_connections(config.connections, config.segment).size();
      std::fputs(format_header(config, std::min(threads, share)).c_str(), stdout);
      std::fflush(stdout);
    }
    result = run_load(config);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "loadgen: %s\n", error.what());
    return 1;
  }
  if (live) std::fputs("\r\x1b[K", stdout);
  if (text_out) std::fputs(format_summary(config, result).c_str(), stdout);

  if (!command.json_path.empty()) {
    const std::string json = to_json(config, result).dump(2) + "\n";
    if (command.json_path == "-") {
      std::fputs(json.c_str(), stdout);
    } else {
      std::ofstream file(command.json_path);
      file << json;
      if (!file.flush()) {
        std::fprintf(stderr, "loadgen: cannot write %s\n", command.json_path.c_str());
        return 1;
      }
    }
  }
  if (result.errors() > 0) {
    if (!text_out) std::fprintf(stderr, "loadgen: %llu errors; first: %s\n",
                                static_cast<unsigned long long>(result.errors()), result.first_error.c_str());
    return 1;
  }
  return 0;
}
