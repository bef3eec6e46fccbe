#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite. Extra arguments go to pytest.
# The tests that start a Ray cluster may only talk to loopback, and Ray binds the machine's own interface
# address even when told 127.0.0.1; so where a private network namespace can be made (root: here and in CI),
# pytest runs in one that holds only loopback. Elsewhere those tests skip and say why.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
if command -v unshare >/dev/null && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
  exec unshare -n sh -c 'ip link set lo up && exec .venv/bin/python -m pytest "$@"' sh "$@"
fi
exec .venv/bin/python -m pytest "$@"
