#!/usr/bin/env bash
# profile-allocs.sh — profile.sh allocs: see profile.sh --help.
exec "$(dirname "${BASH_SOURCE[0]}")/profile.sh" allocs "$@"
