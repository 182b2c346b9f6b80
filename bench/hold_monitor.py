"""Per-frame cost of the hold monitor vs landmark inference, measured side by side in one run.

    .venv/bin/python bench/hold_monitor.py [--frames 65] [--repeat 20]

1. Runs the real pose model (VIDEO mode, the pipeline's PoseEstimator) on tfjs_pose_squats.mp4 and
   times inference per frame.
2. Feeds the resulting poses to a fresh HoldMonitor ``--repeat`` times (exercise with 4 landmarks and
   2 angles, the heaviest in the catalog) and times ``update`` per frame, also split by phase.
3. Also times the monitor on a 60-s synthetic 30-fps hold with jitter (hold + break + re-anchor paths).
Prints mean / median / p95 microseconds and the ratio monitor : inference.

A/B of the monitor against another revision, side by side in one run (this machine is shared and noisy):

    .venv/bin/python bench/hold_monitor.py --against 1be221e [--poses FILE.npz] [--rounds 5]

feeds the same poses (``--poses``: an .npz with ``image`` (N,33,5), ``t`` (N,) ms and ``size`` (w, h), e.g.
the inputs of the CLI's monitor on a clip; otherwise the poses inferred above) to this tree's monitor and to
a ``git archive`` of the revision's, in fresh processes that alternate, each timing ``--repeat`` full runs
(thread CPU time, exercise as above with the catalog's dose and default settings), and prints each
round's microseconds per frame and the ratio revision : this tree, and their medians.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
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


# one side of the A/B, run with the side's tree first on sys.path (so this file's own path setup stays out)
WORKER = """
import json, sys, time
sys.path.insert(0, {root!r})
import numpy as np
import assessment.hold as hold_module
from assessment.exercises import load_catalog
from assessment.hold import HoldMonitor, HoldProtocol
d = dict(np.load({poses!r}))
protocol = HoldProtocol.from_exercise(load_catalog().get({exercise!r}))
size = (int(d["size"][0]), int(d["size"][1]))
images, ts = d["image"], d["t"]
runs = []
for _ in range({repeat}):
    t0 = time.thread_time()
    mon = HoldMonitor(protocol, size)
    for i in range(len(ts)):
        mon.update_image(images[i], ts[i])
    mon.result()
    runs.append(time.thread_time() - t0)
print(json.dumps({{"us_per_frame": float(np.median(runs)) / len(ts) * 1e6, "module": hold_module.__file__}}))
"""


def against(rev: str, poses: str, rounds: int, repeat: int) -> None:
    """Alternating fresh processes: this tree's monitor and ``rev``'s (a ``git archive``) on the same poses."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / rev
        tree.mkdir()
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        n = len(np.load(poses)["t"])
        print(f"monitor A/B on {n} frames ({poses}), {repeat} runs a process (median), load "
              f"{open('/proc/loadavg').read().split()[:3]}")
        ratios = []
        for r in range(rounds):
            us = {}
            for name, root in (("this tree", ROOT), (rev, tree)) if r % 2 == 0 else ((rev, tree), ("this tree", ROOT)):
                code = WORKER.format(root=str(root), poses=poses, exercise=EXERCISE, repeat=repeat)
                out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                                     cwd=root, env={**os.environ, "PYTHONPATH": ""}).stdout
                res = json.loads(out.strip().splitlines()[-1])
                assert res["module"].startswith(str(root)), res     # each side runs its own tree's monitor
                us[name] = res["us_per_frame"]
            ratios.append(us[rev] / us["this tree"])
            print(f"  round {r + 1}: this tree {us['this tree']:7.1f} us/frame  {rev} {us[rev]:7.1f} us/frame  "
                  f"ratio {ratios[-1]:.2f}")
        print(f"median ratio {rev} : this tree = {np.median(ratios):.2f} (rounds {', '.join(f'{x:.2f}' for x in ratios)}), "
              f"load {open('/proc/loadavg').read().split()[:3]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=65)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--against", default="", help="git revision: A/B of the monitor against its tree")
    ap.add_argument("--poses", default="", help=".npz (image, t, size) for the A/B; default: the inferred poses")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if args.against and args.poses:
        against(args.against, args.poses, args.rounds, args.repeat)
        return
    protocol = HoldProtocol.from_exercise(load_catalog().get(EXERCISE))
    protocol = HoldProtocol(protocol.exercise_id, 10, 3, 0, 5, protocol.still_landmarks, protocol.still_angles)
    poses, inf_us, size = infer(locate("tfjs_pose_squats.mp4"), resolve_model("full"), args.frames)
    images = np.stack([p.image for p in poses])
    ts = np.array([p.timestamp_ms for p in poses])
    if args.against:
        with tempfile.TemporaryDirectory() as tmp:
            np.savez(Path(tmp) / "poses.npz", image=images, t=ts, size=np.array(size))
            against(args.against, str(Path(tmp) / "poses.npz"), args.rounds, args.repeat)
        return
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
