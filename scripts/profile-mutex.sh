#!/usr/bin/env bash
# profile-mutex.sh — profile.sh mutex: see profile.sh --help.
exec "$(dirname "${BASH_SOURCE[0]}")/profile.sh" mutex "$@"
