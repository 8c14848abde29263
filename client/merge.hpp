// `loadgen merge FILE...`: one result out of the results of several instances (one per host, --segment I/N).
//
// Latencies merge exactly: each file carries its whole histogram (the "hdr" field of a --json result, or the
// interval histograms of an --hdr-log file), and the merged percentiles are read off the sum of the bucket counts,
// never averaged. Messages, bytes, errors by kind, connections and client CPU are added; the measured window is
// the span from the earliest start to the latest end when every part knows its start (--start-at makes them one).
#pragma once
#include <string>
#include <vector>

#include "client/load.hpp"

namespace iomodels::loadgen {

struct MergedResult {
  LoadConfig config;  // the first JSON part's options, with the connections and rate of all parts together
  LoadResult result;
  std::vector<std::string> notes;  // what the merge could not know or found inconsistent, one line each
  nlohmann::json parts;            // a line per file: its name, kind and own figures
};

// Throws std::runtime_error naming the file that cannot be read or is not a result.
MergedResult merge_results(const std::vector<std::string>& paths);

// The subcommand: argv[0] is "merge". Returns the exit status (0, 1 when errors were counted or a file is bad,
// 2 on bad usage).
int merge_main(int argc, char** argv);

}  // namespace iomodels::loadgen
