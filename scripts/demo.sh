#!/usr/bin/env bash
# The article, end to end, on the built-in netns runtime: for each mode, generate the lab,
# deploy it, verify every pod pair from the packets on the wire, then tear it down. The
# captures stay in out/demo/<mode>/ for tcpdump or Wireshark.
set -euo pipefail

bin=$(realpath "${1:-target/release/cnilab}")
work=$(mktemp -d)
current=""

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  if [ -n "$current" ]; then "$bin" destroy -t "$current" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

labs=("host-gw 2" "vxlan 3")
# IPIP needs the kernel's ipip module; this is the one mode some kernels cannot run.
if modprobe -q ipip 2>/dev/null || [ -d /sys/module/ipip ]; then
  labs+=("ipip 3")
else
  echo "note: this kernel has no IPIP support, so the ipip lab is skipped (make test-vm runs it in a VM)"
fi

failed=0
for lab in "${labs[@]}"; do
  read -r mode hosts <<<"$lab"
  current="$work/$mode.yaml"
  echo
  echo "== $mode, $hosts hosts =================================================="
  "$bin" up --mode "$mode" --hosts "$hosts" -o "$current" --pcap "out/demo/$mode" || failed=1
  "$bin" destroy -t "$current"
  current=""
done
echo
echo "the captures are kept in out/demo/: try tcpdump -nr out/demo/vxlan/host1-eth1.pcap"
exit "$failed"
