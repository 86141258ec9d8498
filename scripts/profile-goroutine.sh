#!/usr/bin/env bash
# profile-goroutine.sh — profile.sh goroutine: see profile.sh --help.
exec "$(dirname "${BASH_SOURCE[0]}")/profile.sh" goroutine "$@"
