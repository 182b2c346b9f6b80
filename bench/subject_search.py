"""CPU per frame of following one subject: MediaPipe's tracker alone (``num_poses=1``), a two-pose
landmarker on every frame (``--num-poses 2``), and the default: one tracked pose plus the bounded
search of vision/search.py, measured side by side in one run; and the cost of one search call: the
person detector alone on LiteRT (now, ``vision.person_detector``) against the IMAGE-mode two-pose
landmarker (detector + landmarks of everybody) the search ran before, and a VIDEO-mode two-pose
landmarker given every 10th frame (before that).

    .venv/bin/python bench/subject_search.py [--rounds 3]

Frames are decoded beforehand (decoding is the same for all), each contender gets fresh models per
round, rounds alternate. CPU = process time of this process (every thread MediaPipe and LiteRT run),
per frame; the wall time is printed too. Clips: ``tfjs_pose_1.mp4`` (one person, 120 frames) and the
same clip with a second real person walking across (tests/vision/crossing.py, 120 frames).
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
from vision.person_detector import PersonDetector  # noqa: E402
from vision.search import TrackedSearch  # noqa: E402
from vision.sources import open_source  # noqa: E402

class _Every10:
    """Gives every 10th frame to ``search(rgb, ts)`` (a search call's cost, not a per-frame cost)."""

    def __init__(self, model, search):
        self.model, self.search, self.searches, self._k = model, search, 0, 0

    def process(self, rgb, ts):
        self._k += 1
        if self._k % 10 == 0:
            self.searches += 1
            self.search(rgb, ts)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.model.close()


def _every10(model, call):
    return _Every10(model, lambda rgb, ts: call(model, rgb, ts))


CONTENDERS = {
    "num_poses=1 (tracker only)": lambda m: PoseEstimator(m, mode="video", num_poses=1),
    "num_poses=2 every frame": lambda m: PoseEstimator(m, mode="video", num_poses=2),
    "tracked + search (default)": lambda m: TrackedSearch(m),
    "tracked + search, no still gate": lambda m: TrackedSearch(m, still_ms=0),   # every 10th frame searched
    "search: detector only, 1/10": lambda m: _every10(PersonDetector(m), lambda d, rgb, ts: d.detect(rgb)),
    "search: IMAGE 2-pose, 1/10": lambda m: _every10(PoseEstimator(m, mode="image", num_poses=2),
                                                     lambda e, rgb, ts: e.process(rgb)),
    "search: VIDEO 2-pose, 1/10": lambda m: _every10(PoseEstimator(m, mode="video", num_poses=2),
                                                     lambda e, rgb, ts: e.process(rgb, ts)),
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
        print(f"{'':30s} {'CPU ms/frame':>13s} {'ratio':>6s} {'wall ms/frame':>14s} {'searched':>9s} "
              f"{'CPU ms/search':>14s}")
        for name, rs in results.items():
            cpu, wall = np.median([r[0] for r in rs]), np.median([r[1] for r in rs])
            searched = int(np.median([r[2] for r in rs]))
            shown = f"{searched}/{len(frames) - 1}" if searched else "-"
            per_call = f"{cpu * (len(frames) - 1) / searched:14.1f}" if name.startswith("search") else ""
            print(f"{name:30s} {cpu:13.1f} {cpu / base:6.2f} {wall:14.1f} {shown:>9s} {per_call}")
        # what the search costs on the 1200-frame one-person clip of the README's whole-process runs
        # without the still-scene gate: 120 searched frames (1 in 10), each one call (with it, a still
        # camera: 20 searched frames, the first and one per 2 s; vision/scene_change.py)
        for name in ("search: detector only, 1/10", "search: IMAGE 2-pose, 1/10"):
            rs = results[name]
            per_call = np.median([r[0] for r in rs]) * (len(frames) - 1) / max(1, int(np.median([r[2] for r in rs])))
            print(f"  {name.split(',')[0]}: {per_call * 120 / 1000:.2f} CPU s per 120 searched frames")


if __name__ == "__main__":
    main()
