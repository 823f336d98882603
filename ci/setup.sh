#!/usr/bin/env bash
# Installs everything closeloop needs to build, test and run on a fresh Debian 12 machine.
# Run as root. Idempotent: a second run checks and returns in seconds.
#
# Sources, and nothing else: Debian's package archive (apt), Debian's source archive
# (Dear ImGui via `apt-get source`), and the npm registry (playwright-core, with a
# committed lock file). Nothing is vendored or downloaded by hand.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

say() { printf '[setup] %s\n' "$*"; }

# Build, test and run dependencies. Emscripten goes in without recommends (with them apt
# pulls in systemd and more), so it is installed on its own below.
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates dpkg-dev clang-format
  clang-14 lld-14 libclang-rt-14-dev
  nlohmann-json3-dev doctest-dev libcpp-httplib-dev libsqlite3-dev sqlite3
  libcurl4-openssl-dev libssl-dev libgmime-3.0-dev libopendkim-dev libcli11-dev libhowardhinnant-date-dev
  fonts-dejavu-core python3-fonttools nodejs npm chromium python3 python3-aiosmtpd python3-dkim
  nginx-light
)
emscripten_packages=(emscripten)

missing=()
for p in "${packages[@]}" "${emscripten_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# node and npm may come from another source (NodeSource) on a developer's machine; then
# the Debian packages are not needed.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if ((${#missing[@]})); then
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  regular=()
  for p in "${missing[@]}"; do [[ $p == emscripten ]] || regular+=("$p"); done
  # nginx (the reverse-proxy test runs its own instance) would start a system service on port
  # 80 as it installs; policy-rc.d is Debian's way to say "start no services now".
  blocker=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    blocker=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$blocker" && chmod +x "$blocker"
  fi
  ((${#regular[@]})) && apt-get install -y -qq "${regular[@]}" >/dev/null
  [[ -n $blocker ]] && rm -f "$blocker"
  if printf '%s\n' "${missing[@]}" | grep -qx emscripten; then
    apt-get install -y -qq --no-install-recommends emscripten >/dev/null
  fi
else
  say "Debian packages: all present"
fi

# Dear ImGui: Debian ships only a native static library, so we take its source package and
# compile it for both targets. The source archive needs a deb-src entry for the same mirror.
if [[ ! -f third_party/imgui/imgui.cpp ]]; then
  src_list=/etc/apt/sources.list.d/closeloop-src.sources
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    say "adding a deb-src entry for Dear ImGui's source package"
    uris=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    cat >"$src_list" <<EOF
Types: deb-src
URIs: ${uris:-http://deb.debian.org/debian}
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt-get update -qq
  fi
  say "fetching Dear ImGui source (apt-get source imgui)"
  rm -rf third_party/imgui third_party/imgui-src
  mkdir -p third_party/imgui-src
  (cd third_party/imgui-src && apt-get source -qq imgui >/dev/null 2>&1 || apt-get source imgui)
  dir=$(find third_party/imgui-src -maxdepth 1 -mindepth 1 -type d -name 'imgui-*' | head -1)
  [[ -n $dir && -f $dir/imgui.cpp ]] || { echo "[setup] imgui source not found after apt-get source" >&2; exit 1; }
  mv "$dir" third_party/imgui
  rm -rf third_party/imgui-src
fi
say "Dear ImGui: $(grep -m1 'define IMGUI_VERSION ' third_party/imgui/imgui.h | awk '{print $3}')"

# Browser-test packages from the npm registry, pinned by the committed lock file. Chromium
# itself is Debian's (/usr/bin/chromium); playwright-core never downloads a browser.
if [[ -f tests/browser/package-lock.json ]]; then
  stamp=tests/browser/node_modules/.closeloop-lock
  if [[ ! -f $stamp ]] || ! cmp -s tests/browser/package-lock.json "$stamp"; then
    say "installing npm packages for browser tests"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
    cp tests/browser/package-lock.json "$stamp"
  else
    say "npm packages: present"
  fi
fi

say "done"
