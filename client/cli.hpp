// The command line of bin/loadgen, in wrk's habits, turned into a LoadConfig.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/load.hpp"

namespace iomodels::loadgen {

struct CommandLine {
  LoadConfig config;
  std::string json_path;  // empty: no JSON; "-": standard output
  bool quiet = false;
  bool help = false;
  std::string help_text;
  // Set when the command line is bad: one line naming the option, for stderr (exit status 2).
  std::string error;
};

CommandLine parse_command_line(int argc, const char* const* argv);

// "500ms", "10s", "2m", "1h", "250us"; a bare number is seconds. Empty when the text is not a duration.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);

// cxxopts names the bad value, not the flag, when a flag is given one ("--http=maybe"): the last "--name=" on the
// command line is that flag ("a flag" when none is).
std::string flag_given_a_value(int argc, const char* const* argv);
// "64", "4k", "1M" (powers of 1024). Empty when the text is not a size.
std::optional<std::size_t> parse_size(std::string_view text);

}  // namespace iomodels::loadgen
