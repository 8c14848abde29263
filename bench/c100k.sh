#!/usr/bin/env bash
# C100K, and what this machine allows. A process here may hold at most 20,000 descriptors (the hard RLIMIT_NOFILE,
# which cannot be raised without CAP_SYS_RESOURCE), so 100,000 connections need several processes on each side, or
# descriptors that are in no process's table:
#   - the client side is several bin/loadgen processes started and summed here, each with its own source addresses
#     (--bind 127.0.P.1,127.0.P.2 for process P: 2 x ~28,000 ephemeral ports each), opening connections at a bounded
#     pace (--connect-rate) so that the listen backlog never overflows;
#   - epoll --processes N: N worker processes, each with its own SO_REUSEPORT listener, holds 100,000;
#   - io_uring --threads 6 holds 100,000 in one process: it accepts into each ring's table of direct descriptors,
#     which keeps connections out of the descriptor table (each ring's table is capped at RLIMIT_NOFILE);
#   - libuv, libevent and coroutine are asked for as many as one process may: 19,900.
# Most connections are idle (--idle); a sample (ACTIVE, 100 by default) echoes verified traffic throughout, in an
# open loop at RATE messages per second. Every figure counts only when every loadgen counted zero errors.
#
# Per server it prints: connections held (accepted and open, counted by the kernel: ss), the user-space memory per
# idle connection (growth of the server's resident memory, summed over its processes, divided by the connections
# held), and the kernel's share per connection: the slab objects of both ends' sockets (TCP, sock_inode_cache,
# filp, dentry, eventpoll_epi in /proc/slabinfo) and their buffers (the "mem" pages of /proc/net/sockstat).
#
#   bench/c100k.sh                                   every server above
#   bench/c100k.sh epoll-processes libuv             some of them
#   HOLD=20 ACTIVE=100 RATE=1000 CONNECT_RATE=5000 bench/c100k.sh
#   IO_URING_ARGS="--threads 1" bench/c100k.sh io_uring   io_uring with other options (one ring: ~19,990)
#
# It runs in a network namespace of its own (unshare --net, loopback only) when it may: then other work on the
# machine does not show in /proc/net/sockstat, and the sysctls it needs (net.core.somaxconn,
# net.ipv4.ip_local_port_range, net.ipv4.tcp_max_orphans) are set in that namespace alone and vanish with it.
# NETNS=0 runs in the current namespace instead, where a sysctl raised is restored at exit. It checks and reports
# everything else that stands in the way (the hard descriptor limit, ephemeral ports, conntrack, memory) and fails
# with a clear message when the machine forbids the run. Every process started here is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${NETNS:-1} == 1 && -z ${C100K_IN_NETNS:-} ]]; then
  if unshare --net -- true 2>/dev/null; then
    # tcp_max_orphans is machine-wide and not visible inside a new namespace: read it here.
    exec unshare --net -- env C100K_IN_NETNS=1 C100K_MAX_ORPHANS="$(cat /proc/sys/net/ipv4/tcp_max_orphans)" bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
  fi
  echo "c100k: cannot create a network namespace (unshare --net needs CAP_SYS_ADMIN): running in this one"
fi

# shellcheck source=bench/scale_lib.sh
source bench/scale_lib.sh

HOLD=${HOLD:-20}
ACTIVE=${ACTIVE:-100}
RATE=${RATE:-1000}
CONNECT_RATE=${CONNECT_RATE:-5000}
PER_LOADGEN=${PER_LOADGEN:-15000}   # connections per loadgen process, well under the 20,000 descriptors
ONE_PROCESS=${ONE_PROCESS:-19900}   # "as many as one process may": the hard limit less a margin for the rest
WORKERS=${WORKERS:-8}               # epoll --processes: 12,500 connections each on average
IO_URING_ARGS=${IO_URING_ARGS:---threads 6}  # 6 rings: each ring's table of direct descriptors is capped at RLIMIT_NOFILE

declare -A shape_cmd=(
  [epoll-processes]="epoll --processes $WORKERS" [io_uring]="io_uring $IO_URING_ARGS" [libuv]="libuv"
  [libevent]="libevent" [coroutine]="coroutine" [epoll]="epoll"
)
declare -A shape_target=(
  [epoll-processes]=100000 [io_uring]=100000 [libuv]=$ONE_PROCESS [libevent]=$ONE_PROCESS
  [coroutine]=$ONE_PROCESS [epoll]=$ONE_PROCESS
)
default_order=(epoll-processes io_uring libuv libevent coroutine)
shapes=("$@")
(( ${#shapes[@]} )) || shapes=("${default_order[@]}")
max_target=0
for shape in "${shapes[@]}"; do
  [[ -n ${shape_cmd[$shape]:-} ]] || die "unknown server '$shape' (one of: ${!shape_cmd[*]})"
  (( shape_target[$shape] > max_target )) && max_target=${shape_target[$shape]}
done

echo "C100K: ${shapes[*]}; $ACTIVE active connections (open loop, $RATE msgs/s in all, 64 B, verified) beside the" \
     "idle ones, opened at $CONNECT_RATE/s, then held ${HOLD}s"
echo "machine: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) (shared with other work);" \
     "network namespace: $([[ -n ${C100K_IN_NETNS:-} ]] && echo "private (unshare --net)" || echo "the machine's")"

# ---- what stands in the way ---------------------------------------------------------------------------------
echo "checks:"
hard=$(ulimit -Hn)
(( hard >= PER_LOADGEN + 50 )) || die "the hard RLIMIT_NOFILE is $hard: a loadgen process needs $PER_LOADGEN + 50 (lower PER_LOADGEN)"
(( hard >= ONE_PROCESS + 20 )) || die "the hard RLIMIT_NOFILE is $hard: one server process cannot hold $ONE_PROCESS (lower ONE_PROCESS)"
echo "  hard RLIMIT_NOFILE = $hard per process: loadgen processes of $PER_LOADGEN connections, one-process servers asked for $ONE_PROCESS"
sysctl_at_least net.core.somaxconn 4096
sysctl_at_least net.ipv4.tcp_max_syn_backlog 4096
# Closing 100,000 connections at once leaves up to as many orphans (FIN-WAIT) for a moment; past this limit the kernel
# resets them and says "too many orphaned sockets".
if [[ -n ${C100K_MAX_ORPHANS:-} ]]; then
  (( C100K_MAX_ORPHANS >= max_target )) ||
    die "net.ipv4.tcp_max_orphans is $C100K_MAX_ORPHANS (machine-wide), below the $max_target this run needs: raise it (sysctl -w net.ipv4.tcp_max_orphans=$max_target) or run with NETNS=0"
  echo "  net.ipv4.tcp_max_orphans = $C100K_MAX_ORPHANS, machine-wide (need $max_target: ok)"
else
  sysctl_at_least net.ipv4.tcp_max_orphans $max_target
fi
read -r port_low port_high </proc/sys/net/ipv4/ip_local_port_range
ports=$(( port_high - port_low + 1 ))
# Each loadgen process binds two source addresses of its own; with IP_BIND_ADDRESS_NO_PORT the kernel picks a port
# per (source, destination) pair, so each address gives the whole range.
(( 2 * ports >= PER_LOADGEN )) || die "net.ipv4.ip_local_port_range gives $ports ports per source address: 2 per loadgen process do not reach $PER_LOADGEN"
echo "  ephemeral ports: $ports per source address (net.ipv4.ip_local_port_range $port_low-$port_high), 2 source addresses per loadgen process: ok"
if [[ -r /proc/sys/net/netfilter/nf_conntrack_max ]]; then
  ct_max=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
  ct_count=$(cat /proc/sys/net/netfilter/nf_conntrack_count)
  (( ct_max - ct_count >= max_target )) ||
    die "conntrack: $ct_count of nf_conntrack_max $ct_max in use, no room for $max_target connections (raise net.netfilter.nf_conntrack_max)"
  echo "  conntrack: $ct_count of $ct_max entries in use, room for $max_target: ok"
else
  echo "  conntrack: not loaded (nothing tracks the connections)"
fi
avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
# About 4 KiB of kernel memory per socket (the slab objects below), two sockets per connection, and room to spare.
need_kib=$(( max_target * 2 * 4 * 2 ))
(( avail_kib >= need_kib )) || die "only $(( avail_kib / 1024 )) MiB available; $max_target connections need about $(( need_kib / 1024 )) MiB"
echo "  memory: $(( avail_kib / 1024 )) MiB available, about $(( need_kib / 1024 )) MiB wanted: ok"

# slab_socket_bytes: bytes of the slab objects every socket costs (active objects x object size), machine-wide.
slab_socket_bytes() {
  awk '$1 == "TCP" || $1 == "TCPv6" || $1 == "sock_inode_cache" || $1 == "filp" || $1 == "dentry" ||
       $1 == "eventpoll_epi" { total += $2 * $4 } END { printf "%.0f\n", total }' /proc/slabinfo 2>/dev/null
}
tcp_inuse() { awk '/^TCP:/ { print $3 }' /proc/net/sockstat; }

printf '%-16s %7s %7s %7s %10s %12s %12s %7s  %s\n' server target held "user B" "kernel B" "sockstat B" "answered" errors verdict
echo "                 (user B: server RSS growth per connection held; kernel B: slab objects of both ends per connection;"
echo "                  sockstat B: TCP buffer pages of both ends per connection; answered: active connections answered)"
failed=0
for shape in "${shapes[@]}"; do
  target=${shape_target[$shape]}
  read -r -a command <<<"${shape_cmd[$shape]}"
  processes=$(( (target + PER_LOADGEN - 1) / PER_LOADGEN ))
  while (( target % processes )); do processes=$(( processes + 1 )); done  # an equal share each, target in all
  (( processes <= 250 )) || die "too many loadgen processes"
  active_each=$(( (ACTIVE + processes - 1) / processes ))
  idle_each=$(( target / processes - active_each ))
  total=$(( processes * (active_each + idle_each) ))
  ramp=$(( (total + CONNECT_RATE - 1) / CONNECT_RATE ))
  warmup=$(( ramp + 5 ))
  start_server "${command[@]}"
  sleep 0.5
  rss0=$(rss_kib "$SERVER_PID")
  slab0=$(slab_socket_bytes)
  mem0=$(sockstat_tcp_pages)
  run_loadgens "$processes" "$SERVER_PORT" "$SCALE_WORK/$shape" -c "$active_each" --idle "$idle_each" -t 1 \
    -R "$(( RATE / processes ))" --connect-rate "$(( CONNECT_RATE / processes ))" --warmup "${warmup}s" \
    -d "${HOLD}s" --timeout 30s
  # Measured once every connection had time to open, while the active sample keeps echoing.
  sleep "$(( ramp + 3 ))"
  held_now=$(held "$SERVER_PORT")
  rss1=$(rss_kib "$SERVER_PID")
  slab1=$(slab_socket_bytes)
  mem1=$(sockstat_tcp_pages)
  inuse=$(tcp_inuse)
  wait_loadgens || true
  alive=yes
  kill -0 "$SERVER_PID" 2>/dev/null || alive=no
  stop_server
  summary=$(sum_loadgens "$SCALE_WORK/$shape")
  errors=$(jq .errors <<<"$summary")
  answered=$(( processes * active_each - $(jq .connections_never_answered <<<"$summary") ))
  per() { awk -v d="$1" -v n="$held_now" 'BEGIN { printf "%.0f", (n > 0 ? d / n : 0) }'; }
  user_b=$(per $(( (rss1 - rss0) * 1024 )))
  kernel_b=$(per $(( slab1 - slab0 )))
  sockstat_b=$(per $(( (mem1 - mem0) * 4096 )))
  verdict=ok
  (( errors == 0 && held_now >= total && answered == processes * active_each )) || verdict=FAIL
  [[ $alive == yes ]] || verdict="FAIL (server died)"
  [[ $verdict == FAIL* ]] && failed=1
  printf '%-16s %7d %7d %7s %10s %12s %12s %7d  %s\n' "$shape" "$total" "$held_now" "$user_b" "$kernel_b" \
    "$sockstat_b" "$answered/$(( processes * active_each ))" "$errors" "$verdict"
  echo "    ${command[*]}: RSS $rss0 -> $rss1 KiB; TCP sockets in use $inuse; $processes loadgen processes;" \
       "$(jq -r '"\(.messages) messages (\(.messages_per_s | floor)/s), worst p99 \(.p99_ns_worst / 1e6) ms"' <<<"$summary")"
  if [[ $errors != 0 ]]; then
    echo "    errors: connect $(jq .connect_errors <<<"$summary"), reset $(jq .resets <<<"$summary")," \
         "timeout $(jq .timeouts <<<"$summary"), mismatch $(jq .mismatches <<<"$summary"); first: $(jq -r .first_error <<<"$summary")"
  fi
  [[ -s $SCALE_WORK/server.${command[0]}.err ]] && sed 's/^/    server: /' "$SCALE_WORK/server.${command[0]}.err" | sort | uniq -c | head -3
  # Let the closed connections' TIME-WAIT and orphans drain before the next server counts its own.
  for _ in $(seq 30); do (( $(tcp_inuse) < 100 )) && break; sleep 1; done
done
exit $failed
