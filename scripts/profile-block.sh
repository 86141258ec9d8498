#!/usr/bin/env bash
# profile-block.sh — profile.sh block: see profile.sh --help.
exec "$(dirname "${BASH_SOURCE[0]}")/profile.sh" block "$@"
