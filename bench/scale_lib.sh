# Shared by bench/c10k.sh, bench/c100k.sh and bench/soak.sh (sourced, not run): start a server of the suite and stop
# it by its PID, read its memory and CPU from /proc over every process it forked, and run several load generator
# processes as one. Everything started here is recorded and stopped by PID when the calling script exits.
#
# Needs: bash, /proc, jq, ss (iproute2).

BIN_DIR=${BIN_DIR:-bin}
LOADGEN=${LOADGEN:-$BIN_DIR/loadgen}
SCALE_WORK=$(mktemp -d)
SCALE_PIDS=()        # every process started here, stopped at exit
SCALE_SYSCTLS=()     # "name=old value" of every sysctl changed here, restored at exit
CLK_TCK=$(getconf CLK_TCK)

scale_cleanup() {
  local pid
  for pid in "${SCALE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${SCALE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  local entry
  for entry in "${SCALE_SYSCTLS[@]}"; do
    sysctl -q -w "$entry" >/dev/null 2>&1 || echo "warning: could not restore sysctl $entry" >&2
  done
  rm -rf "$SCALE_WORK"
}
trap scale_cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# sysctl_at_least NAME VALUE: raise a sysctl to VALUE when it is lower, remember the old value for the exit, say
# what was done; fail with a clear message when it cannot be raised.
sysctl_at_least() {
  local name=$1 want=$2 path=/proc/sys/${1//.//} have
  [[ -r $path ]] || { echo "  $name: not present here (nothing to check)"; return 0; }
  have=$(cat "$path")
  if (( have >= want )); then echo "  $name = $have (need $want: ok)"; return 0; fi
  if sysctl -q -w "$name=$want" >/dev/null 2>&1; then
    SCALE_SYSCTLS+=("$name=$have")
    echo "  $name raised from $have to $want (restored at exit)"
  else
    die "$name is $have, below the $want this run needs, and cannot be raised here (sysctl -w $name=$want failed: are you root in this network namespace?)"
  fi
}

# start_server NAME [ARGS...]: starts bin/NAME on 127.0.0.1, an ephemeral port; sets SERVER_PID and SERVER_PORT.
start_server() {
  local name=$1; shift
  local out=$SCALE_WORK/server.$name.out
  [[ -x $BIN_DIR/$name ]] || die "$BIN_DIR/$name not built (make)"
  "$BIN_DIR/$name" --port 0 "$@" >"$out" 2>"$SCALE_WORK/server.$name.err" &
  SERVER_PID=$!
  SCALE_PIDS+=("$SERVER_PID")
  local _
  for _ in $(seq 100); do grep -qs '^listening on' "$out" && break; sleep 0.05; done
  SERVER_PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out")
  [[ -n $SERVER_PORT ]] || { cat "$SCALE_WORK/server.$name.err" >&2; die "$name printed no banner"; }
}

# stop_server: SIGTERM, then wait; the server must exit within a few seconds (PROTOCOL: within a second).
stop_server() {
  [[ -n ${SERVER_PID:-} ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local _
  for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# tree_pids PID: the process and every descendant.
tree_pids() {
  local pid=$1 child
  echo "$pid"
  for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do tree_pids "$child"; done
}

# rss_kib PID: resident memory (VmRSS) summed over the process and its descendants, in KiB.
rss_kib() {
  local total=0 pid kib
  for pid in $(tree_pids "$1"); do
    kib=$(awk '/^VmRSS:/ { print $2 }' /proc/"$pid"/status 2>/dev/null)
    total=$(( total + ${kib:-0} ))
  done
  echo "$total"
}

# cpu_ticks PID: user + system clock ticks of the process and its living descendants (all threads).
cpu_ticks() {
  local total=0 pid ticks
  for pid in $(tree_pids "$1"); do
    # Fields 14 and 15 of /proc/PID/stat, counted after the command name (which may hold spaces).
    ticks=$(sed 's/^.*) //' /proc/"$pid"/stat 2>/dev/null | awk '{ print $12 + $13 }')
    total=$(( total + ${ticks:-0} ))
  done
  echo "$total"
}

# held PORT: connections the server on PORT has accepted and keeps open: those ESTABLISHED on its port, less those
# still waiting in its listeners' accept queues (a listener's Recv-Q in ss is its queue's length). Counted in the
# kernel, so that io_uring's direct descriptors, which are in no process's descriptor table, count too.
held() {
  local established queued
  established=$(ss -Htn state established "( sport = :$1 )" 2>/dev/null | wc -l)
  queued=$(ss -Htln "( sport = :$1 )" 2>/dev/null | awk '$1 == "LISTEN" { q += $2 } END { print q + 0 }')
  echo $(( established - queued ))
}

# sockstat_tcp_pages: the kernel's TCP buffer memory, in pages (/proc/net/sockstat "TCP: ... mem N").
sockstat_tcp_pages() { awk '/^TCP:/ { for (i = 1; i < NF; ++i) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat; }
# sockets_used: every socket of this network namespace (/proc/net/sockstat "sockets: used N").
sockets_used() { awk '/^sockets:/ { print $3 }' /proc/net/sockstat; }
# slab_kib: kernel slab memory (Slab: in /proc/meminfo), which holds the socket structures themselves.
slab_kib() { awk '/^Slab:/ { print $2 }' /proc/meminfo; }

# run_loadgens PROCESSES PORT OUT_PREFIX [LOADGEN ARGS...]: starts PROCESSES bin/loadgen processes against
# 127.0.0.1:PORT, each with the given arguments and its own source addresses (127.0.P.1 and 127.0.P.2 for process
# P, so each has 2 x ~28,000 ephemeral ports); returns at once. Their JSON goes to OUT_PREFIX.P.json; their PIDs
# to LOADGEN_PIDS. Arguments "-c", "--idle" and "--connect-rate" are given per process: divide them first.
run_loadgens() {
  local processes=$1 port=$2 prefix=$3; shift 3
  LOADGEN_PIDS=()
  local p
  for (( p = 1; p <= processes; ++p )); do
    "$LOADGEN" "$@" --bind "127.0.$p.1,127.0.$p.2" --quiet --json "$prefix.$p.json" "127.0.0.1:$port" \
      >"$prefix.$p.out" 2>"$prefix.$p.err" &
    LOADGEN_PIDS+=("$!")
    SCALE_PIDS+=("$!")
  done
}

# wait_loadgens: waits for every loadgen of run_loadgens; true when all exited 0.
wait_loadgens() {
  local pid ok=0
  for pid in "${LOADGEN_PIDS[@]}"; do wait "$pid" || ok=1; done
  return $ok
}

# sum_loadgens OUT_PREFIX: one JSON object summing the processes' results (the latency percentiles are the worst
# process's, since percentiles do not add up).
sum_loadgens() {
  jq -s '{
    processes: length,
    messages: (map(.messages) | add),
    messages_per_s: (map(.messages_per_s) | add),
    errors: (map(.errors.total) | add),
    connect_errors: (map(.errors.connect) | add),
    resets: (map(.errors.reset) | add),
    timeouts: (map(.errors.timeout) | add),
    mismatches: (map(.errors.mismatch) | add),
    connections_opened: (map(.connections_opened) | add),
    connections_open_at_end: (map(.connections_open_at_end) | add),
    connections_never_answered: (map(.connections_never_answered) | add),
    p99_ns_worst: (map(.latency_ns.p99 // 0) | max),
    first_error: (map(.first_error) | map(select(. != "")) | first // "")
  }' "$1".*.json
}
