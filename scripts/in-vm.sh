#!/usr/bin/env bash
# Run a command as root inside a stock Debian kernel, under virtme-ng and QEMU.
#
# Why: the kernel of the development/CI machine has no IPIP support
# (CONFIG_NET_IPIP unset), but Debian's linux-image-amd64 ships it as a module.
# virtme-ng boots that kernel with the host's own file system as the guest's
# root (9p, read-write), so the repo, the cargo toolchain under /root and the
# test binaries built on the host are all there, and nothing has to be copied.
# There is no KVM, so QEMU emulates the CPU (TCG): boot takes ~15-30 s.
#
# Usage: scripts/in-vm.sh COMMAND [ARG...]   (no shell: use `bash -c '...'` for one)
#   e.g. scripts/in-vm.sh target/debug/deps/runtime_ipip-HASH --ignored
#   For cargo tests prefer scripts/cargo-test-in-vm.sh: cargo itself is slow in the VM.
#
# Inside the VM: uid 0, working directory = the repo root, the `ipip` module is
# loaded and proven to work, /run (so /run/netns, /run/cnilab) is a fresh tmpfs,
# and the caller's PATH, HOME, CARGO_HOME, RUSTUP_HOME, RUSTUP_TOOLCHAIN,
# CARGO_TARGET_DIR, RUST_BACKTRACE, RUST_LOG, CI and CNILAB_* are carried over
# (vng passes no environment by itself). The command's exit code is this
# script's exit code. Exit codes of the script itself: 124 = timed out,
# 125 = the VM or the setup inside it failed before the command ran (see the
# message), 130 = interrupted (Ctrl-C/TERM; the VM is stopped).
#
# Knobs (environment):
#   CNILAB_VM_KERNEL   kernel image to boot (default: newest /boot/vmlinuz-*)
#   CNILAB_VM_TIMEOUT  seconds before the VM is killed (default: 1200)
#   CNILAB_VM_MEMORY   guest memory (default: 2G)
#   CNILAB_VM_KVM=1    use KVM instead of software emulation, if /dev/kvm works
#   CNILAB_VM_VERBOSE=1  show the guest's boot console (for boot failures)
set -euo pipefail

die() {
    printf 'in-vm.sh: %s\n' "$*" >&2
    exit 125
}

if [[ $# -eq 0 ]]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
fi

# The guest sees the host's / read-write, so the repo path is the same inside.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

# --- Preflight: name the package that provides each missing piece. ----------
# scripts/install-deps.sh puts the Python tools in the repo's .venv, because
# Debian's own Python refuses a global pip install; accept either place.
if [[ -x $repo/.venv/bin/vng ]]; then PATH=$repo/.venv/bin:$PATH; fi
command -v vng >/dev/null 2>&1 ||
    die "virtme-ng (vng) is not on PATH nor in $repo/.venv: pip install virtme-ng"
command -v qemu-system-x86_64 >/dev/null 2>&1 ||
    die "qemu-system-x86_64 is not on PATH: apt-get install qemu-system-x86"
# virtme-ng builds its initramfs around a static busybox found on PATH.
command -v busybox >/dev/null 2>&1 ||
    die "busybox is not on PATH (virtme-ng needs it): apt-get install busybox-static"

if [[ -n ${CNILAB_VM_KERNEL:-} ]]; then
    kernel=$CNILAB_VM_KERNEL
    [[ -r $kernel ]] || die "CNILAB_VM_KERNEL=$kernel is not a readable file"
else
    # Newest by version order, not by name: 6.1.0-10 must beat 6.1.0-9.
    kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*' -print 2>/dev/null | sort -V | tail -n 1)
    [[ -n $kernel ]] ||
        die "no kernel image in /boot: apt-get install linux-image-amd64"
    [[ -r $kernel ]] || die "$kernel is not readable (run as root)"
fi
kver=${kernel##*/vmlinuz-}
# modprobe ipip inside the guest reads the modules of the booted kernel from
# the host's /lib/modules; a bare vmlinuz without them cannot load ipip.
[[ -d /lib/modules/$kver/kernel ]] ||
    die "no modules for $kver in /lib/modules/$kver: apt-get install linux-image-$kver"

timeout_s=${CNILAB_VM_TIMEOUT:-1200}
[[ $timeout_s =~ ^[0-9]+$ ]] || die "CNILAB_VM_TIMEOUT must be a number of seconds, got '$timeout_s'"

# --- Hand-over directory. -----------------------------------------------------
# It must be on the shared file system and NOT under /tmp, /run or /var/tmp:
# inside the guest /tmp is an overlay and /run, /var/tmp are tmpfs, so what the
# guest writes there never reaches the host. target/ is git-ignored; a checkout
# that itself lives under one of those (CI clones into /tmp, say) hands over
# through the caller's cache folder instead.
case $repo/ in
    /tmp/* | /run/* | /var/tmp/*) handover=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/cnilab-vm ;;
    *) handover=$repo/target ;;
esac
case $handover/ in
    /tmp/* | /run/* | /var/tmp/*) die "no shared folder for the VM's exit code: $handover is private to the guest; set HOME or XDG_CACHE_HOME elsewhere" ;;
esac
mkdir -p "$handover"
state=$(mktemp -d "$handover/in-vm.XXXXXX")
trap 'rm -rf -- "$state"' EXIT

# vng does not pass the caller's environment into the guest (the guest gets a
# fixed PATH without ~/.cargo/bin and no CARGO_*/RUST*), so the variables that
# matter are written to a file and sourced inside.
{
    # Keep the caller's PATH (cargo, rustup shims, ...) in front of the guest's,
    # and add cargo's bin dir in case sudo's secure_path dropped it.
    printf 'export PATH=%q\n' "${CARGO_HOME:-$HOME/.cargo}/bin:$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for v in HOME CARGO_HOME RUSTUP_HOME RUSTUP_TOOLCHAIN CARGO_TARGET_DIR \
        CARGO_TERM_COLOR CARGO_INCREMENTAL RUSTFLAGS RUST_BACKTRACE RUST_LOG \
        RUST_TEST_THREADS CI NO_COLOR; do
        if [[ -n ${!v+x} ]]; then printf 'export %s=%q\n' "$v" "${!v}"; fi
    done
    # The project's own knobs, whatever they are called.
    while IFS= read -r v; do
        printf 'export %s=%q\n' "$v" "${!v}"
    done < <(compgen -e | grep '^CNILAB_' || true)
} >"$state/env"

printf '%q ' "$@" >"$state/cmd"

# The script the guest runs. It only reads files from $state and writes the
# exit code back there, so a crashed VM (no rc file) can be told apart from a
# command that failed.
cat >"$state/guest.sh" <<'GUEST'
set -uo pipefail
state=$1 repo=$2
# shellcheck disable=SC1091
. "$state/env"
cd "$repo" || { echo "in-vm.sh (guest): cannot cd to $repo" >&2; echo 125 >"$state/rc"; exit 125; }
fail() { echo "in-vm.sh (guest): $*" >&2; echo 125 >"$state/rc"; exit 125; }

# The tests need the ipip module; a stock Debian kernel has it as a module.
modprobe ipip || fail "modprobe ipip failed in kernel $(uname -r)"
probe=cnilab-vmprobe-$$
ip netns add "$probe" || fail "cannot create a network namespace"
if ! err=$(ip -n "$probe" tunnel add t0 mode ipip local 1.2.3.4 2>&1); then
    ip netns del "$probe"
    fail "this kernel cannot create ipip tunnels: $err"
fi
ip netns del "$probe"

# Same starting point as a fresh host: /run is a fresh tmpfs in the guest, so
# /run/netns and /run/cnilab are empty; create /run/netns the way iproute2 would.
mkdir -p /run/netns /run/cnilab

cmd=$(cat "$state/cmd")
eval "$cmd"
rc=$?
echo "$rc" >"$state/rc"
exit "$rc"
GUEST

vng_args=(-r "$kernel" --memory "${CNILAB_VM_MEMORY:-2G}" --rw --user root --cwd "$repo")
# Under software emulation, udev's coldplug loading drivers for QEMU's emulated
# hardware (AHCI, CD-ROM, watchdogs, KVM, SIMD crypto...) over 9p is most of the
# boot: blacklisting them cut the guest's boot from ~40 s to ~9 s here. None of
# them matter for network namespaces, veth, bridge, vxlan or ipip.
vng_args+=(--append "modprobe.blacklist=$(
    IFS=,
    blacklist=(kvm_amd kvm_intel kvm irqbypass ccp ahci libahci libata sr_mod cdrom sg
        scsi_mod iTCO_wdt iTCO_vendor_support i6300esb intel_pmc_bxt i2c_i801 i2c_smbus
        lpc_ich pcspkr psmouse serio_raw evdev aesni_intel crypto_simd cryptd
        ghash_clmulni_intel sha512_ssse3 sha256_ssse3 sha1_ssse3 crc32_pclmul
        crct10dif_pclmul)
    echo "${blacklist[*]}"
)")
if [[ ${CNILAB_VM_KVM:-0} == 1 && -w /dev/kvm ]]; then
    : # hardware virtualization: much faster boot
else
    vng_args+=(--disable-kvm)
fi
if [[ ${CNILAB_VM_VERBOSE:-0} == 1 ]]; then vng_args+=(--verbose); fi

summary=$(printf '%s ' "$@" | tr -s '[:space:]' ' ')
[[ ${#summary} -le 150 ]] || summary="${summary:0:150}..."
printf 'in-vm.sh: booting %s (timeout %ss) for: %s\n' "$kernel" "$timeout_s" "$summary" >&2
start=$SECONDS
guest_cmd="bash $(printf '%q %q %q' "$state/guest.sh" "$state" "$repo")"

# vng's stdout and stderr must be pipes: QEMU reopens /proc/self/fd/1 and
# /proc/self/fd/2 by path, with O_TRUNC and a fresh offset, so when they are a
# log file (as in CI) it wipes everything logged before and overwrites itself.
mkfifo "$state/out" "$state/err"
cat <"$state/out" &
cat_out=$!
cat <"$state/err" >&2 &
cat_err=$!

# timeout puts itself, vng and QEMU in a process group of their own and signals
# all of it, so a timed-out QEMU does not linger. Being in another group, they
# do not see the terminal's Ctrl-C: the trap passes it on. stdin is closed:
# vng wires it into the guest, and the tests must not read it.
timeout -k 30 "$timeout_s" vng "${vng_args[@]}" -- "$guest_cmd" \
    </dev/null >"$state/out" 2>"$state/err" &
vm=$!
interrupted=0
trap 'interrupted=1; kill -TERM -- "-$vm" 2>/dev/null || kill -TERM "$vm" 2>/dev/null' INT TERM HUP
while :; do
    vng_rc=0
    wait "$vm" || vng_rc=$?
    # A trapped signal makes wait return early; wait again until vng is gone.
    kill -0 "$vm" 2>/dev/null || break
done
wait "$cat_out" "$cat_err" || true
trap - INT TERM HUP
elapsed=$((SECONDS - start))

if [[ $interrupted == 1 ]]; then
    printf 'in-vm.sh: interrupted after %ss; the VM was stopped\n' "$elapsed" >&2
    exit 130
fi

if [[ $vng_rc -eq 124 || $vng_rc -eq 137 ]] && [[ ! -e $state/rc ]]; then
    printf 'in-vm.sh: timed out after %ss (CNILAB_VM_TIMEOUT=%s)\n' "$elapsed" "$timeout_s" >&2
    exit 124
fi
if [[ ! -s $state/rc ]]; then
    printf 'in-vm.sh: the VM stopped before the command finished (vng exit %s, %ss); rerun with CNILAB_VM_VERBOSE=1 to see the boot console\n' \
        "$vng_rc" "$elapsed" >&2
    exit 125
fi
rc=$(<"$state/rc")
if [[ $rc != "$vng_rc" ]]; then
    printf 'in-vm.sh: note: vng returned %s but the command exited %s\n' "$vng_rc" "$rc" >&2
fi
printf 'in-vm.sh: exit %s after %ss in the VM\n' "$rc" "$elapsed" >&2
exit "$rc"
