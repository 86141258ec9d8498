#!/usr/bin/env bash
# profile-trace.sh — profile.sh trace: see profile.sh --help.
exec "$(dirname "${BASH_SOURCE[0]}")/profile.sh" trace "$@"
