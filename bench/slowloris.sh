#!/usr/bin/env bash
# Slowloris against every server: do 10 well-behaved clients keep their throughput and latency while 1,000
# connections trickle an HTTP header and never finish it?
#
# For each server shape, ROUNDS times, interleaved: a run of bin/loadgen (10 connections, raw echo, every byte
# verified) alone, then the same run while slowhttptest (Debian's, slow-headers mode) holds SLOW connections that
# each send one more header line every second. Prints one line per shape: median msgs/s and p99 of both, their
# ratios, the loaded runs' errors, the server's threads and RSS under attack, and a verdict: for the event-driven
# servers PASS when every loaded run had zero errors and the median p99 stayed within 2x of the unloaded one (the
# scanners, nonblocking, select and poll, are named as such when over 2x without errors); for the thread and process
# models, what happened (a pool of N is starved by N slow peers: its documented limit).
#
#   bench/slowloris.sh                               every shape, 1,000 slow peers, 3 s runs, 3 rounds
#   SHAPES="epoll io_uring:--threads=2" SLOW=1000 DURATION=5 ROUNDS=5 bench/slowloris.sh
#
# A shape is a binary in $BIN_DIR and its arguments, '=' for spaces. Medians of several rounds, because on a shared
# two-core machine one latency run is noise. Traffic stays on 127.0.0.1; the server and slowhttptest are started
# here and stopped by their PIDs.
set -euo pipefail

BIN_DIR=${BIN_DIR:-bin}
SLOW=${SLOW:-1000}
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-3}
PY=/usr/bin/python3
EVENT_DRIVEN=" nonblocking select poll epoll sigio io_uring libevent libuv coroutine "
# These look at every descriptor each round: 1,000 idle peers cost them in every round, by design.
SCANNERS=" nonblocking select poll "
SHAPES=${SHAPES:-"blocking blocking-threads blocking-fork blocking-pool blocking-prefork nonblocking select poll epoll
 epoll:--edge epoll:--threads=2 sigio aio io_uring io_uring:--threads=2 libevent libevent:--threads=2 libuv coroutine
 coroutine:--threads=2"}

for tool in slowhttptest "$PY" "$BIN_DIR/loadgen"; do
  command -v "$tool" >/dev/null || { echo "slowloris: $tool not found (make deps; make)" >&2; exit 1; }
done
# slowhttptest needs a descriptor per slow connection.
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
server_pid=
slow_pid=
cleanup() {
  [[ -n $slow_pid ]] && kill "$slow_pid" 2>/dev/null && wait "$slow_pid" 2>/dev/null
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# loadgen's JSON -> "msgs_per_s p99_us errors never_answered"
figures() {
  "$PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(d["messages_per_s"], d["latency_ns"]["p99"]/1000, d["errors"]["total"], d["connections_never_answered"])' "$1"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

loadgen_run() {  # $1: output JSON
  "$BIN_DIR/loadgen" -c 10 -t 1 -d "${DURATION}s" --warmup 1s --timeout 2s -q --json "$1" "127.0.0.1:$port" \
    >/dev/null 2>&1 || true
}

printf '%-22s %12s %12s %6s %10s %10s %6s %7s %8s %9s  %s\n' shape msgs/s msgs/s:slow ratio p99us p99us:slow ratio \
  errors threads rss_MiB verdict
for shape in $SHAPES; do
  name=${shape%%:*}
  args=()
  if [[ $shape == *:* ]]; then
    rest=${shape#*:}
    read -r -a args <<<"${rest//=/ }"
  fi
  [[ -x $BIN_DIR/$name ]] || { echo "$shape: $BIN_DIR/$name not built" >&2; continue; }
  "$BIN_DIR/$name" "${args[@]}" --port 0 >"$work/banner" 2>"$work/server.err" &
  server_pid=$!
  for _ in $(seq 50); do grep -q listening "$work/banner" && break; sleep 0.1; done
  port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$work/banner")
  [[ -n $port ]] || { echo "$shape: no banner" >&2; kill "$server_pid"; server_pid=; continue; }

  base_rates=() base_p99=() slow_rates=() slow_p99=() errors=0 never=0 threads=0 rss=0
  for round in $(seq "$ROUNDS"); do
    loadgen_run "$work/base.json"
    read -r rate p99 _ _ < <(figures "$work/base.json")
    base_rates+=("$rate") base_p99+=("$p99")

    slowhttptest -H -c "$SLOW" -r "$SLOW" -i 1 -x 2 -p 3 -l $((DURATION + 30)) \
      -u "http://127.0.0.1:$port/" >"$work/slowhttptest.log" 2>&1 &
    slow_pid=$!
    # Until the slow connections are open (the server's descriptors show them), at most 10 s.
    for _ in $(seq 100); do
      (($(ls /proc/"$server_pid"/fd 2>/dev/null | wc -l) >= SLOW * 9 / 10)) && break
      # Thread and process models accept only what they can serve; count connections on the port instead.
      (($(ss -Htn state established "( dport = :$port )" 2>/dev/null | wc -l) >= SLOW * 9 / 10)) && break
      sleep 0.1
    done
    loadgen_run "$work/slow.json"
    threads=$(awk '/^Threads:/ {print $2}' /proc/"$server_pid"/status)
    rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' /proc/"$server_pid"/status)
    kill "$slow_pid" 2>/dev/null || true
    wait "$slow_pid" 2>/dev/null || true
    slow_pid=
    read -r rate p99 errs unanswered < <(figures "$work/slow.json")
    slow_rates+=("$rate") slow_p99+=("$p99")
    errors=$((errors + errs)) never=$((never + unanswered))
    sleep 1  # let the server close what slowhttptest left
  done
  kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
  server_pid=

  b_rate=$(echo "${base_rates[*]}" | median) s_rate=$(echo "${slow_rates[*]}" | median)
  b_p99=$(echo "${base_p99[*]}" | median) s_p99=$(echo "${slow_p99[*]}" | median)
  rate_ratio=$(awk -v a="$s_rate" -v b="$b_rate" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
  p99_ratio=$(awk -v a="$s_p99" -v b="$b_p99" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
  if [[ $EVENT_DRIVEN == *" $name "* ]]; then
    if ((errors == 0)) && awk -v r="$p99_ratio" 'BEGIN {exit !(r <= 2.0)}'; then
      verdict=PASS
    elif ((errors == 0)) && [[ $SCANNERS == *" $name "* ]]; then
      verdict="over 2x, its O(n) scan of the slow peers each round"
    else
      verdict=FAIL
    fi
  elif ((never > 0)); then
    verdict="starved: $never of $((10 * ROUNDS)) clients never answered (the model's limit)"
  else
    verdict="served (a thread or process per slow peer)"
  fi
  printf '%-22s %12.0f %12.0f %6s %10.0f %10.0f %6s %7d %8s %9s  %s\n' "$shape" "$b_rate" "$s_rate" "$rate_ratio" \
    "$b_p99" "$s_p99" "$p99_ratio" "$errors" "$threads" "$rss" "$verdict"
done
