#!/usr/bin/env bash
# profile-cpu.sh — profile.sh cpu: see profile.sh --help.
exec "$(dirname "${BASH_SOURCE[0]}")/profile.sh" cpu "$@"
