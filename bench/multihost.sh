#!/usr/bin/env bash
# One load split over several client hosts: a loadgen per host, each running its --segment I/N of the load, all
# measuring from one common --start-at; their JSON results and HdrHistogram logs are collected here and merged
# exactly (bin/loadgen merge). ssh starts the instances; there is no coordinator of our own.
#
#   bench/multihost.sh [options] SERVER_HOST:PORT HOST... -- LOADGEN_OPTIONS...
#
#   HOST            an ssh destination (user@host, or a name from ~/.ssh/config) with loadgen installed, or
#                   cmd:PREFIX  a command prefix to run that host's loadgen under instead of ssh, e.g.
#                               "cmd:ip netns exec lab-c1" (the namespace lab test does this); "cmd:" runs it here
#   LOADGEN_OPTIONS the load as one instance would make it (-c 300 -R 90000 -d 30s --http ...); each host runs its
#                   share. The script adds -q, --segment, --start-at, --json and --hdr-log.
#
# Options:
#   --loadgen PATH  the loadgen to run on the hosts (default: "loadgen" on an ssh host's PATH; this tree's
#                   bin/loadgen, or $BIN_DIR/loadgen, for cmd: hosts)
#   --out DIR       where to collect the files (default: results/multihost-<time>/)
#   --lead SECONDS  from now to the common start of measurement, time for ssh to reach every host (default 3);
#                   each loadgen warms up until then, so the hosts' clocks must agree (NTP) to well under a second
#   --limit SECONDS kill a host's loadgen that has not finished this long after the start (default: 600)
#   -h, --help
#
# Files in DIR: host-I.json and host-I.hlog per host (I = its segment), host-I.err (its stderr),
# merged.json and merged.txt. Exit status: 0; 1 when a host failed or the merged result counts errors
# (verification failures included); 2 on bad usage.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# This tree's loadgen merges the results and runs on cmd: hosts ($BIN_DIR as the Makefile and tests use it).
local_loadgen=$(realpath -m "${BIN_DIR:-$here/bin}/loadgen")
loadgen=""
out=""
lead=3
limit=600

usage() {
  sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}
bad() {
  echo "multihost.sh: $*" >&2
  exit 2
}

while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --loadgen) (($# >= 2)) || bad "--loadgen: needs a path"; loadgen=$2; shift 2 ;;
    --out) (($# >= 2)) || bad "--out: needs a directory"; out=$2; shift 2 ;;
    --lead) (($# >= 2)) || bad "--lead: needs seconds"; lead=$2; shift 2 ;;
    --limit) (($# >= 2)) || bad "--limit: needs seconds"; limit=$2; shift 2 ;;
    --) break ;;
    -*) bad "unknown option '$1'" ;;
    *) break ;;
  esac
done
[[ $lead =~ ^[0-9]+([.][0-9]+)?$ ]] || bad "--lead: '$lead' is not a number of seconds"
[[ $limit =~ ^[0-9]+$ ]] || bad "--limit: '$limit' is not a whole number of seconds"
(($# >= 1)) && [[ $1 != -- ]] || bad "SERVER_HOST:PORT: missing"
server=$1
shift
hosts=()
while (($#)) && [[ $1 != -- ]]; do
  hosts+=("$1")
  shift
done
((${#hosts[@]} >= 1)) || bad "HOST: at least one client host is needed"
[[ ${1:-} == -- ]] && shift
load_args=("$@")
for arg in "${load_args[@]}"; do
  case $arg in
    --segment* | --start-at* | --json* | --hdr-log*) bad "$arg: the script sets it for each host" ;;
  esac
done

n=${#hosts[@]}
out=${out:-$here/results/multihost-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out" || bad "--out: cannot create $out"
# One start for all, in epoch seconds with milliseconds: ssh takes its time to reach each host.
start_at=$(date +%s.%N | awk -v lead="$lead" '{ printf "%.3f", $1 + lead }')

pids=()
cleanup() {
  # Each host's command runs in its own process group (setsid): killing the group reaches ssh or the prefix
  # command and the loadgen under it.
  for pid in "${pids[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null
  done
}
trap 'cleanup; exit 1' INT TERM

# The command each host runs: loadgen into a private temporary directory, then both files on standard output
# with a marker between them, so that one ssh session per host does everything and leaves nothing behind.
remote_command() {
  local segment=$1 program=$2 args
  args=$(printf ' %q' "${load_args[@]}" -q --segment "$segment/$n" --start-at "$start_at")
  cat <<EOF
d=\$(mktemp -d) || exit 3
$(printf '%q' "$program")$args --json "\$d/r.json" --hdr-log "\$d/r.hlog" "$server"
rc=\$?
cat "\$d/r.json" 2>/dev/null
echo "@@hlog@@"
cat "\$d/r.hlog" 2>/dev/null
rm -rf "\$d"
exit \$rc
EOF
}

echo "multihost: $n hosts against $server, measuring from $start_at (epoch s), files in $out"
for ((i = 1; i <= n; i++)); do
  host=${hosts[$((i - 1))]}
  if [[ $host == cmd:* ]]; then
    read -r -a prefix <<<"${host#cmd:}"
    program=${loadgen:-$local_loadgen}
    command=("${prefix[@]}" sh -c "$(remote_command "$i" "$program")")
  else
    program=${loadgen:-loadgen}
    # BatchMode: a host that asks for a password would hang the run; it fails instead.
    command=(ssh -o BatchMode=yes -- "$host" "$(remote_command "$i" "$program")")
  fi
  setsid timeout --kill-after=5 "$limit" "${command[@]}" >"$out/host-$i.raw" 2>"$out/host-$i.err" &
  pids+=($!)
done

failed=0
for ((i = 1; i <= n; i++)); do
  wait "${pids[$((i - 1))]}"
  status=$?
  awk '/^@@hlog@@$/ { part = 1; next } { print > (part ? hlog : json) }' \
    json="$out/host-$i.json" hlog="$out/host-$i.hlog" "$out/host-$i.raw"
  rm -f "$out/host-$i.raw"
  # loadgen exits 1 when it counted errors: its result is still good and the merge reports them.
  if ((status > 1)) || [[ ! -s $out/host-$i.json ]]; then
    echo "multihost: host $i (${hosts[$((i - 1))]}) failed with status $status: $(tail -n 1 "$out/host-$i.err")" >&2
    failed=1
  fi
done
pids=()
((failed)) && exit 1

jsons=()
for ((i = 1; i <= n; i++)); do jsons+=("$out/host-$i.json"); done
"$local_loadgen" merge --json "$out/merged.json" "${jsons[@]}" | tee "$out/merged.txt"
exit "${PIPESTATUS[0]}"
