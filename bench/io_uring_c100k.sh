#!/usr/bin/env bash
# io_uring holds more connections in one process than the process may have descriptors (async/README.md,
# "Direct descriptors"). The server accepts into each ring's fixed file table, so a connection is no descriptor of
# the process; the kernel caps each ring's table at RLIMIT_NOFILE (20,000 here, the hard limit), so THREADS rings
# hold THREADS x 20,000. The load comes from several bin/loadgen processes (each may hold at most RLIMIT_NOFILE
# descriptors itself), each connecting from source addresses of its own in 127.0.0.0/8 (--bind) so that no
# (source, destination) pair runs out of ephemeral ports, and each sending a trickle of verified echo (open loop)
# on its connections throughout.
#
#   bench/io_uring_c100k.sh                       # 100,000 connections: 6 loadgen processes x 16,700
#   CONNS=30000 PROCS=2 THREADS=2 bench/io_uring_c100k.sh
#
# It prints, while every connection is open: established connections to the server's port (ss), the server's
# descriptors (/proc/PID/fd), its resident memory and the kernel's TCP memory (/proc/net/sockstat); at the end,
# each load generator's errors. Exit 0 when every load generator reports zero errors and the established count
# reached CONNS while the server held fewer than 100 descriptors.
set -euo pipefail

BIN_DIR=${BIN_DIR:-bin}
CONNS=${CONNS:-100000}
PROCS=${PROCS:-6}
THREADS=${THREADS:-6}
RATE=${RATE:-500}          # messages per second per load generator, spread over its connections
HOLD=${HOLD:-40s}          # how long each load generator runs once started
STAGGER=${STAGGER:-4}      # seconds between starting load generators, so that connects do not overflow backlogs
OUT=${OUT:-results/io_uring_c100k-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

per_proc=$(( (CONNS + PROCS - 1) / PROCS ))
hard=$(ulimit -Hn)
(( per_proc + 100 <= hard )) || { echo "io_uring_c100k.sh: $per_proc connections per process exceed the hard RLIMIT_NOFILE $hard; raise PROCS" >&2; exit 1; }
(( THREADS * hard >= CONNS )) || { echo "io_uring_c100k.sh: $THREADS rings x $hard direct descriptors < $CONNS; raise THREADS" >&2; exit 1; }
read -r low high </proc/sys/net/ipv4/ip_local_port_range
ports=$(( high - low + 1 ))
echo "ephemeral ports: $low-$high ($ports per source address); somaxconn $(cat /proc/sys/net/core/somaxconn)"

"$BIN_DIR/io_uring" --port 0 --threads "$THREADS" >"$OUT/banner" 2>"$OUT/server.stderr" &
server=$!
cleanup() {
  for pid in "${loads[@]:-}"; do [[ -n $pid ]] && kill "$pid" 2>/dev/null || true; done
  kill -TERM "$server" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do
  port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$OUT/banner")
  [[ -n $port ]] && break
  sleep 0.05
done
[[ -n ${port:-} ]] || { echo "io_uring did not start: $(cat "$OUT/server.stderr")" >&2; exit 1; }
cat "$OUT/server.stderr"

loads=()
addresses_per_proc=$(( per_proc / (ports * 3 / 4) + 1 ))
for ((p = 0; p < PROCS; p++)); do
  bind=""
  for ((a = 1; a <= addresses_per_proc; a++)); do bind+="${bind:+,}127.0.$(( p + 10 )).$a"; done
  "$BIN_DIR/loadgen" -c "$per_proc" -t 1 -R "$RATE" -d "$HOLD" --warmup 0 --timeout 20s --bind "$bind" -q \
    --json "$OUT/load$p.json" "127.0.0.1:$port" >"$OUT/load$p.out" 2>&1 &
  loads+=($!)
  sleep "$STAGGER"
done

# Watch until every connection is established (or the last load generator is half-way through its run).
peak=0
server_fds=0
for _ in $(seq 60); do
  established=$(ss -Htn state established "( sport = :$port )" | wc -l)
  server_fds=$(ls "/proc/$server/fd" | wc -l)
  (( established > peak )) && peak=$established
  echo "established $established  server descriptors $server_fds  server RSS $(awk '/VmRSS/ {print $2, $3}' "/proc/$server/status")  $(grep '^TCP:' /proc/net/sockstat)"
  (( established >= CONNS )) && break
  sleep 1
done

status=0
for ((p = 0; p < PROCS; p++)); do
  wait "${loads[$p]}" || status=1
  /usr/bin/python3 - "$OUT/load$p.json" "$p" <<'EOF' || status=1
import json, sys
run = json.load(open(sys.argv[1]))
print(f"load {sys.argv[2]}: {run['connections_opened']} connections, {run['messages']} messages verified, "
      f"{run['errors']['total']} errors {run.get('first_error', '')}")
sys.exit(1 if run["errors"]["total"] else 0)
EOF
done
loads=()
echo "peak established: $peak of $CONNS; server descriptors at that time: $server_fds"
(( peak >= CONNS && server_fds < 100 )) || status=1
kill -TERM "$server"
wait "$server" || status=1
tail -n +2 "$OUT/server.stderr"
exit "$status"
