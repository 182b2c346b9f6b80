#!/usr/bin/env bash
# One command on a fresh machine: set up, get a pose model, then run every stage a user sees on the
# sample clips shipped in sample_videos/ (no download needed):
#   1. pose model  2. landmarks + annotated video  3. assessment report (HTML, PDF, JSON)  4. hold check
# Usage: bash scripts/demo.sh [CLIP [OUT]]   (CLIP: a sample name or a video path; OUT: default out/demo)
#
# ISOBALANCE_DEMO_REUSE_VENV=/path/to/.venv skips setup.sh: this checkout gets a bare .venv whose only
# packages are that venv's (a .pth line; its editable install of another checkout is not carried over),
# so this checkout's code runs with dependencies already installed. The CI demo test uses it to save the
# install time; everything else (model fetch or offline build, clips, outputs) is this run's own.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CLIP=${1:-tfjs_pose_squats.mp4}
STILL=pose2sim_static_cam02.mp4
HOLD_EXERCISE=upper-trapezius-pir
OUT=${2:-out/demo}

fail() { echo "demo: $*" >&2; exit 2; }
say() { printf '\n== %s\n' "$*"; }

if [ -n "${ISOBALANCE_DEMO_REUSE_VENV:-}" ]; then
  REUSED=$ISOBALANCE_DEMO_REUSE_VENV/bin/python
  [ -x "$REUSED" ] || fail "ISOBALANCE_DEMO_REUSE_VENV=$ISOBALANCE_DEMO_REUSE_VENV has no bin/python."
  [ -x .venv/bin/python ] || "$REUSED" -m venv --without-pip .venv
  purelib() { "$1" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"; }
  purelib "$REUSED" > "$(purelib .venv/bin/python)/isobalance-reused-packages.pth"
else
  ISOBALANCE_WITH_BROWSER=0 bash scripts/setup.sh || fail "setup failed (see above); fix it and run bash scripts/demo.sh again."
fi
PY=.venv/bin/python
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"   # this checkout's code, whatever interpreter runs it
"$PY" -c "import mediapipe, av, cv2, pandas" 2>/dev/null \
  || fail "$PY lacks isobalance's dependencies: run bash scripts/setup.sh (or unset ISOBALANCE_DEMO_REUSE_VENV)."
rm -rf "$OUT/landmarks" "$OUT/assess" "$OUT/hold" "$OUT/demo.log"
mkdir -p "$OUT"
LOG="$OUT/demo.log"   # the commands' own logs and progress bars; the demo prints what matters
iso_try() { "$PY" -m isobalance.cli "$@" 2>>"$LOG"; }
iso() {  # run a command; on failure its one error line (never a traceback) and the demo stops
  "$PY" -m isobalance.cli "$@" 2>>"$LOG" && return 0
  local code=$?
  echo "demo: $(grep -E '^(error|internal error):' "$LOG" | tail -n 1 || echo "isobalance $1 failed") (log: $LOG)" >&2
  exit $code
}
sample() {  # the checked local path of a sample clip, or one line saying why there is none
  "$PY" - "$1" <<'PY'
import sys
from pathlib import Path
from sample_videos import SampleError, locate
name = sys.argv[1]
try:
    print(Path(name).resolve() if Path(name).is_file() else locate(name))
except SampleError as exc:
    sys.exit(f"demo: {exc}")
PY
}

VIDEO=$(sample "$CLIP") || exit 2
HOLD_VIDEO=$(sample "$STILL") || exit 2

say "1/4 pose model"
if ! iso_try models verify full >/dev/null; then
  echo "No pose model on this machine yet: trying Google's official download, else building the 'full'"
  echo "model offline from the mediapipe==0.10.21 wheel on PyPI (about 35 MB, once)."
  iso_try models fetch full >>"$LOG" \
    || { echo "(Google's model storage is not reachable: building offline)"; iso models build >>"$LOG"; }
fi
iso models list | grep "in use for 'full'"


say "2/4 landmarks: $VIDEO"
iso landmarks "$VIDEO" -o "$OUT/landmarks" >/dev/null
"$PY" - "$OUT/landmarks/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"a person in {s['frames_with_person']} of {s['frames']} frames ({s['duration_s']} s, {s['size'][0]}x{s['size'][1]})")
PY
echo "  $OUT/landmarks/annotated.mp4  the clip with the tracked skeleton, frame number and time drawn on it"
echo "  $OUT/landmarks/track.csv      one row per frame: 33 landmarks (x, y, z, visibility; world metres)"
echo "  $OUT/landmarks/summary.json   frames, frames with a person, model, smoothing, subject choice"

say "3/4 assessment: findings, muscle hypotheses, exercise plan"
iso assess "$OUT/landmarks/track.csv" --video "$VIDEO" -o "$OUT/assess" --pdf >/dev/null
"$PY" - "$OUT/assess/report.json" <<'PY'
import json, sys
from assessment.findings import REPORTED, status_text
r = json.load(open(sys.argv[1]))
status = {}
for f in r["findings"]:     # grouped as the report prints them: no cut-off reads "reported", never "within"
    status.setdefault(status_text(f), []).append(f["metric"] + ("" if f["kind"] == "static" else f" ({f['kind']})"))
for key in ("flagged", "within", REPORTED, "not measurable"):
    names = sorted(set(status.get(key, [])))
    print(f"{key} ({len(names)}): {', '.join(names) or '-'}")
print(f"hypotheses: {len(r['hypotheses'])}; exercises planned: {len(r['plan'])}"
      + ("" if r["plan"] else " (nothing flagged, so nothing to balance)"))
PY
echo "  $OUT/assess/report.html  the report to open in a browser: each finding with its metric, value,"
echo "                           threshold and frames; hypotheses, not diagnoses"
echo "  $OUT/assess/report.pdf   the same report on A4 pages, to print for the therapist"
echo "  $OUT/assess/report.json  the same, machine-readable (schema-versioned)"

say "4/4 hold check on a still clip ($STILL, exercise $HOLD_EXERCISE)"
# A real user answers the red-flag questions and the pain score (a terminal asks them); the demo's sample
# clip of a stranger answers "no red flags, no pain" on the command line, and says so.
echo "(safety questions answered for the sample clip: --no-red-flags --pain-before 0 --pain-after 0; you answer your own)"
iso hold "$HOLD_VIDEO" --exercise "$HOLD_EXERCISE" -o "$OUT/hold" --no-progress --no-red-flags --pain-before 0 \
    --pain-after 0 >/dev/null
"$PY" - "$OUT/hold/hold.json" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
s = h["summary"]
print(f"{s['frames']} frames ({s['duration_s']} s): {s['repetitions_completed']} of {s['repetitions_planned']} "
      f"repetitions completed, {s['breaks']} breaks, final phase '{s['final_phase']}'"
      + (" (a hold needs several seconds of video: this 0.2 s clip only shows the outputs)" if s['duration_s'] < 5 else ""))
PY
echo "  $OUT/hold/hold.json  per repetition: time held still, breaks (joint, size), drift per joint"
echo "  $OUT/hold/hold.mp4   the clip with phase, timer and the still/moving indicator"

say "done: every output is in $OUT (the commands' logs: $LOG)"
cat <<EOF
Next commands to try:
  .venv/bin/isobalance assess YOUR_VIDEO.mp4 -o out/me --pdf     assess your own recording
  .venv/bin/isobalance hold webcam:0 --exercise $HOLD_EXERCISE    a live hold check with your webcam
  .venv/bin/isobalance dashboard                                  the dashboard on http://127.0.0.1:8501
  .venv/bin/isobalance samples list                               the sample clips, their licenses and facts
EOF
