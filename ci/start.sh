#!/usr/bin/env bash
# Sets up (ci/setup.sh), builds the native preset and starts `closeloop serve` on an
# embedded SQLite database in ./data. Extra arguments go to `closeloop serve`
# (e.g. --port 9090).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [[ $(id -u) -eq 0 ]]; then bash ci/setup.sh; else sudo bash ci/setup.sh; fi
cmake --preset native >/dev/null
cmake --build --preset native --target closeloop
exec ./build/native/server/closeloop serve --data ./data "$@"
