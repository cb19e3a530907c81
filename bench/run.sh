#!/usr/bin/env bash
# All of cnilab's speed figures from one run: gen at the largest lab; deploy and destroy at
# 50/100/254 hosts against the floor (one `ip -batch` per node), and of every mode and flavor
# at 254 hosts against the article's vxlan; verify at 20/50/100/254 hosts
# with pairs per second, frames copied and peak memory, each against its floor (the cold run's
# probes through fping and bench/transport_floor.rs, nothing captured); 10 cold runs of a healthy 30-host lab,
# which must all pass; Services and dual stack against the same lab without; then `cnilab
# bench` of the data planes. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
# The binary every script here runs (the Makefile passes its release build).
export BIN="${1:-${CARGO_TARGET_DIR:-target}/release/cnilab}"
bench/gen.sh "$BIN"
bench/deploy.sh 50 100 254
# Every mode and flavor at 254 hosts beside the article's vxlan, in the same run (about 3 minutes).
bench/deploy_flavors.sh "$BIN" 254
RUNS=0 bench/verify.sh 20 50 100
# 254 hosts is the slow one: cold, warm and floor take about 13 minutes here (see the README).
# Its floods overrun the default backlog queue (1000) in the floor's fping, which then times
# floods never delivered; with a queue of 4000, for verify and floor alike, it delivers nearly
# all of them (7 senders lost against 288 at the default).
# 4000 is the queue verify's opening hint names (cold_cost::ROOMIER_BACKLOG).
BACKLOG=4000 RUNS=0 bench/verify.sh 254
# flannel's VXLAN programs its peers statically: no floods, so its floor is nearly its steady
# pings and its transport probes.
FLAVOR=flannel RUNS=0 bench/verify.sh 254
# The other flood-free flavors, each against its own floor: pairs per second and CPU seconds
# per pair for every flavor (about 5 minutes each).
MODE=host-gw FLAVOR=flannel RUNS=0 bench/verify.sh 254
FLAVOR=calico RUNS=0 bench/verify.sh 254
FLAVOR=cilium RUNS=0 bench/verify.sh 254
RUNS=10 bench/verify.sh 30
# What --services 4 adds to verify at 20 hosts (target: at most 1.5×).
bench/services.sh 20
# What dual stack adds to verify at 20 and 50 hosts: twice the pairs (target: at most 2.2×).
bench/families.sh 20
bench/families.sh 50
# What each data plane costs (throughput, latency, CPU, bytes on the wire), side by side.
"$BIN" bench --modes host-gw,vxlan --duration 2 --repeat 3
# What sealing pod traffic in WireGuard costs against the same lab in the clear.
"$BIN" bench --modes host-gw --flavors flannel --encryption wireguard --duration 2 --repeat 3
