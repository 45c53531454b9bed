#!/usr/bin/env bash
# valgrind memcheck on `kontena-agent run` end to end: scripts/demo.sh (IMDS simulator, master
# simulator, a private dockerd, labels on the engine, a deploy from a loopback registry, stack
# removal, SIGTERM) with the agent started under memcheck. Loopback only, as the demo is.
# Passes when memcheck reports no error and nothing definitely or indirectly lost.
# Usage: scripts/valgrind-agent.sh [BIN_DIR]   (default: build-release/bin; not a sanitized
# build: valgrind and ASan cannot share a process)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "${1:-$root/build-release/bin}" && pwd)
command -v valgrind >/dev/null || { echo "valgrind-agent: valgrind not found (Debian package valgrind)" >&2; exit 2; }
for b in kontena-agent kontena-master-sim; do
  [[ -x $bin/$b ]] || { echo "valgrind-agent: $bin/$b not found; build first: cmake --preset release && cmake --build build-release --target kontena-agent kontena-master-sim" >&2; exit 2; }
done
if nm -D "$bin/kontena-agent" 2>/dev/null | grep -q __asan_init; then
  echo "valgrind-agent: $bin/kontena-agent is built with ASan; use the release build" >&2
  exit 2
fi

work=$(mktemp -d /tmp/kn-valgrind-XXXXXX)
trap 'rm -rf "$work"' EXIT
ln -s "$bin/kontena-master-sim" "$work/kontena-master-sim"
# The demo starts "$BIN_DIR/kontena-agent run"; this one is memcheck around the real binary.
# Leaks "still reachable" at exit (static singletons of libcurl, OpenSSL, spdlog) are not errors.
# memcheck runs the agent some 20 times slower: the per-request IMDS timeout (1 s) and the pong
# timeout (5 s) get room, or the slowness would read as a hop-limit problem or a dead master.
cat >"$work/kontena-agent" <<EOF
#!/bin/sh
KONTENA_IMDS_TIMEOUT=20s WEBSOCKET_TIMEOUT=60s KONTENA_DOCKER_RELOAD_TIMEOUT=60s
export KONTENA_IMDS_TIMEOUT WEBSOCKET_TIMEOUT KONTENA_DOCKER_RELOAD_TIMEOUT
exec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \\
  --errors-for-leak-kinds=definite,indirect --track-origins=yes --num-callers=40 \\
  --log-file="$work/memcheck.log" "$bin/kontena-agent" "\$@"
EOF
chmod +x "$work/kontena-agent"

"$root/scripts/demo.sh" "$work" | sed 's/^/   demo| /'
[[ -s $work/memcheck.log ]] || { echo "valgrind-agent: memcheck wrote no log" >&2; exit 1; }

errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$work/memcheck.log" | tail -n 1 | tr -d ,)
definitely=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$work/memcheck.log" | tail -n 1 | tr -d ,)
indirectly=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$work/memcheck.log" | tail -n 1 | tr -d ,)
echo "valgrind-agent: memcheck: ${errors:-?} errors, definitely lost ${definitely:-0} bytes, indirectly lost ${indirectly:-0} bytes"
grep -E "in use at exit|total heap usage|still reachable|possibly lost" "$work/memcheck.log" | sed 's/^==[0-9]*== */   /'
if [[ ${errors:-1} != 0 || ${definitely:-0} != 0 || ${indirectly:-0} != 0 ]]; then
  echo "valgrind-agent: FAILED; the memcheck log:" >&2
  sed -n '/HEAP SUMMARY/,$p;/Invalid\|uninitialised\|Mismatched/,+25p' "$work/memcheck.log" >&2
  exit 1
fi
echo "valgrind-agent: passed"
