#!/usr/bin/env bash
# What Services cost verify: a vxlan lab of N hosts (default 20) verified without Services and
# with `--services 4`, RUNS times each (default 3), side by side in one run
# (bench/side_by_side.sh); the target is at most 1.5×. Needs root.
# Usage: bench/services.sh [N]     RUNS=5 LAB=mine bench/services.sh 20
set -euo pipefail
cd "$(dirname "$0")/.."
exec bench/side_by_side.sh "${1:-20}" 1.5 "without Services" "" "with --services 4" "--services 4"
