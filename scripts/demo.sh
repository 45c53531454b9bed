#!/usr/bin/env bash
# The README's main job, on the embedded defaults: starts the IMDS simulator, the Kontena
# master simulator and, where it can, a private dockerd (on a bridge of its own) and a
# docker-registry; runs kontena-agent against them; prints the node as the master sees it;
# deploys the ASG example stack (daemon, affinity label==ephemeral=true, cpu_shares 100) with
# its image from the loopback registry, shows it running, removes it; stops everything cleanly.
#
# Loopback only: every simulator listens on 127.0.0.1 and the agent is pointed at them
# (AWS_EC2_METADATA_SERVICE_ENDPOINT, KONTENA_URL, DOCKER_HOST). Nothing else is contacted.
# Usage: scripts/demo.sh [BIN_DIR]   (default: build/bin)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/bin}
for b in kontena-agent kontena-master-sim; do
  [[ -x $bin/$b ]] || { echo "demo: $bin/$b not found; build first: cmake --preset dev && cmake --build --preset dev" >&2; exit 1; }
done

work=$(mktemp -d /tmp/kn-demo-XXXXXX)
imds_pid="" master_pid="" dockerd_pid="" agent_pid="" registry_pid="" bridge=""

stop_pid() {  # stop_pid PID SECONDS: SIGTERM, then SIGKILL after SECONDS
  local pid=$1 limit=$2
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < limit * 10; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  stop_pid "$agent_pid" 5
  stop_pid "$master_pid" 5
  local children=""
  [[ -n $dockerd_pid ]] && children=$(pgrep -P "$dockerd_pid" 2>/dev/null || true)
  stop_pid "$dockerd_pid" 20
  for c in $children; do stop_pid "$c" 5; done  # containerd outlives dockerd for a moment
  stop_pid "$imds_pid" 5
  stop_pid "$registry_pid" 5
  wait 2>/dev/null || true
  [[ -n $bridge ]] && ip link del "$bridge" 2>/dev/null || true
  # vfs/containerd may leave mounts under the private data root.
  grep -o " $work/[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done || true
  rm -rf "$work" 2>/dev/null || { sleep 1; rm -rf "$work"; }
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_file() {  # wait_file PATH SECONDS
  for ((i = 0; i < $2 * 10; i++)); do [[ -s $1 ]] && return 0; sleep 0.1; done
  return 1
}

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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

echo "== 1. IMDS simulator (loopback)"
python3 "$root/tests/support/imds_sim.py" --listen 127.0.0.1 --port 0 --port-file "$work/imds.port" --mode required \
  >"$work/imds.log" 2>&1 &
imds_pid=$!
wait_file "$work/imds.port" 10 || { echo "demo: IMDS simulator did not start:" >&2; cat "$work/imds.log" >&2; exit 1; }
imds="http://127.0.0.1:$(tr -d '\n' <"$work/imds.port")"
echo "   $imds"

echo "== 2. Kontena master simulator (loopback)"
umask 077
head -c 32 /dev/urandom | base64 | tr -d '\n=' >"$work/grid-token"
umask 022
"$bin/kontena-master-sim" --listen 127.0.0.1 --port 0 --port-file "$work/master.port" \
  --grid demo --grid-token-file "$work/grid-token" >"$work/master.log" 2>&1 &
master_pid=$!
wait_file "$work/master.port" 10 || { echo "demo: master simulator did not start:" >&2; cat "$work/master.log" >&2; exit 1; }
master="http://127.0.0.1:$(tr -d '\n' <"$work/master.port")"
echo "   $master (grid demo)"

echo "== 3. private dockerd"
docker_sock="$work/docker.sock"
docker_note=""
if [[ $(id -u) -ne 0 ]]; then
  docker_note="skipped: not root (dockerd needs root)"
elif ! command -v dockerd >/dev/null; then
  docker_note="skipped: dockerd not installed (Debian package docker.io)"
else
  mkdir -p "$work/docker"
  printf '{"deprecated-key-path": "%s"}\n' "$work/docker/key.json" >"$work/docker/daemon.json"
  # Containers get a network on a bridge the demo makes and deletes (kndemoN, 10.213.20N.1/24);
  # nothing else on the host is touched (no iptables, no ip_forward).
  network=(--bridge=none)
  for n in 0 1 2 3 4 5 6 7; do
    if ip link add "kndemo$n" type bridge 2>/dev/null; then
      bridge="kndemo$n"
      ip addr add "10.213.20$n.1/24" dev "$bridge" && ip link set "$bridge" up
      network=(--bridge="$bridge" --ip-forward=false --ip-masq=false)
      break
    fi
  done
  dockerd --host="unix://$docker_sock" --config-file="$work/docker/daemon.json" \
    --data-root="$work/docker/data" --exec-root="$work/docker/exec" --pidfile="$work/docker/docker.pid" \
    "${network[@]}" --iptables=false --ip6tables=false --storage-driver=vfs >"$work/docker/log" 2>&1 &
  dockerd_pid=$!
  for ((i = 0; i < 600; i++)); do
    curl -sf --unix-socket "$docker_sock" http://localhost/_ping >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.1
  done
  if curl -sf --unix-socket "$docker_sock" http://localhost/_ping >/dev/null 2>&1; then
    echo "   unix://$docker_sock"
  else
    docker_note="skipped: dockerd did not start here ($(tail -n 1 "$work/docker/log" 2>/dev/null | cut -c1-160))"
    stop_pid "$dockerd_pid" 10
    dockerd_pid=""
  fi
fi
if [[ -n $docker_note ]]; then
  echo "   Docker step $docker_note"
  docker_config="$work/daemon.json"
  docker_pidfile="$work/docker.pid"
else
  docker_config="$work/docker/daemon.json"
  docker_pidfile="$work/docker/docker.pid"
fi

echo "== 4. kontena-agent run"
start=$(date +%s%N)
env -u KONTENA_TOKEN -u KONTENA_NODE_TOKEN -u KONTENA_NODE_TOKEN_FILE -u AWS_EC2_METADATA_DISABLED -u NOTIFY_SOCKET \
  AWS_EC2_METADATA_SERVICE_ENDPOINT="$imds" KONTENA_CONFIG=/dev/null \
  KONTENA_URL="$master" KONTENA_TOKEN_FILE="$work/grid-token" \
  DOCKER_HOST="unix://$docker_sock" KONTENA_DOCKER_CONFIG="$docker_config" KONTENA_DOCKER_PIDFILE="$docker_pidfile" \
  KONTENA_STATE_DIR="$work/state" \
  "$bin/kontena-agent" run >"$work/agent.log" 2>&1 &
agent_pid=$!

node=""
for ((i = 0; i < 100; i++)); do
  node=$(rest "$master/v1/grids/demo/nodes" | python3 -c '
import json, sys
nodes = [n for n in json.load(sys.stdin)["nodes"] if n["status"] == "online"]
print(json.dumps(nodes[0]) if nodes else "")')
  [[ -n $node ]] && break
  kill -0 "$agent_pid" 2>/dev/null || break
  sleep 0.1
done
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [[ -z $node ]]; then
  echo "demo: the node did not come online; agent log:" >&2
  cat "$work/agent.log" >&2
  exit 1
fi

echo "== 5. the node as the master sees it (online after ${elapsed_ms} ms)"
python3 -c '
import json, sys
n = json.loads(sys.argv[1])
print("   name:          ", n["name"])
print("   status:        ", n["status"], "(connected)" if n["connected"] else "")
print("   node id:       ", n["node_id"])
print("   agent version: ", n["agent_version"])
print("   labels:        ", " ".join(n["labels"]))
info = n.get("info") or {}
print("   docker:        ", info.get("ServerVersion", "(no dockerd: host facts)"), "/", info.get("OperatingSystem", "?"))
' "$node"
if [[ -z $docker_note ]]; then
  echo "   engine labels:  $(curl -sf --unix-socket "$docker_sock" http://localhost/info | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["Labels"]))')"
else
  echo "   Docker step $docker_note"
fi

if [[ -z $docker_note && -n $bridge ]] && command -v docker-registry >/dev/null && [[ -x /bin/busybox ]]; then
  echo "== 6. the ASG example stack, its image from a loopback docker-registry"
  reg_port=$(free_port)
  registry="127.0.0.1:$reg_port"
  cat >"$work/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $registry
YML
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  for ((i = 0; i < 100; i++)); do curl -sf "http://$registry/v2/" >/dev/null && break; sleep 0.1; done
  # A tiny image built offline: busybox-static and a few applet links. The stack keeps the
  # example's name and settings; busybox cannot run `stress`, so its command is a sleep loop.
  image="$registry/progrium/stress"
  mkdir -p "$work/rootfs/bin" "$work/rootfs/usr/bin"
  cp /bin/busybox "$work/rootfs/usr/bin/busybox"
  for a in sh sleep; do ln -s /usr/bin/busybox "$work/rootfs/bin/$a"; done
  tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
  docker_cli=(docker -H "unix://$docker_sock")
  "${docker_cli[@]}" import "$work/rootfs.tar" "$image:latest" >/dev/null
  "${docker_cli[@]}" push "$image:latest" >/dev/null
  "${docker_cli[@]}" rmi "$image:latest" >/dev/null  # the node must pull it
  echo "   registry http://$registry holds $image:latest"
  stack=$(python3 -c '
import json, sys
print(json.dumps({"name": "stress", "services": [{
    "name": "stress", "image": sys.argv[1], "cmd": ["sh", "-c", "i=0; while true; do i=$((i+1)); echo stress: tick $i; sleep 0.2; done"],
    "strategy": "daemon", "instances": 1, "affinity": ["label==ephemeral=true"], "cpu_shares": 100}]}))' "$image")
  t0=$(date +%s%N)
  rest "$master/v1/grids/demo/stacks" POST "$stack" >/dev/null
  show=""
  for ((i = 0; i < 600; i++)); do
    show=$(rest "$master/v1/services/demo/stress/stress")
    python3 -c '
import json, sys
s = json.loads(sys.argv[1]); i = s["instances"]
sys.exit(0 if len(i) == 1 and i[0]["state"] == "running" and i[0]["rev"] and i[0]["rev"] == i[0]["deploy_rev"] else 1)' "$show" && break
    sleep 0.1
  done
  echo "   kontena service show stress/stress (running after $(( ($(date +%s%N) - t0) / 1000000 )) ms):"
  python3 -c '
import json, sys
s = json.loads(sys.argv[1])
for i in s["instances"]:
    print("     instance %d on %s: state %s, deploy_rev %r, rev %r, error %s" % (
        i["instance_number"], i["node"], i["state"], i["deploy_rev"], i["rev"], i["error"]))
    for c in i["containers"]:
        print("       container %s %s (%s)" % (c["name"], c["id"][:12], c["status"]))' "$show"
  echo "   on the engine: $("${docker_cli[@]}" ps --filter label=io.kontena.service.name=stress \
    --format '{{.Names}} {{.Image}} {{.Status}}') | CpuShares $("${docker_cli[@]}" inspect -f '{{.HostConfig.CpuShares}}' stress.stress-1)"
  # Day two: the container's output reaches the master as /containers/log_batch.
  logs=""
  for ((i = 0; i < 50; i++)); do
    logs=$(rest "$master/v1/services/demo/stress/stress/container_logs?limit=3")
    python3 -c 'import json, sys; sys.exit(0 if len(json.loads(sys.argv[1])["logs"]) == 3 else 1)' "$logs" && break
    sleep 0.1
  done
  echo "   kontena service logs stress/stress (the last 3 lines the master holds):"
  python3 -c '
import json, sys
for l in json.loads(sys.argv[1])["logs"]:
    print("     %s %s: %s" % (l["created_at"], l["name"], l["data"]))' "$logs"
  rest "$master/v1/stacks/demo/stress" DELETE >/dev/null
  for ((i = 0; i < 300; i++)); do
    [[ -z $("${docker_cli[@]}" ps -aq --filter label=io.kontena.service.name=stress) ]] && break
    sleep 0.1
  done
  left=$("${docker_cli[@]}" ps -aq --filter label=io.kontena.service.name=stress | wc -l)
  echo "   kontena stack rm stress: $left container(s) left on the engine"
else
  echo "== 6. the example stack: skipped (needs the private dockerd with a bridge, docker-registry and busybox-static)"
fi

echo "== 7. stop (SIGTERM)"
kill -TERM "$agent_pid"
code=0
wait "$agent_pid" || code=$?
agent_pid=""
name=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["name"])' "$node")
after=$(rest "$master/v1/nodes/demo/$name")
python3 -c '
import json, sys
n = json.loads(sys.argv[1])
print("   agent exit code:", sys.argv[2], "| master: status", n["status"] + ", close code", n["close_code"])
' "$after" "$code"
echo "demo: done"
