#!/usr/bin/env bash
# What one gen flag costs verify: a lab of N hosts generated twice, as A and as B, and verified
# RUNS times each (default 3). Each run deploys, verifies and destroys lab A and then lab B, so
# the two see the same load on a shared machine, and only one of them holds neighbour entries at
# a time. Prints each run's times and ratio (B / A), the medians and the median ratio against
# the target, and how many probes passed only on a retry (a retry costs a run at least half a
# second). bench/services.sh and bench/families.sh are its two uses. Needs root.
# The labs are named $LAB followed by a and b; LAB defaults to sbs<pid>.
# Usage: bench/side_by_side.sh N TARGET "A's name" "A's gen flags" "B's name" "B's gen flags"
#        e.g. bench/side_by_side.sh 20 1.5 "without Services" "" "with --services 4" "--services 4"
set -euo pipefail

cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/side_by_side.sh: needs root (network namespaces)" >&2; exit 2; }
[ "$#" -eq 6 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
n="$1" target="$2" name_a="$3" flags_a="$4" name_b="$5" flags_b="$6"
runs="${RUNS:-3}"
lab="${LAB:-sbs$$}"
bin="${BIN:-${CARGO_TARGET_DIR:-target}/release/cnilab}"
mode="${MODE:-vxlan}"
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

# gen NAME FLAGS: the lab's file, generated once. FLAGS split on spaces, as a shell would.
gen() {
    local name="$1"
    mkdir -p "$dir/$name"
    # shellcheck disable=SC2086
    "$bin" gen --mode "$mode" --hosts "$n" --name "$name" -o "$dir/$name/lab.yaml" $2 \
        >/dev/null 2>"$dir/gen.err" || { cat "$dir/gen.err" >&2; exit 2; }
}

# once NAME: deploys the lab, times one verify (ms, in $last), then destroys it. Not in a
# subshell, so that the EXIT trap still sees $file if verify fails. The probes that passed only
# on a retry are added to $dir/retries.
once() {
    file="$dir/$1/lab.yaml"
    # Raised where a lab needs it (50 hosts and more); put back when the last lab is destroyed.
    "$bin" deploy -t "$file" --raise-neigh-limits >/dev/null 2>&1
    local t0 t1
    t0=$(date +%s%N)
    "$bin" verify -t "$file" --json >"$dir/report.json" || { echo "verify of $1 failed" >&2; exit 1; }
    t1=$(date +%s%N)
    "$bin" destroy -t "$file" >/dev/null 2>&1
    file=""
    jq '[.pairs[].remarks[] | select(test("on retry"))] | length' "$dir/report.json" >>"$dir/retries"
    last=$(( (t1 - t0) / 1000000 ))
}

gen "${lab}a" "$flags_a"
gen "${lab}b" "$flags_b"
as=() bs=() ratios=()
for k in $(seq "$runs"); do
    once "${lab}a"; a=$last
    once "${lab}b"; b=$last
    r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')
    echo "run $k: ${a} ms ${name_a}, ${b} ms ${name_b}: ${r}×" >&2
    as+=("$a") bs+=("$b") ratios+=("$r")
done
a=$(printf '%s\n' "${as[@]}" | median)
b=$(printf '%s\n' "${bs[@]}" | median)
r=$(printf '%s\n' "${ratios[@]}" | median)
retries=$(awk '{ s += $1 } END { print s + 0 }' "$dir/retries")
echo "verify at $n hosts ($mode): ${a} ms ${name_a}, ${b} ms ${name_b} (medians); median ratio ${r}× (target ≤ ${target}×); probes passed on a retry: ${retries}"
