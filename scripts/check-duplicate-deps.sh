#!/usr/bin/env bash
# Fails when a crate cnilab depends on directly is built into cnilab in two versions: the binary
# then carries two copies, and their types do not mix (issue 16). Only the edges that reach the
# binary count: a test-only crate (merman-core uses thiserror 2) never ships.
set -euo pipefail
cd "$(dirname "$0")/.."

direct=$(cargo tree -e normal --depth 1 --prefix none | awk 'NR > 1 { print $1 }' | sort -u)
dupes=$(cargo tree -d -e normal --prefix depth | awk '/^0[a-z]/ { print substr($1, 2) }' | sort -u)
both=$(comm -12 <(echo "$direct") <(echo "$dupes"))

if [[ -n "$both" ]]; then
    echo "direct dependencies built in more than one version (see cargo tree -e normal -i NAME):" >&2
    while read -r name; do echo "  $name"; done <<<"$both" >&2
    exit 1
fi
echo "no direct dependency is built in two versions"
