#!/usr/bin/env bash
# Build test binaries on the host with cargo, then run them all inside one VM
# (scripts/in-vm.sh), the way `cargo test` would run them.
#
# Usage: scripts/cargo-test-in-vm.sh [cargo test options] [-- test binary options]
#   e.g. scripts/cargo-test-in-vm.sh --test runtime_ipip --test verify_ipip -- --ignored --test-threads=1
#
# Why not `scripts/in-vm.sh cargo test ...`: that works, but cargo itself is slow
# under software emulation over 9p. Even with nothing to rebuild it took 20 s to
# over 4 minutes inside the VM here (rustc -vV alone takes ~5 s there), while the
# test binaries themselves start in under a second.
#
# The binaries run with the repo root as working directory, like cargo runs
# integration tests. They do not get the variables cargo sets at run time
# (CARGO_MANIFEST_DIR etc.); env!() values baked in at build time still work, and
# assert_cmd finds target/debug/<bin> next to the test binary.
#
# Exit code: the first failing binary's, after all have run; cargo's if the build
# fails; in-vm.sh's (124 timeout, 125 VM failure) if the VM does not finish.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"

cargo_args=()
test_args=()
while [[ $# -gt 0 ]]; do
    if [[ $1 == -- ]]; then
        shift
        test_args=("$@")
        break
    fi
    cargo_args+=("$1")
    shift
done

# json-render-diagnostics: compiler errors still reach the terminal (stderr) as
# usual, while stdout carries one JSON line per artifact. Test executables are
# the artifacts under deps/; the uplifted copies of [[bin]]s are not tests.
json=$("${CARGO:-cargo}" test --no-run --message-format=json-render-diagnostics "${cargo_args[@]}")
mapfile -t bins < <(printf '%s\n' "$json" | sed -n 's/.*"executable":"\([^"]*\/deps\/[^"]*\)".*/\1/p')
if [[ ${#bins[@]} -eq 0 ]]; then
    echo "cargo-test-in-vm.sh: cargo built no test binaries for: ${cargo_args[*]}" >&2
    exit 1
fi

# Inside the VM: run every binary, remember the first failure, like
# `cargo test --no-fail-fast`. $1 is how many of the following words are test
# options; the rest are the binaries.
# shellcheck disable=SC2016 # expanded by the guest's bash, not here
runner='
n=$1; shift
args=("${@:1:n}"); shift "$n"
rc=0
for t in "$@"; do
    echo "     Running ${t#"$PWD"/}"
    "$t" "${args[@]}" || { r=$?; [ "$rc" -ne 0 ] || rc=$r; }
done
exit "$rc"'
exec "$repo/scripts/in-vm.sh" bash -c "$runner" bash "${#test_args[@]}" "${test_args[@]}" "${bins[@]}"
