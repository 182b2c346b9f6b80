#!/usr/bin/env bash
# Set up and run the whole test suite with the real model on the real clips.
# The model and clips come from ../shared when present, otherwise they are fetched (sha256-checked).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p artifacts
exec .venv/bin/python -m pytest "$@"
