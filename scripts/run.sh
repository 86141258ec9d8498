#!/usr/bin/env bash
# run.sh — set up, build Release, and start gortd on 0.0.0.0:8080.
# Extra arguments go to gortd (see build/service/gortd --help).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
exec ./build/service/gortd --addr 0.0.0.0:8080 "$@"
