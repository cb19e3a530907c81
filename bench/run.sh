#!/usr/bin/env bash
# All of cnilab's speed figures from one run: gen at the largest lab, deploy against the
# one-process-per-line baseline, and verify at 20 and 50 hosts. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
bench/gen.sh "${1:-target/release/cnilab}"
bench/deploy.sh
bench/verify.sh
