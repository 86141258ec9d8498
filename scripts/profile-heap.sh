#!/usr/bin/env bash
# profile-heap.sh — profile.sh heap: see profile.sh --help.
exec "$(dirname "${BASH_SOURCE[0]}")/profile.sh" heap "$@"
