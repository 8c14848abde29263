#!/usr/bin/env bash
# Runs the GoogleTest binary in parallel shards and prints, as its last line, "N passed, N failed, N skipped".
#
#   tests/run.sh build/tests/iomodels_tests [gtest options, e.g. --gtest_filter='*epoll*']
#
# Most tests wait on a server (a poll timeout, a stall window, a shutdown), not on the CPU, so a few shards share
# two cores well. Each shard writes its console output and a JSON report under $BUILD_DIR/test-results/; the counts
# come from the JSON reports, and the console output of every failed test is printed. TEST_SHARDS overrides the
# shard count; TEST_TIMEOUT (seconds, default 600) bounds each shard, so a hung test cannot hang CI. Exits non-zero
# when a test failed, a shard crashed or timed out, or no test ran.
set -u

test_bin=${1:?usage: tests/run.sh TEST_BINARY [gtest options]}
shift
shards=${TEST_SHARDS:-3}
time_limit=${TEST_TIMEOUT:-600}
results=${BUILD_DIR:-build}/test-results
export BIN_DIR=${BIN_DIR:-bin}

if [[ ! -x $test_bin ]]; then
  echo "$test_bin: not built" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
rm -rf "$results"
mkdir -p "$results"

started=$SECONDS
pids=()
for ((i = 0; i < shards; i++)); do
  # --foreground keeps the shard in our process group, so a Ctrl-C still reaches it (and its handler then kills
  # the servers it started).
  GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i timeout --foreground "$time_limit" \
    "$test_bin" --gtest_output="json:$results/shard-$i.json" --gtest_color=no "$@" \
    >"$results/shard-$i.log" 2>&1 &
  pids+=($!)
done
crashed=0
for ((i = 0; i < shards; i++)); do
  wait "${pids[$i]}"
  status=$?
  # gtest exits 1 when a test failed; anything else, or a missing report, means the shard itself died.
  if ((status == 124)); then
    echo "shard $i did not finish within $time_limit s (TEST_TIMEOUT); the end of its output:"
    tail -n 30 "$results/shard-$i.log"
    crashed=$((crashed + 1))
  elif [[ ! -s $results/shard-$i.json ]] || ((status > 1)); then
    echo "shard $i exited with status $status without finishing; the end of its output:"
    tail -n 30 "$results/shard-$i.log"
    crashed=$((crashed + 1))
  fi
done

# The console output of each failed test, from its RUN line to its FAILED line.
for log in "$results"/shard-*.log; do
  awk '
    /^\[ RUN      \]/ { block = $0 "\n"; next }
    block != "" { block = block $0 "\n" }
    /^\[  FAILED  \] .* \([0-9]+ ms\)$/ { printf "%s\n", block; block = "" }
    /^\[       OK \]|^\[  SKIPPED \]/ { block = "" }
  ' "$log"
done

# gtest's JSON report has one object per test: "status" ("RUN", or "NOTRUN" when disabled), then "result"
# ("COMPLETED", "SKIPPED", ...), then a "failures" array only when the test failed. Those keys never occur inside
# a JSON string (its quotes are escaped), so awk can count them without a JSON tool.
read -r passed failed skipped < <(
  awk '
    function flush() {
      if (have && status == "RUN") { if (broke) fail++; else if (result == "SKIPPED") skip++; else pass++ }
      have = 0; broke = 0
    }
    /^ *"status": "/ { flush(); have = 1; status = $0; sub(/^ *"status": "/, "", status); sub(/".*/, "", status) }
    /^ *"result": "/ { result = $0; sub(/^ *"result": "/, "", result); sub(/".*/, "", result) }
    /^ *"failures": \[/ { broke = 1 }
    END { flush(); print pass + 0, fail + 0, skip + 0 }
  ' "$results"/shard-*.json 2>/dev/null
)
passed=${passed:-0}
failed=$(( ${failed:-0} + crashed ))
skipped=${skipped:-0}

echo "test time: $((SECONDS - started)) s over $shards shards; logs in $results/"
echo "$passed passed, $failed failed, $skipped skipped"
if ((failed > 0 || passed == 0)); then
  exit 1
fi
exit 0
