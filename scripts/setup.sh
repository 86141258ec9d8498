#!/usr/bin/env bash
# setup.sh — install what gort needs from Debian bookworm packages.
# Idempotent and quiet: prints nothing and touches nothing when all is there.
set -euo pipefail

packages=(
  g++ cmake make pkg-config git
  libboost1.81-dev libboost-context1.81-dev libboost-test1.81-dev
  libboost-program-options1.81-dev libboost-url1.81-dev
  prometheus-cpp-dev libunwind-dev zlib1g-dev libbenchmark-dev libdw-dev
  clang-14 libclang-rt-14-dev python3
  golang-go prometheus wrk curl procps
  libspdlog-dev libjs-chart.js golang-github-prometheus-client-golang-dev
  chromium graphviz
  python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# Boost 1.74's dev packages (Debian's default libboost-dev) conflict with
# 1.81's; apt replaces them.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
