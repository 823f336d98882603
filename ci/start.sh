#!/usr/bin/env bash
# Sets up (ci/setup.sh), builds the wasm preset (the browser builder) and then the native
# one (the `closeloop` binary, which embeds the builder the wasm preset wrote into
# build/wasm/web/dist), and starts `closeloop serve` on an embedded SQLite database in ./data.
# Extra arguments go to `closeloop serve` (e.g. --port 9090).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [[ $(id -u) -eq 0 ]]; then bash ci/setup.sh; else sudo bash ci/setup.sh; fi
export NODE_PATH=/usr/share/nodejs  # every em++ link needs it
cmake --preset wasm >/dev/null
cmake --build --preset wasm
cmake --preset native >/dev/null
cmake --build --preset native --target closeloop
exec ./build/native/server/closeloop serve --data ./data "$@"
