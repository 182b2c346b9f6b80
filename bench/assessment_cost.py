"""Assessment cost per frame against landmark inference per frame, measured side by side in one run.

Inference: PoseLandmarker (VIDEO mode, same options as the CLI) over the clip's decoded frames.
Assessment: ``assessment.assess.assess`` (angles, views, still windows, movement, hypotheses, plan) on
the resulting track, and separately the JSON + HTML report writing (without key-frame extraction).
The track is also tiled to 10x its length (timestamps continued) to show how the cost scales.
``--against REV`` also times ``assess`` of an earlier commit (exported with ``git archive``) on the same
track, in a fresh process each round alternating with this checkout's, so a change's cost is seen
side by side (only the ``assess`` calls are timed, after one untimed warm-up call).

    .venv/bin/python bench/assessment_cost.py [--clip tfjs_pose_squats.mp4] [--rounds 3] [--against 06848a1]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assessment.assess import assess  # noqa: E402
from assessment.context import RollInput, build_context  # noqa: E402
from assessment.gates import LINE_LANDMARKS, track_perspective_gate  # noqa: E402
from assessment.roll import scene_and_body_roll  # noqa: E402
from sample_videos import locate  # noqa: E402
from vision.landmarker import PoseEstimator  # noqa: E402
from vision.models import resolve_model  # noqa: E402
from vision.pipeline import extract_track  # noqa: E402
from vision.scene_roll import SceneRollSampler  # noqa: E402
from vision.sources import open_source  # noqa: E402
from vision.track import LandmarkTrack  # noqa: E402


def tiled(track: LandmarkTrack, times: int) -> LandmarkTrack:
    n = len(track)
    step = float(np.median(np.diff(track.timestamp_ms))) if n > 1 else 33.3
    span = track.timestamp_ms[-1] + step
    return LandmarkTrack(np.arange(n * times), np.concatenate([track.timestamp_ms + k * span for k in range(times)]),
                         np.tile(track.image, (times, 1, 1)), np.tile(track.world, (times, 1, 1)),
                         np.tile(track.n_people, times), track.meta)


def per_frame_ms(fn, n_frames: int) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000 / n_frames


TIME_ASSESS = """
import sys, time, warnings
sys.path.insert(0, sys.argv[1])
warnings.simplefilter("ignore")
from assessment.assess import assess
from vision.track import LandmarkTrack
track = LandmarkTrack.load(sys.argv[2])
assess(track)
t0 = time.perf_counter()
for _ in range(3):
    assess(track)
print((time.perf_counter() - t0) * 1000 / 3 / len(track))
"""


def assess_ms_in(root: Path, track_file: Path) -> float:
    """ms/frame of ``assess`` from the source tree ``root`` (a fresh process, warm-up call untimed)."""
    out = subprocess.run([sys.executable, "-c", TIME_ASSESS, str(root), str(track_file)], check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", default="tfjs_pose_squats.mp4")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--against", help="git revision whose assess() is timed side by side with this checkout's")
    args = ap.parse_args()
    model = resolve_model("full")
    clip = locate(args.clip)
    with open_source(clip) as s:
        frames = list(s)
    track = extract_track(clip, model)
    long = tiled(track, 10)

    def infer() -> None:
        with PoseEstimator(model) as est:
            for f in frames:
                est.process(f.rgb, f.timestamp_ms)

    def report() -> None:
        from assessment.report import write_html, write_json

        with tempfile.TemporaryDirectory() as tmp:
            r = assess(track)
            write_json(r, Path(tmp) / "report.json")
            write_html(r, Path(tmp) / "report.html")

    tmp = tempfile.TemporaryDirectory()
    if args.against:
        base = Path(tmp.name) / "base"
        base.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.against, "assessment", "vision"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        track_file = track.save(Path(tmp.name) / "track.csv")

    def scene() -> None:            # what extract_track adds: vision.scene_roll on its sampled frames
        sampler = SceneRollSampler(track.meta.width, track.meta.height, len(frames), track.meta.fps)
        for k, f in enumerate(frames):
            sampler.offer(f.rgb, track.image[k] if track.detected[k] else None)
        sampler.result()

    def roll_and_gates() -> None:   # what assess adds: the roll decision and the perspective gates
        ctx = build_context(track)
        rows_ = ctx.still_rows
        scene_and_body_roll(RollInput(ctx.track, rows_, ctx.view))
        px, vis = ctx.track.pixels(), ctx.track.visibility
        for m in LINE_LANDMARKS:
            track_perspective_gate(m, px, vis, rows_, ctx.view.yaw_median, track.meta.scene_roll,
                                   (track.meta.width, track.meta.height))

    rows: dict[str, list[float]] = {"inference": [], "assess": [], "assess_10x": [], "assess+report": [],
                                    "scene roll (extraction)": [], "roll + gates (assess)": []}
    if args.against:
        rows[f"assess@{args.against}"], rows["assess@HEAD"] = [], []
    for _ in range(args.rounds):  # alternate so machine noise hits all alike
        rows["inference"].append(per_frame_ms(infer, len(frames)))
        rows["scene roll (extraction)"].append(per_frame_ms(scene, len(frames)))
        t0 = time.perf_counter()
        build_context(track)
        ctx_ms = (time.perf_counter() - t0) * 1000
        rows["roll + gates (assess)"].append(per_frame_ms(roll_and_gates, len(track)) - ctx_ms / len(track))
        rows["assess"].append(per_frame_ms(lambda: assess(track), len(track)))
        rows["assess_10x"].append(per_frame_ms(lambda: assess(long), len(long)))
        rows["assess+report"].append(per_frame_ms(report, len(track)))
        if args.against:
            rows[f"assess@{args.against}"].append(assess_ms_in(base, track_file))
            rows["assess@HEAD"].append(assess_ms_in(ROOT, track_file))
    tmp.cleanup()
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"clip {args.clip}: {len(track)} frames ({len(long)} tiled); {args.rounds} alternating rounds")
    for k, v in med.items():
        print(f"  {k:24s} {v:8.3f} ms/frame   ratio to inference {v / med['inference']:.3f}")
    whole = med["inference"] + med["assess"]          # isobalance assess VIDEO: extraction + assessment
    added = med["scene roll (extraction)"] + med["roll + gates (assess)"]
    print(f"  roll/gates add {added:.3f} ms/frame to {whole - added:.3f} ms/frame without them: "
          f"{100 * added / (whole - added):.1f} % of assess time")
    if args.against:
        head, old = rows["assess@HEAD"], rows[f"assess@{args.against}"]
        ratios = [h / o for h, o in zip(head, old)]
        diff = statistics.median(h - o for h, o in zip(head, old))
        print(f"  assess@HEAD / assess@{args.against} per round: " + ", ".join(f"{r:.2f}" for r in ratios)
              + f"; median {statistics.median(ratios):.2f}")
        print(f"  HEAD's assess() minus {args.against}'s: {diff:+.3f} ms/frame (median of paired rounds) = "
              f"{100 * diff / (med['inference'] + med[f'assess@{args.against}']):+.2f} % of assess time "
              f"(extraction + assessment)")


if __name__ == "__main__":
    main()
