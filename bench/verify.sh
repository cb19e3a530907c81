#!/usr/bin/env bash
# verify on a freshly deployed lab (vxlan unless MODE says otherwise): every ordered pod
# pair, first contact, full-size and 13 steady-state probes, captures on every host underlay,
# router leg and pod. Prints the time
# of a default run (cold start: learned state flushed before each phase, 9 phases at 100 hosts
# and 11 at 254) and of a --warm run, then verifies the healthy lab RUNS more times (default
# 10) and prints how many passed: a healthy lab must pass every one (issue 9: 10 of 10 at 30
# hosts).
# Each line also gives pairs per second, verify's CPU seconds per thousand pairs (its own user
# and system time, which includes the kernel's work on the probes it sends and the frames it
# captures, but not softirq work charged to other tasks), the frames the capture copied to user
# space (the kernel's BPF filter passes only probes), verify's peak memory (max RSS) and the frames the
# kernel dropped at a full CPU backlog queue meanwhile (machine-wide, other traffic included).
# Then the floor (bench/verify_floor.py): the cold run's traffic, phase by phase (first
# contacts, steady pings, full-size, TCP and UDP probes), sent by fping and
# bench/transport_floor.rs with nothing captured, and the cold run's ratio to it.
# Targets on a 2-core machine: N=100 (9,900 pairs) <= 10 s, N=254 (64,262 pairs) <= 90 s,
# zero false fails, peak memory <= 500 MB. Needs root.
# Usage: bench/verify.sh [N...]      RUNS=0 bench/verify.sh 30   (timings only)
#        FLAVOR=flannel bench/verify.sh 254   (a flavor with static peers: first contacts flood
#        nothing, so its floor is little more than its steady pings)
#        MODE=host-gw FLAVOR=flannel bench/verify.sh 254   (another mode; FLAVOR=calico and
#        FLAVOR=cilium are the other VXLAN flavors)
#        BACKLOG=4000 bench/verify.sh 254   (net.core.netdev_max_backlog for the run, verify and
#        floor alike, put back on exit: verify lets as many first contacts fly as their floods
#        fit that queue, and the floor's floods overrun it less)
#
# A 50-host VXLAN lab needs about 5,000 ARP entries; the kernel keeps one ARP table for all
# namespaces, capped by the root namespace's net.ipv4.neigh.default.gc_thresh3 (1024 by
# default). Past the cap neighbours do not resolve and the lab is broken, not slow. So for the
# run this script raises gc_thresh1/2/3 if they are too low, says so, and puts them back on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/verify.sh: needs root (network namespaces)" >&2; exit 2; }
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(20 30 50)
runs="${RUNS:-10}"
mode="${MODE:-vxlan}"
flavor="${FLAVOR:-article}"
what="$mode"
[ "$flavor" = article ] || what="$mode/$flavor"

bin="${BIN:-${CARGO_TARGET_DIR:-target}/release/cnilab}"
[ -x "$bin" ] || cargo build --release --quiet
transport="${CARGO_TARGET_DIR:-target}/release/examples/transport_floor"
[ -x "$transport" ] || cargo build --release --quiet --example transport_floor
dir="$(mktemp -d)"
thresh=/proc/sys/net/ipv4/neigh/default
saved="$(cat $thresh/gc_thresh1) $(cat $thresh/gc_thresh2) $(cat $thresh/gc_thresh3)"
backlog_sysctl=/proc/sys/net/core/netdev_max_backlog
saved_backlog="$(cat $backlog_sysctl)"
file=""
cleanup() {
    if [ -n "$file" ]; then "$bin" destroy -t "$file" >/dev/null 2>&1 || true; fi
    if [ -n "${BACKLOG:-}" ]; then echo "$saved_backlog" >$backlog_sysctl || true; fi
    read -r t1 t2 t3 <<<"$saved"
    echo "$t3" >$thresh/gc_thresh3; echo "$t2" >$thresh/gc_thresh2; echo "$t1" >$thresh/gc_thresh1
    rm -rf "$dir"
}
trap cleanup EXIT

ms() { echo $(( ($2 - $1) / 1000000 )); }
# Frames dropped at a full CPU backlog queue since boot, machine-wide (softnet_stat column 2).
backlog_drops() { python3 -c 'print(sum(int(l.split()[1], 16) for l in open("/proc/net/softnet_stat")))'; }

if [ -n "${BACKLOG:-}" ]; then
    echo "net.core.netdev_max_backlog set to $BACKLOG for this run (was $saved_backlog)"
    echo "$BACKLOG" >$backlog_sysctl
fi

for n in "${sizes[@]}"; do
    need=$(( n * (n + 2) * 3 ))
    if [ "$(cat $thresh/gc_thresh3)" -lt "$need" ]; then
        echo "raising net.ipv4.neigh.default.gc_thresh3 to $need for this run (was $(cat $thresh/gc_thresh3))"
        echo "$need" >$thresh/gc_thresh3; echo $(( need / 2 )) >$thresh/gc_thresh2; echo $(( need / 4 )) >$thresh/gc_thresh1
    fi
    lab="vbench$$n$n"
    file="$dir/$lab.yaml"
    "$bin" gen --mode "$mode" --flavor "$flavor" --hosts "$n" --name "$lab" -o "$file"
    "$bin" deploy -t "$file"
    pairs=$(( n * (n - 1) ))
    for run in cold warm; do
        flags=()
        [ "$run" = warm ] && flags=(--warm)
        drops0="$(backlog_drops)"
        start="$(date +%s%N)"
        code=0
        /usr/bin/time -f '%M %U %S' -o "$dir/rss" "$bin" verify -t "$file" --json "${flags[@]}" >"$dir/report.json" || code=$?
        end="$(date +%s%N)"
        drops=$(( $(backlog_drops) - drops0 ))
        read -r rss_kb user_s sys_s <<<"$(tail -1 "$dir/rss")"
        rss_mb=$(( rss_kb / 1024 ))
        cpu_per_kpair="$(awk -v u="$user_s" -v s="$sys_s" -v p="$pairs" 'BEGIN { printf "%.2f", (u + s) * 1000 / p }')"
        # Pairs passed, frames copied and (cold) phases, from one read of the report.
        read -r passed frames phases <<<"$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(p["passed"] for p in r["pairs"]), sum(c["frames"] for c in r["captures"]), r["start"].get("phases", "?"))' "$dir/report.json" 2>/dev/null || echo "0 ? ?")"
        secs="$(ms "$start" "$end" | awk '{print $1/1000}')"
        if [ "$run" = cold ]; then
            cold_secs="$secs"
            cold_phases="$phases"
        fi
        printf "%s N=%-3d %5d pairs  %-4s  %6.2f s  %6.0f pairs/s  %s CPU s per 1000 pairs  exit %d  %d/%d passed  %s frames copied  peak %d MB  %d backlog drops\n" \
            "$what" "$n" "$pairs" "$run" "$secs" "$(awk -v p="$pairs" -v s="$secs" 'BEGIN { print p / s }')" \
            "$cpu_per_kpair" "$code" "$passed" "$pairs" "$frames" "$rss_mb" "$drops"
    done
    # The same lab's cold traffic through fping, nothing captured: what the kernel alone needs.
    floor_line="$(bench/verify_floor.py "$file")" || floor_line="floor: failed (see above)"
    floor="$(awk '{ for (i = 1; i < NF; i++) if ($i == "total") print $(i + 1) }' <<<"$floor_line")"
    ratio="$(awk -v c="$cold_secs" -v f="${floor:-0}" 'BEGIN { if (f > 0) printf "%.2fx", c / f; else print "?" }')"
    printf "%s N=%-3d %s; cold verify %.2f s is %s the floor\n" "$what" "$n" "$floor_line" "$cold_secs" "$ratio"
    case "$floor_line" in
        *"senders with a loss 0") ;;
        *"senders with a loss "*) echo "$what N=$n: the floor lost probes after its retries (fping's: the backlog queue overran; transport ones: see above): not everything it timed was delivered" ;;
    esac
    # The floor keeps its own copy of verify's schedule: say so when the two have drifted apart.
    if [ -n "$floor" ] && [ "$cold_phases" != "?" ] && [[ "$floor_line" != "floor: $cold_phases phases "* ]]; then
        echo "$what N=$n: the floor ran other phases than verify's $cold_phases: bench/verify_floor.py no longer follows src/verify/schedule.rs" >&2
    fi
    ok=0
    for _ in $(seq 1 "$runs"); do
        if "$bin" verify -t "$file" --json >"$dir/report.json"; then
            ok=$((ok + 1))
        else
            python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); [print("  failed:", p["from"], p["to"], p["reasons"]) for p in r["pairs"] if not p["passed"]]; [print("  finding:", f) for f in r["findings"]]' "$dir/report.json" | head -5 || true
        fi
    done
    [ "$runs" -eq 0 ] || printf "%s N=%-3d healthy lab: %d/%d cold runs passed\n" "$what" "$n" "$ok" "$runs"
    "$bin" destroy -t "$file"
    file=""
done
echo "($(nproc) cores)"
