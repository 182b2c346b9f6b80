#!/usr/bin/env bash
# Set up isobalance from scratch: system packages (ffmpeg for clip tools, Chromium for browser tests),
# a virtual environment in .venv, and the project with its test extras. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
# PostgreSQL server binaries: the store tests start their own throwaway cluster (tests/store/conftest.py)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
# strace: tests/vision/test_telemetry.py watches a real command's network calls (MediaPipe's usage upload)
command -v strace >/dev/null 2>&1 || need_apt+=(strace)
if [ "${ISOBALANCE_WITH_BROWSER:-1}" = "1" ]; then
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
  echo "installing system packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# mediapipe brings opencv-contrib-python; a second OpenCV wheel would shadow it.
.venv/bin/python - <<'PY'
from importlib.metadata import distributions
cv = sorted({d.metadata["Name"].lower() for d in distributions() if d.metadata["Name"].lower().startswith("opencv")})
assert cv == ["opencv-contrib-python"], f"exactly one OpenCV distribution expected, found {cv}"
PY
echo "setup done: $(.venv/bin/isobalance --help >/dev/null && echo 'isobalance CLI ready')"
