#!/usr/bin/env bash
# Sets up (ci/setup.sh), builds both presets and runs every test: the native suites and the
# core suite compiled to WebAssembly under Node. This is the README's test command and the
# only thing .ci/run calls.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [[ $(id -u) -eq 0 ]]; then bash ci/setup.sh; else sudo bash ci/setup.sh; fi
export NODE_PATH=/usr/share/nodejs

status=0
# Formatting is part of the test: the committed .clang-format, Debian's clang-format 14.
echo "== format: clang-format --dry-run -Werror"
if ! git ls-files -z '*.cpp' '*.h' | xargs -0 clang-format --dry-run -Werror; then
  echo "== formatting differs: run clang-format -i on the files above"
  status=1
fi
# wasm first: the native build embeds the builder app the wasm preset writes.
for preset in wasm native; do
  echo "== build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
done
for preset in native wasm; do
  echo "== test: $preset"
  ctest --preset "$preset" || status=1
done

if ((status)); then echo "== some tests FAILED"; else echo "== all tests passed (native and wasm)"; fi
exit $status
