#!/usr/bin/env bash
# What Services cost verify: a vxlan lab of N hosts (default 20) verified without Services and
# with `--services 4`, RUNS times each (default 3), both deployed side by side in turn. Prints
# each run's time, the medians and their ratio; the target is at most 1.5×. Needs root.
# The labs are named $LAB followed by p (plain) and s (Services); LAB defaults to sbench<pid>.
# Usage: bench/services.sh [N]     RUNS=5 LAB=mine bench/services.sh 20
set -euo pipefail

cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/services.sh: needs root (network namespaces)" >&2; exit 2; }
n="${1:-20}"
runs="${RUNS:-3}"
lab="${LAB:-sbench$$}"
bin="${BIN:-target/release/cnilab}"
[ -x "$bin" ] || cargo build --release --quiet
dir="$(mktemp -d)"
file=""
cleanup() {
    if [ -n "$file" ]; then "$bin" destroy -t "$file" >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Prints the median verify time in ms of a lab generated with the extra flags given.
timed() {
    local name="$1"; shift
    file="$dir/$name/lab.yaml"
    mkdir -p "$dir/$name"
    "$bin" gen --mode vxlan --hosts "$n" --name "$name" -o "$file" "$@" >/dev/null 2>&1
    "$bin" deploy -t "$file" >/dev/null
    local times=()
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(date +%s%N)
        "$bin" verify -t "$file" >/dev/null || { echo "verify of $name failed" >&2; exit 1; }
        t1=$(date +%s%N)
        times+=("$(ms "$t0" "$t1")")
    done
    "$bin" destroy -t "$file" >/dev/null
    file=""
    echo "$name: ${times[*]} ms" >&2
    printf '%s\n' "${times[@]}" | median
}

plain=$(timed "${lab}p")
services=$(timed "${lab}s" --services 4)
ratio=$(awk -v a="$services" -v b="$plain" 'BEGIN { printf "%.2f", a / b }')
echo "verify at $n hosts (vxlan): ${plain} ms without Services, ${services} ms with --services 4: ${ratio}× (target ≤ 1.5×)"
