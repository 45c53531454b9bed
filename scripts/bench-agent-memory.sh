#!/usr/bin/env bash
# Memory of an idle, connected kontena-agent (README.md "Benchmarks"): RSS and
# Private_Dirty from /proc/PID/smaps_rollup, read after the agent has been online for a while.
# Loopback only: IMDS and master simulators on 127.0.0.1, Docker pointed at a socket that
# does not exist (so the number is the agent's own, without a Docker client in flight).
# Usage: scripts/bench-agent-memory.sh [BIN_DIR] [SECONDS_CONNECTED]   (defaults: build/bin, 5)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/bin}
settle=${2:-5}
work=$(mktemp -d /tmp/kn-bench-XXXXXX)
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_file() { for ((i = 0; i < $2 * 10; i++)); do [[ -s $1 ]] && return 0; sleep 0.1; done; return 1; }

python3 "$root/tests/support/imds_sim.py" --listen 127.0.0.1 --port 0 --port-file "$work/imds.port" >/dev/null 2>&1 &
pids+=($!)
head -c 32 /dev/urandom | base64 | tr -d '\n=' >"$work/grid-token"
"$bin/kontena-master-sim" --listen 127.0.0.1 --port 0 --port-file "$work/master.port" --grid bench \
  --grid-token-file "$work/grid-token" >/dev/null 2>&1 &
pids+=($!)
wait_file "$work/imds.port" 10 && wait_file "$work/master.port" 10 || { echo "bench: simulators did not start" >&2; exit 1; }
master="http://127.0.0.1:$(tr -d '\n' <"$work/master.port")"

env -u KONTENA_TOKEN -u KONTENA_NODE_TOKEN -u NOTIFY_SOCKET -u AWS_EC2_METADATA_DISABLED \
  AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$(tr -d '\n' <"$work/imds.port")" KONTENA_CONFIG=/dev/null \
  KONTENA_URL="$master" KONTENA_TOKEN_FILE="$work/grid-token" KONTENA_NODE_NAME=bench-node \
  DOCKER_HOST="unix://$work/no-docker.sock" KONTENA_DOCKER_CONFIG="$work/daemon.json" \
  KONTENA_DOCKER_PIDFILE="$work/docker.pid" KONTENA_STATE_DIR="$work/state" KONTENA_LOG_LEVEL=warn \
  "$bin/kontena-agent" run >"$work/agent.log" 2>&1 &
agent=$!
pids+=("$agent")

online=""
for ((i = 0; i < 100; i++)); do
  online=$(python3 -c '
import json, sys, urllib.request
n = json.load(urllib.request.urlopen(sys.argv[1] + "v1/nodes/bench/bench-node", timeout=5))
print("yes" if n.get("status") == "online" else "")' "$master/" 2>/dev/null || true)
  [[ -n $online ]] && break
  sleep 0.1
done
[[ -n $online ]] || { echo "bench: agent did not come online" >&2; cat "$work/agent.log" >&2; exit 1; }
# Baseline, side by side: the same binary, started the same way but parked before the
# master link (`labels` retrying a closed loopback IMDS port): shared libraries, allocator
# and logging without the connection. The ratio is what the link costs on top.
env -u NOTIFY_SOCKET AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:9 KONTENA_CONFIG=/dev/null \
  KONTENA_IMDS_DEADLINE=600s KONTENA_LOG_LEVEL=warn "$bin/kontena-agent" labels >/dev/null 2>&1 &
baseline=$!
pids+=("$baseline")
sleep "$settle"
kill -0 "$agent" || { echo "bench: agent exited" >&2; exit 1; }
kill -0 "$baseline" || { echo "bench: baseline exited" >&2; exit 1; }
field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/smaps_rollup"; }
rss=$(field "$agent" Rss) pd=$(field "$agent" Private_Dirty)
base_rss=$(field "$baseline" Rss) base_pd=$(field "$baseline" Private_Dirty)
awk -v s="$settle" -v rss="$rss" -v pd="$pd" -v brss="$base_rss" -v bpd="$base_pd" 'BEGIN {
  printf "idle connected kontena-agent after %ss online: RSS %.1f MiB, Private_Dirty %.1f MiB\n", s, rss/1024, pd/1024
  printf "baseline (same binary waiting for IMDS):     RSS %.1f MiB, Private_Dirty %.1f MiB\n", brss/1024, bpd/1024
  printf "ratio connected/baseline: RSS %.2f, Private_Dirty %.2f; target: connected Private_Dirty <= 8 MiB\n", rss/brss, pd/bpd
}'
echo "threads: $(ls /proc/$agent/task | wc -l)"
