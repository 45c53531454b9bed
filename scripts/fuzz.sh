#!/usr/bin/env bash
# Runs every libFuzzer fuzzer (fuzz/, the `fuzz` preset: clang, ASan + UBSan) for N seconds
# each, two at a time, starting from the committed seeds (fuzz/corpus/<name>/) and the crash
# regressions (fuzz/regressions/<name>/). Fails on a crash, a leak, a timeout or a broken
# property; the input that did it is kept under build-fuzz/fuzz-run/artifacts/. Fix the product,
# then copy the input into fuzz/regressions/<name>/ so `ctest -R fuzz_replay_<name>` (dev
# build, no clang) replays it for ever.
#
# Usage: scripts/fuzz.sh [--seconds N] [--jobs J] [--seed S] [--no-build] [FUZZER...]
#   default: every fuzzer, 60 s each, 2 at a time, a random seed (a fixed --seed makes a short
#   run explore the same way each time, as CI's does). Exit 0: all clean; 1: a fuzzer failed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
jobs=2
build=1
seed=0  # libFuzzer: 0 picks a random seed
names=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
    *) names+=("$1"); shift ;;
  esac
done
if ((${#names[@]} == 0)); then
  names=(msgpack_rpc imds_placement labels daemon_json unit_template config_yaml service_pod render_payload)
fi

if ((build)); then
  [[ -f build-fuzz/CMakeCache.txt ]] || cmake --preset fuzz
  cmake --build --preset fuzz
fi

out=build-fuzz/fuzz-run
rm -rf "$out"
mkdir -p "$out/logs" "$out/artifacts"
# Nothing reaches the metadata address: the IMDS fuzzer answers in-process; this guards the rest.
export AWS_EC2_METADATA_DISABLED=true
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_one() {
  local name=$1 bin=build-fuzz/bin/fuzz_$1
  local work=build-fuzz/fuzz-corpus/$name
  mkdir -p "$work"
  local seeds=(fuzz/corpus/"$name")
  [[ -d fuzz/regressions/$name ]] && seeds+=(fuzz/regressions/"$name")
  "$bin" -max_total_time="$seconds" -seed="$seed" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/$name-" "$work" "${seeds[@]}" >"$out/logs/$name.log" 2>&1
}

started=$SECONDS
declare -A pids=()
status=0
for name in "${names[@]}"; do
  if [[ ! -x build-fuzz/bin/fuzz_$name ]]; then
    echo "fuzz.sh: failed to find build-fuzz/bin/fuzz_$name; build it with cmake --build --preset fuzz" >&2
    exit 1
  fi
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  run_one "$name" & pids[$name]=$!
done

printf '%-16s %-6s %12s %8s  %s\n' fuzzer result executions corpus "artifact"
for name in "${names[@]}"; do
  result=ok
  wait "${pids[$name]}" || { result=FAILED; status=1; }
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$out/logs/$name.log" | awk '{print $2}' | tail -1)
  corpus=$(find "build-fuzz/fuzz-corpus/$name" -type f | wc -l)
  artifact=$(ls "$out/artifacts/$name-"* 2>/dev/null | head -1 || true)
  printf '%-16s %-6s %12s %8s  %s\n' "$name" "$result" "${execs:-?}" "$corpus" "${artifact:--}"
  if [[ $result != ok ]]; then
    grep -aE 'ERROR|fuzz property broken|SUMMARY|runtime error' "$out/logs/$name.log" | head -5 | sed 's/^/    /'
  fi
done
echo "fuzz.sh: ${#names[@]} fuzzers, ${seconds} s each, $jobs at a time, $((SECONDS - started)) s; logs in $out/logs"
exit $status
