#!/usr/bin/env bash
# The main job: the end-to-end lab demo (divert, fail over, fall back, withdraw)
# on real FRR routers and real ExaBGP, with the embedded SQLite default.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "demo: the lab needs root (network namespaces, FRR); run as root" >&2
    exit 2
fi
exec .venv/bin/scrubctl lab demo "$@"
