#!/usr/bin/env bash
# What dual stack costs verify: a vxlan lab of N hosts (default 20) verified as an IPv4 lab and
# as a dual-stack one, whose every pair is proven in both families, RUNS times each (default
# 3), side by side in one run (bench/side_by_side.sh). Dual has twice the pairs; the target is
# at most 2.2×. Needs root.
# Usage: bench/families.sh [N]     RUNS=5 bench/families.sh 50
set -euo pipefail
cd "$(dirname "$0")/.."
exec bench/side_by_side.sh "${1:-20}" 2.2 "in ipv4" "--ip-family ipv4" "in dual" "--ip-family dual"
