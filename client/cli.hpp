// The command line of bin/loadgen, in wrk's habits, turned into a LoadConfig.
#pragma once
#include <string>

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

}  // namespace iomodels::loadgen
