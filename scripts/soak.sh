#!/usr/bin/env bash
# Soak: cold verifies of healthy labs on a loaded machine, to show that verify does not fail a
# lab that works. For each mode (host-gw, vxlan, and ipip where the kernel has it) it deploys a
# lab of SOAK_HOSTS hosts (default 10), runs SOAK_RUNS (default 5) cold verifies of it while two
# busy loops hog the CPU, and prints the false fails (pairs that failed, or a run that could not
# judge) of each run and in total. Every lab here is healthy, so any fail is a false fail, and 0
# is the bar: the exit code is 1 when there is one, 2 when the soak cannot run.
# Labs, hogs and the temporary folder go on exit, Ctrl-C included.
# Needs root. Usage: scripts/soak.sh [CNILAB_BINARY]      SOAK_RUNS=2 scripts/soak.sh
set -euo pipefail

cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "soak: needs root (network namespaces)" >&2; exit 2; }
bin="${1:-target/release/cnilab}"
[ -x "$bin" ] || { echo "soak: no cnilab binary at $bin (run make build)" >&2; exit 2; }
command -v jq >/dev/null || { echo "soak: needs jq to read verify's JSON report" >&2; exit 2; }
runs="${SOAK_RUNS:-5}"
hosts="${SOAK_HOSTS:-10}"

dir="$(mktemp -d)"
files=()
hogs=()
cleanup() {
    for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null || true; done
    for file in "${files[@]}"; do "$bin" destroy -t "$file" >/dev/null 2>&1 || true; done
    rm -rf "$dir"
}
trap cleanup EXIT
# Ctrl-C and kill end the soak through the EXIT trap, so the labs go either way.
trap 'exit 130' INT TERM

modes=(host-gw vxlan)
# ipip needs the kernel's ipip module: loaded, built in, or there to load.
if [ -d /sys/module/ipip ] || modprobe -n -q ipip 2>/dev/null; then
    modes+=(ipip)
else
    echo "soak: skipping ipip: this kernel has no ipip module (modprobe -n ipip fails)"
fi

for _ in 1 2; do
    (while :; do :; done) &
    hogs+=("$!")
done
echo "soak: ${#modes[@]} modes x $runs cold verifies of $hosts-host labs, 2 CPU hogs on $(nproc) cores"

# False fails of one report: failed pairs, or 1 for a run that judged nothing (exit 2).
false_fails() {
    local code=$1 report=$2
    if [ "$code" -eq 2 ] || ! jq -e .pairs "$report" >/dev/null 2>&1; then
        echo 1
    else
        jq '[.pairs[] | select(.passed | not)] | length' "$report"
    fi
}

total=0
for mode in "${modes[@]}"; do
    lab="soak$$${mode%%-*}"
    file="$dir/$lab.yaml"
    files+=("$file")
    "$bin" gen --mode "$mode" --hosts "$hosts" --name "$lab" -o "$file" 2>/dev/null
    "$bin" deploy -t "$file" >/dev/null 2>"$dir/$lab.deploy" || {
        echo "soak: deploy of the $mode lab failed:" >&2; cat "$dir/$lab.deploy" >&2; exit 2; }
    mode_total=0
    for run in $(seq 1 "$runs"); do
        report="$dir/$lab-$run.json"
        start=$(date +%s%N)
        code=0
        "$bin" verify -t "$file" --json >"$report" 2>"$dir/$lab-$run.err" || code=$?
        ms=$(( ($(date +%s%N) - start) / 1000000 ))
        fails=$(false_fails "$code" "$report")
        pairs=$(jq '.pairs | length' "$report" 2>/dev/null || echo 0)
        printf '%s run %d/%d: %d false fails of %d pairs (exit %d, %d.%d s)\n' \
            "$mode" "$run" "$runs" "$fails" "$pairs" "$code" $(( ms / 1000 )) $(( ms % 1000 / 100 ))
        if [ "$fails" -gt 0 ]; then
            jq -r '.pairs[]? | select(.passed | not) | "  \(.from) -> \(.to): \([.reasons[].message] | join("; "))"' \
                "$report" 2>/dev/null || true
            sed 's/^/  /' "$dir/$lab-$run.err"
        fi
        mode_total=$(( mode_total + fails ))
    done
    echo "$mode: $mode_total false fails in $runs runs"
    total=$(( total + mode_total ))
    "$bin" destroy -t "$file" >/dev/null 2>&1
done
echo "soak: $total false fails in total"
[ "$total" -eq 0 ]
