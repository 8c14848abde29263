#!/usr/bin/env bash
# A network namespace lab for bench/multihost.sh: a server in one namespace, client "hosts" in others, all joined
# by veth pairs to a bridge in a switch namespace, addresses from the benchmarking range 198.18.0.0/15. `ip netns
# exec` stands in for ssh, so the test drives the same script a real multi-host run uses.
#
#   tests/netns_lab.sh [--clients N] [--fail-mid-run]
#   tests/netns_lab.sh [--clients N] --demo ROUNDS -- LOADGEN_OPTIONS...
#
# Checks: the merged result is the sum of the hosts' results (messages, connections, rate; the .hlog files merge
# to the same histogram as the JSON results); the traffic crossed the veth devices; verification still catches a
# faulty server (tests/fake/lg_corrupt) across the lab. --fail-mid-run instead aborts while the hosts are loading
# the server, as a crashed test would, to show that the cleanup still removes everything.
#
# Everything is named iml<pid>-*, created here and removed on exit whatever happens (the EXIT trap kills what runs
# in the lab's namespaces, then deletes them). Prints "lab: tag NAME" and "lab: pid PID" lines for the caller's
# checks. Exit status: 0 all checks passed, 1 a check failed, 77 namespaces cannot be created here (the reason on
# stdout). $BIN_DIR (default bin) and $BUILD_DIR (default build) locate the binaries.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN_DIR:-bin}
build=${BUILD_DIR:-build}
[[ $bin == /* ]] || bin=$here/$bin
[[ $build == /* ]] || build=$here/$build
clients=3
fail_mid_run=0
demo_rounds=0
demo_args=()
while (($#)); do
  case $1 in
    --clients) clients=$2; shift 2 ;;
    --fail-mid-run) fail_mid_run=1; shift ;;
    --demo) demo_rounds=$2; shift 2 ;;
    --) shift; demo_args=("$@"); break ;;
    *) echo "netns_lab.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
python=/usr/bin/python3

tag=iml$$
switch=$tag-sw
server_ns=$tag-srv
server_ip=198.18.0.1
namespaces=()
started=()
work=$(mktemp -d /tmp/netns-lab-XXXXXX)

# A process and everything it started, children first found by parent pid (never by name).
descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    descendants "$child"
  done
  echo "$1"
}

cleanup() {
  local ns pid
  # Our own processes first (the server, a multihost run and the ssh stand-ins it started), then whatever still
  # runs inside our namespaces: only this lab's processes can be there.
  for pid in $(for p in "${started[@]}"; do descendants "$p"; done); do kill -KILL "$pid" 2>/dev/null; done
  for ns in "${namespaces[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null; done
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

check_failed=0
fail() {
  echo "FAIL: $*"
  check_failed=1
}

echo "lab: tag $tag"
if ! ip netns add "$switch" 2>"$work/why"; then
  echo "SKIP: cannot create network namespaces here ($(head -n 1 "$work/why")); the lab needs root or CAP_SYS_ADMIN"
  exit 77
fi
namespaces+=("$switch")

# The switch namespace holds the bridge and one end of every veth pair; the other end is eth0 of a node.
setup() {
  local node address
  ip -n "$switch" link add br0 type bridge && ip -n "$switch" link set br0 up || return 1
  for node in srv $(seq -f 'c%g' 1 "$clients"); do
    local ns=$tag-$node
    ip netns add "$ns" || return 1
    namespaces+=("$ns")
    if [[ $node == srv ]]; then address=$server_ip; else address=198.18.0.$((10 + ${node#c})); fi
    ip -n "$switch" link add "p-$node" type veth peer name eth0 netns "$ns" &&
      ip -n "$switch" link set "p-$node" master br0 up &&
      ip -n "$ns" link set lo up &&
      ip -n "$ns" addr add "$address/24" dev eth0 &&
      ip -n "$ns" link set eth0 up || return 1
  done
}
if ! setup 2>"$work/why"; then
  echo "SKIP: cannot build the veth and bridge lab ($(head -n 1 "$work/why"))"
  exit 77
fi

# Starts a server in the server namespace and waits until a client namespace can connect to it.
start_server() {
  local port=$1
  shift
  ip netns exec "$server_ns" "$@" >"$work/server.log" 2>&1 &
  server_pid=$!
  started+=("$server_pid")
  local tries
  for tries in $(seq 50); do
    if ip netns exec "$tag-c1" bash -c "exec 3<>/dev/tcp/$server_ip/$port" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "FAIL: the server in $server_ns did not listen on $server_ip:$port: $(tail -n 2 "$work/server.log")"
  return 1
}
stop_server() {
  kill -TERM "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
}

hosts=()
for ((i = 1; i <= clients; i++)); do hosts+=("cmd:ip netns exec $tag-c$i"); done
load=(-c $((3 * clients)) -t 1 -R $((1000 * clients)) --timeout 1s)

start_server 7000 "$bin/epoll" --host "$server_ip" --port 7000 --threads 1 || exit 1

if ((fail_mid_run)); then
  "$here/bench/multihost.sh" --out "$work/run" --lead 1 --limit 60 "$server_ip:7000" "${hosts[@]}" -- \
    "${load[@]}" -d 30s >"$work/aborted.log" 2>&1 &
  started+=($!)
  sleep 2
  for pid in $(descendants "$server_pid") $(descendants "$!"); do echo "lab: pid $pid"; done
  echo "lab: failing on purpose while $clients hosts load the server"
  exit 1
fi

summary() {
  $python - "$@" <<'EOF'
import json, sys
label, path = sys.argv[1], sys.argv[2]
j = json.load(open(path))
l = j["latency_ns"]
print(f"{label:>24}: {j['messages_per_s']:9.0f} msgs/s (target {j['target_rate']:.0f}), "
      f"p50 {l['p50'] / 1e3:8.1f} us, p99 {l['p99'] / 1e3:8.1f} us, p99.9 {l['p99.9'] / 1e3:8.1f} us, "
      f"max {l['max'] / 1e3:8.1f} us, {j['errors']['total']} errors, client CPU {j['client_cpu_seconds']:.2f} s")
EOF
}

if ((demo_rounds > 0)); then
  for ((round = 1; round <= demo_rounds; round++)); do
    "$here/bench/multihost.sh" --out "$work/demo-$round" --lead 1 --limit 300 "$server_ip:7000" "${hosts[@]}" -- \
      "${demo_args[@]}" >"$work/demo-$round.log" 2>&1 || { cat "$work/demo-$round.log"; exit 1; }
    ((round == 1)) && cat "$work/demo-$round.log"
    summary "round $round, $clients hosts merged" "$work/demo-$round/merged.json"
    ip netns exec "$tag-c1" "$bin/loadgen" -q "${demo_args[@]}" --json "$work/single-$round.json" "$server_ip:7000"
    summary "round $round, 1 host" "$work/single-$round.json"
  done
  exit 0
fi

# 1. A correct server: the merged result is the sum of the parts.
"$here/bench/multihost.sh" --out "$work/good" --lead 1 --limit 60 "$server_ip:7000" "${hosts[@]}" -- "${load[@]}" -d 2s \
  >"$work/good.log" 2>&1
status=$?
cat "$work/good.log"
((status == 0)) || fail "multihost.sh against a correct server exited $status"
"$bin/loadgen" merge -q --json "$work/good/hlogs.json" "$work/good"/host-*.hlog || fail "merging the .hlog files"
for ((i = 1; i <= clients; i++)); do
  ip -n "$tag-c$i" -s -j link show eth0 >"$work/good/link-$i.json" || fail "reading eth0 counters of c$i"
done
$python - "$work/good" "$clients" <<'EOF' || fail "the merged result is not the sum of the parts"
import glob, json, sys
folder, clients = sys.argv[1], int(sys.argv[2])
merged = json.load(open(f"{folder}/merged.json"))
parts = [json.load(open(f"{folder}/host-{i}.json")) for i in range(1, clients + 1)]
from_hlogs = json.load(open(f"{folder}/hlogs.json"))
problems = []
def same(what, mine, want):
    if mine != want:
        problems.append(f"{what}: merged {mine}, expected {want}")
same("messages", merged["messages"], sum(p["messages"] for p in parts))
same("bytes", merged["bytes"], sum(p["bytes"] for p in parts))
same("latency count", merged["latency_ns"]["count"], sum(p["latency_ns"]["count"] for p in parts))
same("connections", merged["connections"], 3 * clients)
same("target rate", merged["target_rate"], 1000.0 * clients)
same("errors", merged["errors"]["total"], 0)
same("segments", sorted(p["options"]["segment"] for p in parts), [f"{i}/{clients}" for i in range(1, clients + 1)])
same("one start", len({p["start_time"] for p in parts}), 1)
for key in ("count", "p50", "p90", "p99", "p99.9"):
    same(f"latency {key} from the .hlog files", from_hlogs["latency_ns"][key], merged["latency_ns"][key])
# Open loop at 1000/s per host for 2 s after a 1 s warm-up: a shared machine may fall behind; the window also
# counts the replies to messages that fell due in the warm-up and came late, but never more than were ever due.
if not 0.5 * 2000 * clients <= merged["messages"] <= 3000 * clients:
    problems.append(f"{merged['messages']} messages for {2000 * clients} due in the window")
for i, part in enumerate(parts, 1):
    stats = json.load(open(f"{folder}/link-{i}.json"))[0]["stats64"]
    if stats["tx"]["packets"] < part["messages"]:
        problems.append(f"c{i} sent {stats['tx']['packets']} packets on eth0 for {part['messages']} messages")
for p in problems:
    print("  " + p)
print(f"lab: merged {merged['messages']} messages = sum of {clients} hosts; p99 {merged['latency_ns']['p99']} ns")
sys.exit(1 if problems else 0)
EOF
stop_server

# 2. A server that corrupts the echo: every host's verification catches it, and the merged result counts it.
start_server 7001 "$build/tests/fake/lg_corrupt" --host "$server_ip" --port 7001 || exit 1
"$here/bench/multihost.sh" --out "$work/bad" --lead 1 --limit 60 "$server_ip:7001" "${hosts[@]}" -- "${load[@]}" -d 2s \
  >"$work/bad.log" 2>&1
status=$?
((status == 1)) || { cat "$work/bad.log"; fail "multihost.sh against a corrupting server exited $status, not 1"; }
$python - "$work/bad" "$clients" <<'EOF' || fail "the corruption was not counted on every host"
import json, sys
folder, clients = sys.argv[1], int(sys.argv[2])
merged = json.load(open(f"{folder}/merged.json"))
parts = [json.load(open(f"{folder}/host-{i}.json")) for i in range(1, clients + 1)]
ok = merged["errors"]["mismatch"] == sum(p["errors"]["mismatch"] for p in parts) and \
     all(p["errors"]["mismatch"] > 0 for p in parts)
print(f"lab: corrupting server: {merged['errors']['mismatch']} mismatches over {clients} hosts "
      f"({', '.join(str(p['errors']['mismatch']) for p in parts)}); first: {merged['first_error']}")
sys.exit(0 if ok else 1)
EOF
stop_server

((check_failed)) && exit 1
echo "lab: every check passed"
exit 0
