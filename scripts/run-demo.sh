#!/usr/bin/env bash
# Run one container from localhost/busybox and remove it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/pypod "$@" run --rm localhost/busybox echo "hello from pypod"
