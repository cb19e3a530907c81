#!/usr/bin/env bash
# All of cnilab's speed figures from one run: gen at the largest lab, deploy against the
# one-process-per-line baseline, verify at 20 and 50 hosts, then `cnilab bench` of the data
# planes. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
bench/gen.sh "${1:-target/release/cnilab}"
bench/deploy.sh
bench/verify.sh
# What each data plane costs (throughput, latency, CPU, bytes on the wire), side by side.
"${1:-target/release/cnilab}" bench --modes host-gw,vxlan --duration 2 --repeat 3
