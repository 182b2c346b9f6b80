"""CPU per frame of following one subject: num_poses 1 vs 2 (the default) vs one tracked pose plus the
bounded two-person search of vision/search.py (`--num-poses 1`), measured side by side in one run.

    .venv/bin/python bench/subject_search.py [--rounds 3]

Frames are decoded beforehand (decoding is the same for all three), each contender gets a fresh
landmarker per round, rounds alternate. CPU = process time of this process (every thread MediaPipe
runs), per frame; the wall time is printed too. Clips: ``tfjs_pose_1.mp4`` (one person, 120 frames)
and the same clip with a second real person walking across (tests/vision/crossing.py, 120 frames).
The searching contender also computes each pose's torso colour histogram (the identity cue): included.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sample_videos import locate  # noqa: E402
from sample_videos.locator import CHECKOUT_SHARED_VIDEOS  # noqa: E402
from tests.vision.crossing import crossing_clip  # noqa: E402
from vision.landmarker import PoseEstimator  # noqa: E402
from vision.models import resolve_model  # noqa: E402
from vision.search import TrackedSearch  # noqa: E402
from vision.sources import open_source  # noqa: E402

CONTENDERS = {
    "num_poses=1 (tracker only)": lambda m: PoseEstimator(m, mode="video", num_poses=1),
    "num_poses=2 (default)": lambda m: PoseEstimator(m, mode="video", num_poses=2),
    "num_poses=1 + search": lambda m: TrackedSearch(m),
}


def run_once(make, model, frames) -> tuple[float, float, int]:
    with make(model) as est:
        est.process(frames[0][1], frames[0][0])      # model warm-up outside the timing
        c0, w0 = time.process_time(), time.perf_counter()
        for ts, rgb in frames[1:]:
            est.process(rgb, ts)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        searched = getattr(est, "searches", 0)
    n = len(frames) - 1
    return 1000 * cpu / n, 1000 * wall / n, searched


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    model = resolve_model("full")
    with tempfile.TemporaryDirectory() as tmp:
        one = locate("tfjs_pose_1.mp4")
        cross = crossing_clip(one, CHECKOUT_SHARED_VIDEOS / "pose2sim_balance" / "cam02.mp4", model,
                              Path(tmp) / "crossing.mp4").path
        clips = {}
        for name, path in (("one person", one), ("crossing", cross)):
            with open_source(path) as src:
                clips[name] = [(f.timestamp_ms, f.rgb) for f in src]
    for clip, frames in clips.items():
        results: dict[str, list] = {k: [] for k in CONTENDERS}
        for _ in range(args.rounds):
            for name, make in CONTENDERS.items():
                results[name].append(run_once(make, model, frames))
        base = np.median([r[0] for r in results["num_poses=1 (tracker only)"]])
        print(f"\n{clip} ({len(frames)} frames, {args.rounds} rounds, median)")
        print(f"{'':30s} {'CPU ms/frame':>13s} {'ratio':>6s} {'wall ms/frame':>14s} {'searched':>9s}")
        for name, rs in results.items():
            cpu, wall = np.median([r[0] for r in rs]), np.median([r[1] for r in rs])
            searched = int(np.median([r[2] for r in rs]))
            shown = f"{searched}/{len(frames) - 1}" if name.endswith("search") else "-"
            print(f"{name:30s} {cpu:13.1f} {cpu / base:6.2f} {wall:14.1f} {shown:>9s}")


if __name__ == "__main__":
    main()
