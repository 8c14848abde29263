#!/usr/bin/env bash
# Soak: 10,000 connections of verified echo against one server for a long while (default 10 minutes), watching the
# server's memory. Passes when the load generator counted zero errors (so zero mismatched bytes), every connection
# was still held at the end, and the server's resident memory at the end is within 5 % of its value after the first
# minute (no leak: a server that keeps a little per message, per reconnect or per timer grows by more than that).
#
#   bench/soak.sh                                  bin/epoll, 10 minutes
#   bench/soak.sh io_uring                         another server
#   bench/soak.sh epoll --threads 2                with its options
#   DURATION=60 RATE=20000 CONNECTIONS=10000 bench/soak.sh libuv
#
# The load is an open loop (RATE messages per second over all the connections, 64 bytes each; 1 per connection
# per second by default) rather than a closed loop, so that the machine keeps some breath and a slow minute does
# not turn into timeouts. Connections open at CONNECT_RATE per second during a warm-up. Memory is sampled every
# SAMPLE seconds; the first-minute value is the sample taken 60 s into the measured run (or halfway, for runs
# shorter than two minutes). Everything runs on 127.0.0.1; the server and the load generator are stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/scale_lib.sh
source bench/scale_lib.sh

DURATION=${DURATION:-600}
CONNECTIONS=${CONNECTIONS:-10000}
RATE=${RATE:-10000}
# A message unanswered this long is an error (a lost or corrupted reply would never come). Generous, because on
# a shared two-core machine a neighbour's build can starve the server for seconds without anything being lost.
TIMEOUT=${TIMEOUT:-30s}
CONNECT_RATE=${CONNECT_RATE:-5000}
THREADS=${THREADS:-2}
SAMPLE=${SAMPLE:-5}
TOLERANCE_PCT=${TOLERANCE_PCT:-5}
server=${1:-epoll}
shift || true

warmup=$(( CONNECTIONS / CONNECT_RATE + 5 ))
first_at=$(( DURATION >= 120 ? 60 : DURATION / 2 ))
start_server "$server" "$@"
echo "soak: $server $* on 127.0.0.1:$SERVER_PORT; $CONNECTIONS connections, open loop $RATE msgs/s of 64 B," \
     "verified, timeout $TIMEOUT; ${warmup}s warm-up, ${DURATION}s measured; memory sampled every ${SAMPLE}s"
echo "machine: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) (shared with other work)"
rss_before=$(rss_kib "$SERVER_PID")
cpu_before=$(cpu_ticks "$SERVER_PID")

run_loadgens 1 "$SERVER_PORT" "$SCALE_WORK/soak" -c "$CONNECTIONS" -t "$THREADS" -R "$RATE" \
  --connect-rate "$CONNECT_RATE" --warmup "${warmup}s" -d "${DURATION}s" --timeout "$TIMEOUT"
started=$SECONDS
samples=$SCALE_WORK/samples
: >"$samples"
held_min=
while kill -0 "${LOADGEN_PIDS[0]}" 2>/dev/null; do
  sleep "$SAMPLE"
  t=$(( SECONDS - started - warmup ))
  (( t >= 0 && t <= DURATION - 2 )) || continue
  kill -0 "$SERVER_PID" 2>/dev/null || break
  rss=$(rss_kib "$SERVER_PID")
  held=$(held "$SERVER_PORT")
  echo "$t $rss $held" >>"$samples"
  if [[ -z $held_min ]] || (( held < held_min )); then held_min=$held; fi
  if (( t % 60 < SAMPLE )); then echo "  t=${t}s  server RSS ${rss} KiB  connections held $held"; fi
done
loadgen_ok=yes
wait_loadgens || loadgen_ok=no
cpu_after=$(cpu_ticks "$SERVER_PID" 2>/dev/null || echo "$cpu_before")
kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during the soak"
stop_server

summary=$(sum_loadgens "$SCALE_WORK/soak")
messages=$(jq .messages <<<"$summary")
errors=$(jq .errors <<<"$summary")
mismatches=$(jq .mismatches <<<"$summary")
rss_first=$(awk -v at="$first_at" '$1 >= at { print $2; exit }' "$samples")
rss_end=$(tail -n 1 "$samples" | awk '{ print $2 }')
[[ -n $rss_first && -n $rss_end ]] || die "too few memory samples (a run of ${DURATION}s is too short?)"
growth=$(awk -v a="$rss_first" -v b="$rss_end" 'BEGIN { printf "%+.2f", (b - a) * 100 / a }')
cpu_us=$(awk -v t=$(( cpu_after - cpu_before )) -v hz="$CLK_TCK" -v m="$messages" \
  'BEGIN { printf "%.2f", m ? t / hz * 1e6 / m : 0 }')

echo "messages: $messages ($(jq '.messages_per_s | floor' <<<"$summary") msgs/s), errors: $errors" \
     "(mismatches $mismatches, connect $(jq .connect_errors <<<"$summary"), resets $(jq .resets <<<"$summary")," \
     "timeouts $(jq .timeouts <<<"$summary")), worst p99 $(jq '.p99_ns_worst / 1e6' <<<"$summary") ms"
echo "connections held: at least $held_min of $CONNECTIONS throughout the measured run"
echo "server CPU: $cpu_us µs/msg (warm-up included)"
echo "server RSS: ${rss_before} KiB idle, ${rss_first} KiB at ${first_at}s, ${rss_end} KiB at the end ($growth %)"
[[ $errors == 0 ]] || echo "first error: $(jq -r .first_error <<<"$summary")"

verdict=PASS
[[ $errors == 0 && $loadgen_ok == yes ]] || verdict=FAIL
(( held_min >= CONNECTIONS )) || verdict=FAIL
awk -v g="$growth" -v tol="$TOLERANCE_PCT" 'BEGIN { exit !(g <= tol && g >= -tol) }' || verdict=FAIL
echo "soak $server: $verdict (zero errors, $CONNECTIONS held, memory within ${TOLERANCE_PCT} % of the first minute)"
[[ $verdict == PASS ]]
