// Charts of a comparison, drawn by gnuplot (Debian's gnuplot-nox; its pngcairo terminal, or png without cairo):
// messages/s against connections per model, p99 latency against connections, server CPU per message per model.
// One set per message size. The script is kept beside the images, so a chart can be redrawn or restyled.
#pragma once
#include <string>
#include <vector>

#include "compare/results.hpp"

namespace iomodels::compare {

struct ChartFile {
  std::string name;   // file name within the output directory, e.g. "throughput.png"
  std::string title;  // what it shows
};

// The gnuplot script drawing every chart into dir with the given terminal ("pngcairo" or "png"); files receives
// what it will draw. Charts with nothing to draw are left out.
std::string gnuplot_script(const CompareResults& results, const std::string& dir, const std::string& terminal,
                           std::vector<ChartFile>& files);

// Writes dir/charts.gp and runs gnuplot on it. Returns the charts drawn; when gnuplot is missing or fails,
// returns none and says why in note.
std::vector<ChartFile> draw_charts(const CompareResults& results, const std::string& dir, std::string& note);

}  // namespace iomodels::compare
