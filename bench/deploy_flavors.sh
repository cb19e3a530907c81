#!/usr/bin/env bash
# Deploy and destroy of every mode and flavor at one size (default 254 hosts), side by side with
# the article's vxlan lab in the same run: the article's lab first and last, the ratio against
# the mean of those two. Before each deploy it waits until the kernel has freed the namespaces
# of the last destroy (a kworker running the `netns` workqueue): that cleanup runs for seconds
# after a large destroy and would otherwise slow the next deploy by as much.
# Targets on a 2-core machine: every lab deploys in <= 10 s and <= 1.5x the article's vxlan,
# and destroys in <= 2 s. IPIP labs run only where the kernel has the ipip module.
# Needs root.
# Usage: bench/deploy_flavors.sh [BIN] [N]
set -euo pipefail

cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/deploy_flavors.sh: needs root (network namespaces)" >&2; exit 2; }
bin=$(realpath "${1:-target/release/cnilab}")
n="${2:-254}"
labs=(vxlan:article host-gw:article host-gw:flannel vxlan:flannel vxlan:calico vxlan:cilium)
if modprobe -q ipip 2>/dev/null || [ -d /sys/module/ipip ]; then
    labs+=(ipip:article ipip:calico)
else
    echo "(no ipip module in this kernel: the ipip labs are left out)"
fi
labs+=(vxlan:article)

dir="$(mktemp -d)"
file=""
cleanup() {
    if [ -n "$file" ]; then "$bin" destroy -t "$file" >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
# The kernel frees a destroyed namespace in its `netns` workqueue; a kworker shows `+netns` in
# its name while it does. Bounded: another user's namespaces may keep it busy.
netns_idle() {
    local i
    for i in $(seq 1 240); do
        grep -qs '+netns' /proc/[0-9]*/comm || return 0
        sleep 0.5
    done
    echo "(the kernel's netns cleanup was still busy after 120 s)"
}

declare -a names deploys destroys
for lab in "${labs[@]}"; do
    mode="${lab%:*}" flavor="${lab#*:}"
    file="$dir/$mode-$flavor.yaml"
    "$bin" gen --mode "$mode" --flavor "$flavor" --hosts "$n" --name "dfl$$${mode:0:2}${flavor:0:2}" \
        -o "$file" >/dev/null 2>&1
    netns_idle
    t0="$(now)"; "$bin" deploy -t "$file" >/dev/null 2>&1; t1="$(now)"
    "$bin" destroy -t "$file" >/dev/null 2>&1; t2="$(now)"
    file=""
    names+=("$mode $flavor"); deploys+=($((t1 - t0))); destroys+=($((t2 - t1)))
done

last=$((${#deploys[@]} - 1))
article=$(((deploys[0] + deploys[last]) / 2))
echo "deploy at $n hosts, against the article's vxlan deploy in this run (mean of first and last)"
printf "%-16s %9s %9s %8s\n" lab deploy destroy ratio
for i in "${!names[@]}"; do
    printf "%-16s %8ss %8ss %7.2fx\n" "${names[$i]}" "$(secs 0 "${deploys[$i]}")" \
        "$(secs 0 "${destroys[$i]}")" "$(awk -v c="${deploys[$i]}" -v a="$article" 'BEGIN { print c / a }')"
done
echo "($(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg))"
