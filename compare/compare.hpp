// The comparison as a whole: every model through every scenario, then the table and the files.
//
//   CompareOptions options;                 // or parse_compare_command_line(argc, argv).options
//   options.models = {"epoll", "poll"};
//   int status = run_compare(options, std::cout, std::cerr);
//
// bin/compare is this plus its command line; the tests call it directly.
#pragma once
#include <ostream>
#include <string>

#include "compare/options.hpp"
#include "compare/results.hpp"

namespace iomodels::compare {

// Runs the comparison: the progress on progress, the table and where the files went on out. Returns the exit
// status: 0 when the run completed (servers that failed are reported, not fatal), 1 when there was nothing to
// run or the results could not be written. When results is not null it receives every figure.
int run_compare(const CompareOptions& options, std::ostream& out, std::ostream& progress,
                CompareResults* results = nullptr);

// results/<YYYYmmdd-HHMMSS>, from local time.
std::string default_out_dir();

}  // namespace iomodels::compare
