#!/usr/bin/env bash
# Deploy and destroy of vxlan labs on the netns runtime, against the floor measured in the same
# run: the same namespaces, veths and exec lines through one `ip -batch` per node and no waits
# (bench/floor.py). Prints cnilab's times, the floor's and their ratio at each size.
# Targets on a 2-core machine: 254 hosts deploy <= 8 s, destroy <= 2 s, ratio <= 1.5x.
# At the first size it also times deploy with --exec-on-host (what each node's sandbox costs)
# and, with PER_LINE=1, one process per exec line (how containerlab runs them, less Docker).
# Needs root.
# Usage: bench/deploy.sh [N...]      (default 50 100 254)
set -euo pipefail

cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/deploy.sh: needs root (network namespaces)" >&2; exit 2; }
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(50 100 254)

bin="${BIN:-${CARGO_TARGET_DIR:-target}/release/cnilab}"
[ -x "$bin" ] || cargo build --release --quiet
dir="$(mktemp -d)"
file=""
floor=""
cleanup() {
    if [ -n "$file" ]; then "$bin" destroy -t "$file" >/dev/null 2>&1 || true; fi
    if [ -n "$floor" ]; then bench/floor.py down "$file" "$floor" || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }

printf "%-6s %8s %10s %10s %10s %10s %7s %7s\n" hosts lines deploy floor destroy floor-dn ratio ratio-dn
for n in "${sizes[@]}"; do
    lab="dbench$$n$n"
    file="$dir/$lab.yaml"
    "$bin" gen --mode vxlan --hosts "$n" --name "$lab" -o "$file" >/dev/null 2>&1
    lines="$(grep -c '^        - ' "$file")"
    t0="$(now)"; "$bin" deploy -t "$file" 2>/dev/null; t1="$(now)"
    "$bin" destroy -t "$file" >/dev/null 2>&1; t2="$(now)"
    floor="floor$$n$n"
    t3="$(now)"; bench/floor.py up "$file" "$floor"; t4="$(now)"
    bench/floor.py down "$file" "$floor"; t5="$(now)"
    floor=""
    printf "%-6d %8d %9ss %9ss %9ss %9ss %6.2fx %6.2fx\n" "$n" "$lines" \
        "$(secs "$t0" "$t1")" "$(secs "$t3" "$t4")" "$(secs "$t1" "$t2")" "$(secs "$t4" "$t5")" \
        "$(awk -v c=$((t1 - t0)) -v f=$((t4 - t3)) 'BEGIN { print c / f }')" \
        "$(awk -v c=$((t2 - t1)) -v f=$((t5 - t4)) 'BEGIN { print c / f }')"
    if [ "$n" = "${sizes[0]}" ]; then
        t0="$(now)"; "$bin" deploy -t "$file" --exec-on-host 2>/dev/null; t1="$(now)"
        "$bin" destroy -t "$file" >/dev/null 2>&1
        printf "%-6d batched, --exec-on-host: deploy %ss (the sandbox costs the difference)\n" \
            "$n" "$(secs "$t0" "$t1")"
    fi
    if [ "${PER_LINE:-0}" = 1 ] && [ "$n" = "${sizes[0]}" ]; then
        t0="$(now)"; "$bin" deploy -t "$file" --exec-per-line 2>/dev/null; t1="$(now)"
        "$bin" destroy -t "$file" >/dev/null 2>&1
        printf "%-6d one process per exec line: deploy %ss\n" "$n" "$(secs "$t0" "$t1")"
    fi
    file=""
done
echo "($(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg))"
