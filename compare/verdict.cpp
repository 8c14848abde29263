#include "compare/verdict.hpp"

#include <algorithm>

namespace iomodels::compare {

Interval interval_of(std::vector<double> values) {
  Interval interval;
  if (values.empty()) return interval;
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  interval.median = values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
  interval.low = values.front();
  interval.high = values.back();
  interval.runs = static_cast<int>(values.size());
  return interval;
}

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kTie: return "tie";
    case Verdict::kFirstAhead: return "first ahead";
    case Verdict::kSecondAhead: return "second ahead";
  }
  return "?";
}

Verdict judge(const Interval& a, const Interval& b, bool higher_is_better, double min_ratio) {
  if (a.runs < 2 || b.runs < 2) return Verdict::kTie;
  if (lead_ratio(a, b, higher_is_better) < min_ratio) return Verdict::kTie;
  if (a.low > b.high) return higher_is_better ? Verdict::kFirstAhead : Verdict::kSecondAhead;
  if (b.low > a.high) return higher_is_better ? Verdict::kSecondAhead : Verdict::kFirstAhead;
  return Verdict::kTie;
}

double lead_ratio(const Interval& a, const Interval& b, bool higher_is_better) {
  const double big = std::max(a.median, b.median);
  const double small = std::min(a.median, b.median);
  (void)higher_is_better;  // the ratio of the larger to the smaller either way
  return small > 0 ? big / small : 0;
}

Ranking rank(std::vector<Candidate> candidates, bool higher_is_better, double min_ratio) {
  Ranking ranking;
  std::stable_sort(candidates.begin(), candidates.end(), [higher_is_better](const Candidate& x, const Candidate& y) {
    return higher_is_better ? x.interval.median > y.interval.median : x.interval.median < y.interval.median;
  });
  ranking.order = std::move(candidates);
  if (ranking.order.empty()) return ranking;
  const Candidate& best = ranking.order.front();
  ranking.best_alone = ranking.order.size() > 1 || best.interval.runs >= 2;
  for (std::size_t i = 1; i < ranking.order.size(); ++i) {
    if (judge(best.interval, ranking.order[i].interval, higher_is_better, min_ratio) != Verdict::kFirstAhead) {
      ranking.best_alone = false;
      ranking.tied.push_back(ranking.order[i].model);
    }
  }
  if (!ranking.tied.empty()) ranking.tied.insert(ranking.tied.begin(), best.model);
  return ranking;
}

}  // namespace iomodels::compare
