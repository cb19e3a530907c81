#!/usr/bin/env bash
# Deploy + destroy of a vxlan lab with N hosts (default 50, about 9,000 exec lines) on the netns
# runtime: batched (the default) against one process per exec line (how containerlab runs
# them, less Docker), and what each node's sandbox costs against --exec-on-host. Prints the
# times and the ratios from one run. Needs root.
set -euo pipefail

hosts="${1:-${HOSTS:-50}}"
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/deploy.sh: needs root (network namespaces)" >&2; exit 2; }

[ -x target/release/cnilab ] || cargo build --release --quiet
bin=target/release/cnilab
lab="bench$$"
dir="$(mktemp -d)"
file="$dir/clab.yaml"
cleanup() { "$bin" destroy -t "$file" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

"$bin" gen --mode vxlan --hosts "$hosts" --name "$lab" -o "$file"
lines="$(grep -c '^        - ' "$file")"

# Seconds (with ms) for deploy + destroy with the given extra deploy flags.
run() {
    local start end
    start="$(date +%s%N)"
    "$bin" deploy -t "$file" "$@"
    "$bin" destroy -t "$file"
    end="$(date +%s%N)"
    echo $(( (end - start) / 1000000 ))
}

batched_ms="$(run)"
per_line_ms="$(run --exec-per-line)"
on_host_ms="$(run --exec-on-host 2>/dev/null)"

awk -v n="$hosts" -v l="$lines" -v b="$batched_ms" -v p="$per_line_ms" -v h="$on_host_ms" \
    -v c="$(nproc)" 'BEGIN {
    printf "vxlan, %d hosts, %d exec lines, %d cores: deploy + destroy\n", n, l, c
    printf "  batched (default)        %7.2f s\n", b / 1000
    printf "  one process per line     %7.2f s\n", p / 1000
    printf "  speed-up                 %7.1fx\n", p / b
    printf "  batched, --exec-on-host  %7.2f s  (the sandbox costs %+.2f s)\n", h / 1000, (b - h) / 1000
}'
