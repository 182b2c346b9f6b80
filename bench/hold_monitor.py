"""Per-frame cost of the hold monitor vs landmark inference, measured side by side in one run.

    .venv/bin/python bench/hold_monitor.py [--frames 65] [--repeat 20]

1. Runs the real pose model (VIDEO mode, the pipeline's PoseEstimator) on tfjs_pose_squats.mp4 and
   times inference per frame.
2. Feeds the resulting poses to a fresh HoldMonitor ``--repeat`` times (exercise with 4 landmarks and
   2 angles, the heaviest in the catalog) and times ``update`` per frame, also split by phase.
3. Also times the monitor on a 60-s synthetic 30-fps hold with jitter (hold + break + re-anchor paths).
Prints mean / median / p95 microseconds and the ratio monitor : inference.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assessment.exercises import load_catalog  # noqa: E402
from assessment.hold import HoldMonitor, HoldProtocol, HoldSettings  # noqa: E402
from vision.landmarker import PoseEstimator  # noqa: E402
from vision.models import resolve_model  # noqa: E402
from vision.sources import open_source  # noqa: E402
from vision.subject import SubjectSelector  # noqa: E402
from vision.track import PoseFrame  # noqa: E402
from sample_videos import locate  # noqa: E402

EXERCISE = "lower-trapezius-low-row-hold"


def stats(us: np.ndarray) -> str:
    return f"mean {us.mean():8.1f}  median {np.median(us):8.1f}  p95 {np.percentile(us, 95):8.1f} us"


def infer(clip: Path, model: Path, n: int) -> tuple[list[PoseFrame], np.ndarray, tuple[int, int]]:
    poses, times = [], []
    with open_source(clip) as src, PoseEstimator(model, mode="video", num_poses=2) as est:
        sel = SubjectSelector()
        aspect = src.info.width / src.info.height
        for frame in src:
            if len(poses) >= n:
                break
            t0 = time.perf_counter()
            res = est.process(frame.rgb, frame.timestamp_ms)
            times.append(time.perf_counter() - t0)
            idx = sel.choose(res.image, frame.timestamp_ms, aspect)
            poses.append(PoseFrame.missing(frame.index, frame.timestamp_ms) if idx is None else
                         PoseFrame(frame.index, frame.timestamp_ms, res.image[idx], res.world[idx], len(res)))
        size = (src.info.width, src.info.height)
    return poses, np.array(times) * 1e6, size


def monitor_cost(protocol: HoldProtocol, images: np.ndarray, ts: np.ndarray, size, repeat: int,
                 settings: HoldSettings) -> tuple[np.ndarray, list[str]]:
    per, phases = [], []
    for _ in range(repeat):
        mon = HoldMonitor(protocol, size, settings)
        for i in range(len(ts)):
            t0 = time.perf_counter()
            st = mon.update_image(images[i], ts[i])
            per.append(time.perf_counter() - t0)
            phases.append(f"{st.phase.value}/{st.stillness.value}")
        mon.result()
    return np.array(per) * 1e6, phases


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=65)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    protocol = HoldProtocol.from_exercise(load_catalog().get(EXERCISE))
    protocol = HoldProtocol(protocol.exercise_id, 10, 3, 0, 5, protocol.still_landmarks, protocol.still_angles)
    poses, inf_us, size = infer(locate("tfjs_pose_squats.mp4"), resolve_model("full"), args.frames)
    images = np.stack([p.image for p in poses])
    ts = np.array([p.timestamp_ms for p in poses])
    mon_us, phases = monitor_cost(protocol, images, ts, size, args.repeat, HoldSettings(settle_s=0.6))
    print(f"exercise {EXERCISE}: {len(protocol.still_landmarks)} landmarks + {len(protocol.still_angles)} angles")
    print(f"inference (full model, {len(inf_us)} frames of tfjs_pose_squats.mp4): {stats(inf_us)}")
    print(f"hold monitor on the same poses (x{args.repeat}):           {stats(mon_us)}")
    print(f"ratio monitor / inference (mean): {mon_us.mean() / inf_us.mean():.4f}  "
          f"(median {np.median(mon_us) / np.median(inf_us):.4f})")
    ph = np.array(phases)
    for key in sorted(set(phases)):
        print(f"  {key:24s} n={int((ph == key).sum()):5d}  {stats(mon_us[ph == key])}")

    sys.path.insert(0, str(ROOT / "tests" / "assessment"))
    from tests.assessment.hold_synth import Move, inject, still_recording

    rec = inject(still_recording(60.0, fps=30, seed=1),
                 [Move(("left_shoulder",), 20000, 0.2, hold_ms=600), Move(("left_hip",), 40000, 0.2, hold_ms=4000)])
    syn_us, syn_ph = monitor_cost(protocol, rec.image, rec.timestamp_ms, (rec.width, rec.height), 3,
                                  HoldSettings(calibrate_s=3))
    print(f"hold monitor, 60-s synthetic 30-fps session with calibration (x3): {stats(syn_us)}")
    sp = np.array(syn_ph)
    for key in sorted(set(syn_ph)):
        print(f"  {key:24s} n={int((sp == key).sum()):5d}  {stats(syn_us[sp == key])}")


if __name__ == "__main__":
    main()
