#!/usr/bin/env bash
# Set up and run the main job on a sample clip: landmarks, assessment report, annotated video.
set -euo pipefail
cd "$(dirname "$0")/.."
ISOBALANCE_WITH_BROWSER=0 bash scripts/setup.sh
CLIP=${1:-tfjs_pose_squats.mp4}
OUT=${2:-out/demo}
# A pose model: already here (cache, $ISOBALANCE_MODEL, ../shared), else Google's download, else an
# offline build from the mediapipe 0.10.21 wheel on PyPI.
.venv/bin/isobalance models verify full >/dev/null 2>&1 \
  || .venv/bin/isobalance models fetch full \
  || .venv/bin/isobalance models build
SAMPLE=$(.venv/bin/python -c "import sys; from sample_videos import locate; print(locate(sys.argv[1]))" "$CLIP")
.venv/bin/isobalance assess "$SAMPLE" -o "$OUT"
echo "outputs in $OUT"
