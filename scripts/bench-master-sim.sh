#!/usr/bin/env bash
# Holds N (default 1000) agent WebSocket connections against kontena-master-sim on
# loopback and reports how many were accepted and online, plus the simulator's RSS,
# Private_Dirty and CPU time. Loopback only: the simulator refuses other addresses.
#
#   scripts/bench-master-sim.sh [BIN_DIR] [CONNECTIONS] [HOLD_SECONDS]
set -euo pipefail

bin_dir=${1:-build/bin}
connections=${2:-1000}
hold=${3:-20}
sim="$bin_dir/kontena-master-sim"
load="$bin_dir/kontena-master-load"
for b in "$sim" "$load"; do
  [[ -x $b ]] || { echo "bench-master-sim: $b not found; build the tests first (cmake --build build)" >&2; exit 69; }
done

# Each connection costs one descriptor on each side.
needed=$((connections + 256))
if (( $(ulimit -n) < needed )); then
  ulimit -n "$needed" 2>/dev/null || { echo "bench-master-sim: cannot raise the fd limit to $needed (ulimit -Hn is $(ulimit -Hn))" >&2; exit 69; }
fi

work=$(mktemp -d)
sim_pid=
cleanup() {
  if [[ -n $sim_pid ]] && kill -0 "$sim_pid" 2>/dev/null; then kill -TERM "$sim_pid"; wait "$sim_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

head -c 32 /dev/urandom | base64 > "$work/grid-token"
chmod 600 "$work/grid-token"
# A grid holds at most 254 nodes (node numbers 1..254), so the agents are spread over grids.
grids=$(( (connections + 249) / 250 ))
# Pings every 5 s so the hold exercises the keepalive (4030 would show up as closed_early).
"$sim" --listen 127.0.0.1 --port 0 --port-file "$work/port" --grid-token-file "$work/grid-token" \
  --grids "$grids" --ping-interval 5s --log-level warn 2> "$work/sim.err" &
sim_pid=$!
for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.05; done
port=$(cat "$work/port")

"$load" --url "ws://127.0.0.1:$port/" --grid-token-file "$work/grid-token" \
  --grids "$grids" --connections "$connections" --hold "$hold" > "$work/load.out" &
load_pid=$!

# Sample the simulator while the connections are held.
sleep $((hold / 2 + 2))
status=/proc/$sim_pid/status
rss_kib=$(awk '/^VmRSS:/ {print $2}' "$status")
hwm_kib=$(awk '/^VmHWM:/ {print $2}' "$status")
dirty_kib=$(awk '/^Private_Dirty:/ {print $2}' "/proc/$sim_pid/smaps_rollup")
fds=$(ls "/proc/$sim_pid/fd" | wc -l)
stats=$(curl -s --noproxy '*' "http://127.0.0.1:$port/v1/_sim/stats")

load_rc=0
wait "$load_pid" || load_rc=$?
# utime + stime in clock ticks (fields 14 and 15 of /proc/PID/stat).
ticks=$(getconf CLK_TCK)
read -r utime stime < <(awk '{print $14, $15}' "/proc/$sim_pid/stat")
cpu_s=$(awk -v u="$utime" -v s="$stime" -v t="$ticks" 'BEGIN {printf "%.2f", (u + s) / t}')

echo "load tool: $(tail -n 1 "$work/load.out")"
echo "simulator while holding: $stats"
echo "simulator: connections=$connections rss=${rss_kib} KiB peak_rss=${hwm_kib} KiB private_dirty=${dirty_kib} KiB open_fds=$fds cpu=${cpu_s} s"
exit "$load_rc"
