#!/usr/bin/env bash
# Does loadgen agree with wrk? Drives one server of the suite in HTTP mode with wrk and with loadgen in turn (same
# connections, threads and duration, several rounds), and compares requests per second and the client's own CPU
# seconds (user + system, from /usr/bin/time, i.e. getrusage of the child) per request. Then one raw-echo run:
# loadgen's messages per second and CPU per message, closed loop, 64-byte messages.
#
#   bench/loadgen_vs_wrk.sh                       bin/epoll, 50 connections, 2 threads, 10 s, 3 rounds
#   SERVER=bin/epoll SERVER_ARGS="--threads 2" CONNECTIONS=100 THREADS=2 DURATION=10 ROUNDS=3 bench/loadgen_vs_wrk.sh
#   SERVER_CPUS=0 CLIENT_CPUS=1-3 bench/loadgen_vs_wrk.sh     pin the server and both clients apart (taskset)
#
# On a machine where the clients share cores with the server, a client's own cost per request shows in the
# throughput: wrk makes two epoll_ctl calls per request besides its write and read, loadgen none, so there loadgen
# tends to measure more requests per second. Pinning the clients away from the server removes most of that.
#
# Needs wrk and GNU time (/usr/bin/time). Traffic stays on 127.0.0.1. The server is started here with --port 0
# and stopped with SIGTERM by its PID when the script ends.
set -euo pipefail

BIN_DIR=${BIN_DIR:-bin}
SERVER=${SERVER:-$BIN_DIR/epoll}
SERVER_ARGS=${SERVER_ARGS:-}
LOADGEN=${LOADGEN:-$BIN_DIR/loadgen}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
SERVER_CPUS=${SERVER_CPUS:-}
CLIENT_CPUS=${CLIENT_CPUS:-}
pin_server=()
pin_client=()
[[ -n $SERVER_CPUS ]] && pin_server=(taskset -c "$SERVER_CPUS")
[[ -n $CLIENT_CPUS ]] && pin_client=(taskset -c "$CLIENT_CPUS")

for tool in wrk /usr/bin/time "$SERVER" "$LOADGEN"; do
  command -v "$tool" >/dev/null || { echo "loadgen_vs_wrk: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck disable=SC2086  # SERVER_ARGS is a list of words
"${pin_server[@]}" "$SERVER" --port 0 $SERVER_ARGS >"$work/banner" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 50); do grep -q '^listening on' "$work/banner" && break; sleep 0.1; done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/banner")
[[ -n $port ]] || { echo "loadgen_vs_wrk: $SERVER printed no banner" >&2; cat "$work/server.err" >&2; exit 1; }
target=127.0.0.1:$port

# cpu_seconds FILE: user + system seconds from a /usr/bin/time -f '%U %S' line at the end of FILE.
cpu_seconds() { tail -n 1 "$1" | awk '{ print $1 + $2 }'; }

echo "server: $SERVER $SERVER_ARGS on $target; $CONNECTIONS connections, $THREADS threads, ${DURATION}s, $ROUNDS rounds"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)${SERVER_CPUS:+, server on CPUs $SERVER_CPUS}${CLIENT_CPUS:+, clients on CPUs $CLIENT_CPUS}"
printf '%-6s %-8s %12s %12s %10s %14s\n' round client requests req/s cpu_s cpu_us/req
results=()
for round in $(seq "$ROUNDS"); do
  /usr/bin/time -f '%U %S' -o "$work/wrk.time" \
    "${pin_client[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" "http://$target/" >"$work/wrk.out"
  wrk_requests=$(awk '/requests in/ { print $1 }' "$work/wrk.out")
  wrk_rate=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.out")
  wrk_cpu=$(cpu_seconds "$work/wrk.time")
  wrk_per=$(awk -v c="$wrk_cpu" -v n="$wrk_requests" 'BEGIN { printf "%.3f", c * 1e6 / n }')
  printf '%-6s %-8s %12s %12s %10s %14s\n' "$round" wrk "$wrk_requests" "$wrk_rate" "$wrk_cpu" "$wrk_per"

  # No warm-up, so that both clients are charged for the same things: connecting, then DURATION of requests.
  /usr/bin/time -f '%U %S' -o "$work/lg.time" \
    "${pin_client[@]}" "$LOADGEN" --http -s 0 -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --warmup 0 --quiet \
    --json "$work/lg.json" "$target"
  lg_requests=$(sed -n 's/^  "messages": \([0-9]*\),$/\1/p' "$work/lg.json")
  lg_rate=$(sed -n 's/^  "messages_per_s": \([0-9.e+]*\),$/\1/p' "$work/lg.json")
  lg_cpu=$(cpu_seconds "$work/lg.time")
  lg_per=$(awk -v c="$lg_cpu" -v n="$lg_requests" 'BEGIN { printf "%.3f", c * 1e6 / n }')
  printf '%-6s %-8s %12s %12.2f %10s %14s\n' "$round" loadgen "$lg_requests" "$lg_rate" "$lg_cpu" "$lg_per"
  results+=("$wrk_rate $lg_rate $wrk_per $lg_per")
done

printf '%s\n' "${results[@]}" | awk '
  { rate = $2 / $1; cpu = $4 / $3; rates[NR] = rate; cpus[NR] = cpu; sr += rate; sc += cpu
    if (NR == 1 || rate < rmin) rmin = rate; if (NR == 1 || rate > rmax) rmax = rate
    if (NR == 1 || cpu < cmin) cmin = cpu; if (NR == 1 || cpu > cmax) cmax = cpu }
  END {
    printf "loadgen req/s as a share of wrk'"'"'s: mean %.3f (%.3f .. %.3f)  [agreement: within 0.90 .. 1.10]\n", sr / NR, rmin, rmax
    printf "loadgen CPU per request over wrk'"'"'s: mean %.3f (%.3f .. %.3f)  [goal: at most 1.00]\n", sc / NR, cmin, cmax
  }'

echo
echo "raw echo, closed loop, 64-byte messages, $CONNECTIONS connections, $THREADS threads, ${DURATION}s:"
/usr/bin/time -f '%U %S' -o "$work/raw.time" \
  "${pin_client[@]}" "$LOADGEN" -s 64 -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --warmup 0 --quiet --json "$work/raw.json" "$target"
raw_messages=$(sed -n 's/^  "messages": \([0-9]*\),$/\1/p' "$work/raw.json")
raw_rate=$(sed -n 's/^  "messages_per_s": \([0-9.e+]*\),$/\1/p' "$work/raw.json")
raw_cpu=$(cpu_seconds "$work/raw.time")
awk -v n="$raw_messages" -v r="$raw_rate" -v c="$raw_cpu" \
  'BEGIN { printf "loadgen: %d messages, %.0f messages/s, %.2f CPU s, %.3f us CPU per message\n", n, r, c, c * 1e6 / n }'
