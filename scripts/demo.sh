#!/usr/bin/env bash
# The README's main job on its embedded default: derive the node labels from the bundled
# IMDS simulator on loopback (never the real 169.254.169.254).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=build/bin
[[ -x $bin/kontena-agent ]] || { echo "demo: build first: cmake --preset dev && cmake --build --preset dev" >&2; exit 1; }

workdir=$(mktemp -d /tmp/kn-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$workdir"
}
trap cleanup EXIT

/usr/bin/python3 tests/support/imds_sim.py --listen 127.0.0.1 --port 0 --port-file "$workdir/imds.port" \
  --mode required >"$workdir/imds.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s $workdir/imds.port ]] && break; sleep 0.05; done
export AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$(cat "$workdir/imds.port")"
export KONTENA_CONFIG=/dev/null

echo "== IMDS simulator (token required) at $AWS_EC2_METADATA_SERVICE_ENDPOINT"
echo "== kontena-agent labels --format json"
$bin/kontena-agent labels --format json
echo "== requests IMDS saw"
/usr/bin/python3 - "$AWS_EC2_METADATA_SERVICE_ENDPOINT" <<'PY'
import json, sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
for r in json.load(opener.open(sys.argv[1] + "/_sim/requests")):
    print(f"  {r['method']:4} {r['path']} -> {r['status']}{' (with token)' if r['token'] else ''}")
PY
