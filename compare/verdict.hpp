// How sure a comparison may be: each figure is the median of its runs with the interval from the lowest to the
// highest run, and one model is said to be ahead of another only when their intervals do not overlap. With N
// interleaved runs each, the chance that N runs of one land wholly above N runs of another when the two are the
// same is 2 / C(2N, N): 10 % for N = 3, 3 % for N = 4, 0.8 % for N = 5 (for one pair, before any drift).
#pragma once
#include <string>
#include <vector>

namespace iomodels::compare {

struct Interval {
  double low = 0;
  double median = 0;
  double high = 0;
  int runs = 0;
  bool empty() const { return runs == 0; }
};

// The median and the min-max of the values (empty when there are none).
Interval interval_of(std::vector<double> values);

enum class Verdict { kTie, kFirstAhead, kSecondAhead };
const char* to_string(Verdict verdict);

// Whether a is ahead of b, b of a, or neither: ahead only when the intervals are disjoint, each rests on at
// least two runs (a single run has no spread to judge by), and the better median is at least min_ratio times the
// other (the comparison passes 1 + the scenario's measured same-model spread: a lead smaller than what one model
// moves by from run to run is not stated, even when a few runs happened to fall apart). higher_is_better: msgs/s;
// otherwise CPU per message.
Verdict judge(const Interval& a, const Interval& b, bool higher_is_better, double min_ratio = 1.0);

// By how much the better one is ahead: the ratio of the medians, >= 1.
double lead_ratio(const Interval& a, const Interval& b, bool higher_is_better);

// One ranked figure of one scenario, for the reading and the summary's marks.
struct Candidate {
  std::string model;
  Interval interval;
};
struct Ranking {
  // The best median first. best_alone: it is ahead of every other; otherwise `tied` holds the ones whose
  // interval overlaps the best's (the best itself included), who share the lead within the noise.
  std::vector<Candidate> order;
  bool best_alone = false;
  std::vector<std::string> tied;
};
Ranking rank(std::vector<Candidate> candidates, bool higher_is_better, double min_ratio = 1.0);

}  // namespace iomodels::compare
