#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each (default 600), two at a time on this 2-core
# machine. Crashes land in tests/fuzz/regressions/<target>/ (commit them: the native test
# suite replays them); the growing corpus stays in build/fuzz/corpus-<target>.
#   bash ci/fuzz.sh [SECONDS] [TARGET...]        e.g. bash ci/fuzz.sh 600 expr template scenario event
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
seconds=${1:-600}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(expr template scenario event)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

run_one() {
  local t=$1
  local corpus=build/fuzz/corpus-$t
  mkdir -p "$corpus" "tests/fuzz/regressions/$t"
  local dict=()
  [[ -f tests/fuzz/$t.dict ]] && dict=(-dict="tests/fuzz/$t.dict")
  echo "[fuzz] $t for ${seconds}s"
  build/fuzz/tests/fuzz/fuzz_$t "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=4096 -print_final_stats=1 -artifact_prefix="tests/fuzz/regressions/$t/" \
    "$corpus" "tests/fuzz/corpus/$t" >"build/fuzz/$t.log" 2>&1
  local rc=$?
  grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done)' "build/fuzz/$t.log" | sed "s/^/[fuzz] $t: /" || true
  if ((rc)); then echo "[fuzz] $t FOUND A CRASH: see build/fuzz/$t.log and tests/fuzz/regressions/$t/"; fi
  return $rc
}

status=0
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  if ((${#pids[@]} == 2)); then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
