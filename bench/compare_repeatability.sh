#!/usr/bin/env bash
# Two default comparisons in a row, then a check that they never state opposite verdicts: for every pair of
# models, scenario and metric (msgs/s, server CPU µs/msg) that both runs judged, one run saying "A ahead of B" and
# the other "B ahead of A" is a failure; a verdict in one run and a tie in the other is allowed (noise).
#
#   bench/compare_repeatability.sh [extra bin/compare options...]     (from the top of the tree)
#
# Takes about twice a default `make compare` (up to 20 minutes on the 2-CPU machine of the README). Writes
# results/repeatability-<timestamp>/{first,second}/ and prints a summary; exit status 0 when no verdict flipped,
# 1 when one did, 2 when a run failed.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory -j"$(nproc)" all >/dev/null
stamp=$(date +%Y%m%d-%H%M%S)
dir=results/repeatability-$stamp
mkdir -p "$dir"
for run in first second; do
  started=$(date +%s)
  if ! bin/compare --out "$dir/$run" "$@" >"$dir/$run.log" 2>&1; then
    echo "compare_repeatability: the $run run failed; see $dir/$run.log" >&2
    exit 2
  fi
  echo "$run run: $(( $(date +%s) - started )) s, $dir/$run/"
done
# /usr/bin/python3: the standard library is all this needs.
exec /usr/bin/python3 - "$dir/first/results.json" "$dir/second/results.json" <<'PY'
import json, sys
first, second = (json.load(open(path)) for path in sys.argv[1:3])
def verdicts(results):
    table = {}
    for v in results["verdicts"]:
        table[(v["scenario"], v["metric"], v["a"], v["b"])] = (v["verdict"], v["ratio"])
    return table
one, two = verdicts(first), verdicts(second)
common = sorted(set(one) & set(two))
same = stated_both = tie_changed = 0
opposite = []
for key in common:
    (a, ra), (b, rb) = one[key], two[key]
    if a == b:
        same += 1
        stated_both += a != "tie"
    elif "tie" in (a, b):
        tie_changed += 1
    else:
        opposite.append((key, a, ra, b, rb))
stated = [sum(v[0] != "tie" for v in t.values()) for t in (one, two)]
print(f"pairs judged in both runs: {len(common)} (only in one: {len(set(one) ^ set(two))})")
print(f"verdicts stated: {stated[0]} in the first run, {stated[1]} in the second; "
      f"the same verdict in both: {stated_both}; the same tie: {same - stated_both}")
print(f"a verdict in one run, a tie in the other (allowed): {tie_changed}")
print(f"opposite verdicts: {len(opposite)}")
for (scenario, metric, a, b), va, ra, vb, rb in opposite:
    winner = lambda v: a if v == "a" else b
    print(f"  {scenario} {metric}: {winner(va)} ahead by {ra:.2f}x, then {winner(vb)} ahead by {rb:.2f}x")
for name, results in (("first", first), ("second", second)):
    noise = results["noise"]
    cal = ", ".join(f"CPU {b['cpu']}: {a['ns_per_iteration'] / b['ns_per_iteration']:.2f}x"
                    for b, a in zip(noise["calibration_before"], noise["calibration_after"]))
    print(f"{name} run: {results['elapsed_s']:.0f} s, steal {100 * noise['steal_share']:.2f} %, "
          f"calibration after/before {cal}")
sys.exit(1 if opposite else 0)
PY
