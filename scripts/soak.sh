#!/usr/bin/env bash
# Soak: `kontena-agent run` for a bounded time against a master that drops the connection every
# 10 s, an IMDS that flaps (down, then up again on the same port), and a private dockerd that is
# restarted every 5 minutes (at least once in a short run). Samples the agent's RSS,
# Private_Dirty (/proc/PID/smaps_rollup), open fds and threads every 5 s, and fails on
#   - RSS or Private_Dirty growth over 5 % from the end of the warm-up to the end,
#   - fds or threads not flat (the least of the last three samples above the most of the first
#     three after the warm-up: a leak grows steadily, a reconnect in flight does not),
#   - a crash (the agent gone before the end, or a non-zero exit on SIGTERM),
#   - the node not online in the master at the end.
#
# Loopback only (every simulator listens on 127.0.0.1; dockerd on a unix socket with no bridge);
# everything started here is stopped and removed at exit, also on failure or Ctrl-C.
# Usage: scripts/soak.sh [--minutes N] [--bin DIR] [--samples FILE] [--memory-bound PCT]
#   --minutes N   run time (default 30); the warm-up is half of a run up to 5 minutes, else a
#                 fifth of it, at most 3 minutes
#   --bin DIR     binaries (default build-release/bin: the optimised build users run)
#   --samples F   also keep the samples (CSV) in F
#   --memory-bound PCT  the RSS and Private_Dirty growth that fails the run (default 5)
# Exit 0 passed, 1 failed, 2 bad arguments, 77 skipped (not root, or no dockerd).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
minutes=30 bin=$root/build-release/bin samples_out="" bound=5
while [[ $# -gt 0 ]]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --samples) samples_out=$2; shift 2 ;;
    --memory-bound) bound=$2; shift 2 ;;
    *) echo "soak: unknown argument '$1'; usage: scripts/soak.sh [--minutes N] [--bin DIR] [--samples FILE] [--memory-bound PCT]" >&2; exit 2 ;;
  esac
done
[[ $bound =~ ^[0-9]+$ ]] || { echo "soak: --memory-bound takes a whole percentage, not '$bound'" >&2; exit 2; }
[[ $minutes =~ ^[0-9]+$ && $minutes -ge 1 ]] || { echo "soak: --minutes takes a whole number >= 1, not '$minutes'" >&2; exit 2; }
for b in kontena-agent kontena-master-sim; do
  [[ -x $bin/$b ]] || { echo "soak: $bin/$b not found; build first: cmake --preset release && cmake --build build-release --target kontena-agent kontena-master-sim" >&2; exit 2; }
done
# 77: skipped (ctest's SKIP_RETURN_CODE), not failed, where dockerd cannot run.
[[ $(id -u) -eq 0 ]] && command -v dockerd >/dev/null || { echo "soak: skipped: needs root and dockerd (Debian package docker.io)" >&2; exit 77; }

total_s=$((minutes * 60))
# Warm-up: the first reconnects, the first dockerd restart and glibc's per-thread arenas still
# grow the heap (measured: +2.5 % Private_Dirty in the first minute, then +1.2 % over the last 15
# minutes of 30), so a short run measures its second half, a long one from the third minute.
warmup_s=$((total_s <= 300 ? total_s / 2 : (total_s / 5 < 180 ? total_s / 5 : 180)))
docker_every_s=$((total_s < 600 ? total_s / 2 : 300))  # every 5 min; a short run restarts it once, half way
drop_every_s=10 imds_every_s=30 imds_down_s=5 sample_every_s=5

work=$(mktemp -d /tmp/kn-soak-XXXXXX)
imds_pid="" master_pid="" dockerd_pid="" agent_pid="" sampler_pid=""

stop_pid() {  # stop_pid PID SECONDS: SIGTERM, then SIGKILL after SECONDS
  local pid=$1 limit=$2
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < limit * 10; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
stop_dockerd() {
  local children=""
  [[ -n $dockerd_pid ]] && children=$(pgrep -P "$dockerd_pid" 2>/dev/null || true)
  stop_pid "$dockerd_pid" 20
  for c in $children; do stop_pid "$c" 5; done  # containerd outlives dockerd for a moment
  dockerd_pid=""
}
cleanup() {
  stop_pid "$sampler_pid" 1
  stop_pid "$agent_pid" 5
  stop_pid "$master_pid" 5
  stop_dockerd
  stop_pid "$imds_pid" 5
  wait 2>/dev/null || true
  grep -o " $work/[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done || true
  rm -rf "$work" 2>/dev/null || { sleep 1; rm -rf "$work"; }
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_file() { for ((i = 0; i < $2 * 10; i++)); do [[ -s $1 ]] && return 0; sleep 0.1; done; return 1; }
rest() {  # rest URL [METHOD [JSON_BODY]]: prints the JSON reply
  python3 - "$@" <<'PY'
import json, sys, urllib.request
body = sys.argv[3].encode() if len(sys.argv) > 3 else None
req = urllib.request.Request(sys.argv[1], data=body, method=sys.argv[2] if len(sys.argv) > 2 else "GET",
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=10) as r:
    print(json.dumps(json.load(r)))
PY
}
node_status() { rest "$master/v1/grids/soak/nodes" 2>/dev/null | python3 -c '
import json, sys
nodes = json.load(sys.stdin)["nodes"]
print(nodes[0]["status"] if nodes else "absent")' 2>/dev/null || echo unknown; }

node_online_since() {  # the node's connected_at (epoch ms) while it is online and connected, else nothing
  rest "$master/v1/nodes/soak/soak-1" 2>/dev/null | python3 -c '
import datetime, json, sys
n = json.load(sys.stdin)
if n["status"] == "online" and n["connected"] and n["connected_at"]:
    t = datetime.datetime.fromisoformat(n["connected_at"].replace("Z", "+00:00").replace(" UTC", "+00:00"))
    print(int(t.timestamp() * 1000))' 2>/dev/null || true
}
drop_connection() {  # closes the agent's connection; appends the ms from the close to the master's
  local before now t0  # connected_at of the next connection (the polling's own delay does not count)
  before=$(node_online_since)
  rest "$master/v1/_sim/close" POST '{"node": "soak-1", "code": 1011, "reason": "soak: dropped"}' >/dev/null 2>&1 || return 0
  t0=$(($(date +%s%N) / 1000000))  # the close is sent when the simulator answers
  drops=$((drops + 1))
  for ((i = 0; i < 60; i++)); do
    now=$(node_online_since)
    if [[ -n $now && $now != "$before" ]]; then echo $((now - t0)) >>"$work/recovery.txt"; return 0; fi
    sleep 0.2
  done
  echo "soak: no reconnect seen within about 15 s of drop $drops" >&2
}

start_imds() {  # start_imds PORT (0: any)
  rm -f "$work/imds.port"
  python3 "$root/tests/support/imds_sim.py" --listen 127.0.0.1 --port "$1" --port-file "$work/imds.port" \
    --mode required >>"$work/imds.log" 2>&1 &
  imds_pid=$!
  wait_file "$work/imds.port" 10 || { echo "soak: IMDS simulator did not start:" >&2; tail "$work/imds.log" >&2; exit 1; }
}
start_dockerd() {
  dockerd --host="unix://$work/docker.sock" --config-file="$work/docker/daemon.json" \
    --data-root="$work/docker/data" --exec-root="$work/docker/exec" --pidfile="$work/docker/docker.pid" \
    --bridge=none --iptables=false --ip6tables=false --storage-driver=vfs >>"$work/docker/log" 2>&1 &
  dockerd_pid=$!
  for ((i = 0; i < 600; i++)); do
    curl -sf --unix-socket "$work/docker.sock" http://localhost/_ping >/dev/null 2>&1 && return 0
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "soak: dockerd did not start: $(tail -n 1 "$work/docker/log")" >&2
  exit 1
}

start_imds 0
imds_port=$(tr -d '\n' <"$work/imds.port")
umask 077
head -c 32 /dev/urandom | base64 | tr -d '\n=' >"$work/grid-token"
umask 022
"$bin/kontena-master-sim" --listen 127.0.0.1 --port 0 --port-file "$work/master.port" \
  --grid soak --grid-token-file "$work/grid-token" >"$work/master.log" 2>&1 &
master_pid=$!
wait_file "$work/master.port" 10 || { echo "soak: master simulator did not start:" >&2; cat "$work/master.log" >&2; exit 1; }
master="http://127.0.0.1:$(tr -d '\n' <"$work/master.port")"
mkdir -p "$work/docker"
printf '{"deprecated-key-path": "%s"}\n' "$work/docker/key.json" >"$work/docker/daemon.json"
start_dockerd

env -u KONTENA_TOKEN -u KONTENA_NODE_TOKEN -u KONTENA_NODE_TOKEN_FILE -u AWS_EC2_METADATA_DISABLED -u NOTIFY_SOCKET \
  -u KONTENA_NODE_ID -u KONTENA_NODE_LABELS \
  AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$imds_port" KONTENA_CONFIG=/dev/null \
  KONTENA_URL="$master" KONTENA_TOKEN_FILE="$work/grid-token" KONTENA_NODE_NAME=soak-1 \
  DOCKER_HOST="unix://$work/docker.sock" KONTENA_DOCKER_CONFIG="$work/docker/daemon.json" \
  KONTENA_DOCKER_PIDFILE="$work/docker/docker.pid" KONTENA_STATE_DIR="$work/state" \
  KONTENA_RECONNECT_MAX_DELAY=2s \
  "$bin/kontena-agent" run >"$work/agent.log" 2>&1 &
agent_pid=$!

echo "soak: ${minutes} min (warm-up ${warmup_s} s): master drops the connection every ${drop_every_s} s," \
  "IMDS down ${imds_down_s} s every ${imds_every_s} s, dockerd restarted every ${docker_every_s} s; agent pid $agent_pid"
echo "t_s,rss_kib,private_dirty_kib,fds,threads,status" >"$work/samples.csv"

sample() {  # appends one CSV line: t, RSS, Private_Dirty (KiB), fds, threads, node status
  local t=$1 rss pd fds threads
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$agent_pid/status")
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$agent_pid/status")
  pd=$(awk '/^Private_Dirty:/ {print $2}' "/proc/$agent_pid/smaps_rollup")
  fds=$(find "/proc/$agent_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
  echo "$t,$rss,$pd,$fds,$threads,$(node_status)" >>"$work/samples.csv"
}

failures=() drops=0 imds_flaps=0 docker_restarts=0 imds_down_until=-1
start=$SECONDS
# The sampler runs on its own, so the fault driver's waits never thin out the samples.
(while kill -0 "$agent_pid" 2>/dev/null; do sample "$((SECONDS - start))"; sleep "$sample_every_s"; done) &
sampler_pid=$!
next_drop=$drop_every_s next_imds=$imds_every_s next_docker=$docker_every_s
while ((SECONDS - start < total_s)); do
  t=$((SECONDS - start))
  if ! kill -0 "$agent_pid" 2>/dev/null; then failures+=("the agent died at ${t} s"); break; fi
  if ((t >= next_drop)); then
    drop_connection
    next_drop=$((next_drop + drop_every_s))
  fi
  if ((imds_down_until < 0 && t >= next_imds)); then
    stop_pid "$imds_pid" 5; imds_pid=""; imds_down_until=$((t + imds_down_s)); imds_flaps=$((imds_flaps + 1))
    next_imds=$((next_imds + imds_every_s))
  elif ((imds_down_until >= 0 && t >= imds_down_until)); then
    start_imds "$imds_port"; imds_down_until=-1
  fi
  if ((t >= next_docker && total_s - t > 20)); then  # not in the last 20 s: the end checks a settled node
    stop_dockerd; start_dockerd; docker_restarts=$((docker_restarts + 1))
    next_docker=$((next_docker + docker_every_s))
  fi
  sleep 1
done
[[ -z $imds_pid ]] && start_imds "$imds_port"

stop_pid "$sampler_pid" 1
sampler_pid=""
status=unknown
if kill -0 "$agent_pid" 2>/dev/null; then
  for ((i = 0; i < 150; i++)); do status=$(node_status); [[ $status == online ]] && break; sleep 0.1; done
  sample "$((SECONDS - start))"
  [[ $status == online ]] || failures+=("the node is '$status' in the master at the end, not online")
  kill -TERM "$agent_pid"
  code=""
  for ((i = 0; i < 100; i++)); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$agent_pid" 2>/dev/null; then failures+=("the agent did not exit within 10 s of SIGTERM"); else wait "$agent_pid" && code=0 || code=$?; fi
  [[ -z $code || $code == 0 ]] || failures+=("the agent exited $code on SIGTERM")
  agent_pid=""
fi
[[ -n $samples_out ]] && cp "$work/samples.csv" "$samples_out"

verdict=$(python3 - "$work/samples.csv" "$warmup_s" "$bound" <<'PY'
import csv, statistics, sys
rows = [r for r in csv.DictReader(open(sys.argv[1]))]
warm = [r for r in rows if int(r["t_s"]) >= int(sys.argv[2])]
if len(warm) < 4:
    print("FAIL: only %d samples after the warm-up" % len(warm)); sys.exit()
def col(rs, k): return [int(r[k]) for r in rs]
first, last = warm[:3], warm[-3:]
out, bad = [], []
for key, name in (("rss_kib", "RSS"), ("private_dirty_kib", "Private_Dirty")):
    a, b = statistics.median(col(first, key)), statistics.median(col(last, key))
    growth = (b - a) * 100.0 / a
    out.append("%s %.1f -> %.1f MiB (%+.1f %%)" % (name, a / 1024, b / 1024, growth))
    if growth > float(sys.argv[3]): bad.append("%s grew %.1f %%" % (name, growth))
for key, name in (("fds", "fds"), ("threads", "threads")):
    a, b = max(col(first, key)), min(col(last, key))
    out.append("%s %d -> %d (min %d, max %d)" % (name, a, b, min(col(warm, key)), max(col(warm, key))))
    if b > a: bad.append("%s not flat: %d after the warm-up, at least %d at the end" % (name, a, b))
print(("FAIL: " + "; ".join(bad) + " | " if bad else "ok: ") + ", ".join(out) + " over %d samples" % len(warm))
PY
)
[[ $verdict == FAIL* ]] && failures+=("${verdict#FAIL: }")
recovery=$(sort -n "$work/recovery.txt" 2>/dev/null | awk '{v[NR] = $1} END {if (NR) printf "median %d ms, max %d ms (%d of them)", v[int((NR + 1) / 2)], v[NR], NR; else print "none measured"}')
echo "soak: ${drops} drops, ${imds_flaps} IMDS flaps, ${docker_restarts} dockerd restarts; node ${status} at the end"
echo "soak: back online after a drop: ${recovery}"
echo "soak: ${verdict#FAIL: }"
if ((${#failures[@]} > 0)); then
  printf 'soak: FAILED: %s\n' "${failures[@]}" >&2
  echo "soak: last lines of the agent log:" >&2
  tail -n 20 "$work/agent.log" >&2
  exit 1
fi
echo "soak: passed"
