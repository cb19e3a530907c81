#!/usr/bin/env bash
# What Services cost verify: a vxlan lab of N hosts (default 20) verified without Services and
# with `--services 4`, RUNS times each (default 3). Each run deploys, verifies and destroys the
# plain lab and then the Services lab, so the two see the same load on a shared machine, and
# only one of them holds neighbour entries at a time. Prints each run's times and ratio, the
# medians and the median ratio, and how many probes passed only on a retry (a retry costs the
# run at least half a second); the target is at most 1.5×. Needs root.
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
last=0
cleanup() {
    if [ -n "$file" ]; then "$bin" destroy -t "$file" >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# gen NAME FLAGS...: the lab's file, generated once.
gen() {
    local name="$1"; shift
    mkdir -p "$dir/$name"
    "$bin" gen --mode vxlan --hosts "$n" --name "$name" -o "$dir/$name/lab.yaml" "$@" >/dev/null 2>&1
}

# once NAME: deploys the lab, times one verify (ms, in $last), then destroys it. Not in a
# subshell, so that the EXIT trap still sees $file if verify fails. The probes that passed only
# on a retry are added to $dir/retries.
once() {
    file="$dir/$1/lab.yaml"
    "$bin" deploy -t "$file" >/dev/null 2>&1
    local t0 t1
    t0=$(date +%s%N)
    "$bin" verify -t "$file" --json >"$dir/report.json" || { echo "verify of $1 failed" >&2; exit 1; }
    t1=$(date +%s%N)
    "$bin" destroy -t "$file" >/dev/null 2>&1
    file=""
    jq '[.pairs[].remarks[] | select(test("on retry"))] | length' "$dir/report.json" >>"$dir/retries"
    last=$(( (t1 - t0) / 1000000 ))
}

gen "${lab}p"
gen "${lab}s" --services 4
plain=() services=() ratios=()
for k in $(seq "$runs"); do
    once "${lab}p"; p=$last
    once "${lab}s"; s=$last
    r=$(awk -v a="$s" -v b="$p" 'BEGIN { printf "%.2f", a / b }')
    echo "run $k: ${p} ms without Services, ${s} ms with: ${r}×" >&2
    plain+=("$p") services+=("$s") ratios+=("$r")
done
p=$(printf '%s\n' "${plain[@]}" | median)
s=$(printf '%s\n' "${services[@]}" | median)
r=$(printf '%s\n' "${ratios[@]}" | median)
retries=$(awk '{ s += $1 } END { print s + 0 }' "$dir/retries")
echo "verify at $n hosts (vxlan): ${p} ms without Services, ${s} ms with --services 4 (medians); median ratio ${r}× (target ≤ 1.5×); probes passed on a retry: ${retries}"
