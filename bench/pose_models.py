"""The live path's model choice, measured: the 'lite' BlazePose bundle against the 'full' one.

Speed: per-frame inference (``PoseEstimator.process``, VIDEO mode, one pose) on the live page's frames
(640x480, the squat clip letterboxed as the browser tests' fake webcam), the two models interleaved frame
by frame in one run so machine load hits both alike. Agreement: both models on every frame of the real
clips in ``../shared/videos`` (the rig's four cameras included); per body joint the distance between the
two models' landmarks as a share of the torso length (shoulder centre to hip centre, full model), and
every angle of ``assessment.angles`` computed from each.

    .venv/bin/python bench/pose_models.py [--frames 150]

Needs the lite bundle: ``isobalance models build lite`` (offline, from the PyPI and npm registries).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "videos"
CLIPS = ("tfjs_pose_squats.mp4", "tfjs_pose_1.mp4", "pose2sim_static_cam02.mp4",
         *(f"pose2sim_balance/cam0{i}.mp4" for i in range(1, 5)))
BODY = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


def landmarks(model: Path, frames: list[np.ndarray], fps: float) -> np.ndarray:
    """(N, 33, 5) image landmarks of the first pose per frame (NaN where none), VIDEO mode."""
    from vision.landmarker import PoseEstimator

    out = np.full((len(frames), 33, 5), np.nan)
    with PoseEstimator(model, mode="video", num_poses=1) as est:
        for i, rgb in enumerate(frames):
            poses = est.process(rgb, i * 1000.0 / fps)
            if len(poses):
                out[i] = poses.image[0]
    return out


def agreement(full: np.ndarray, lite: np.ndarray, size: tuple[int, int], min_vis: float = 0.5) -> dict:
    """Joint distance lite-full in torso lengths (joints both see with visibility >= min_vis) and the
    absolute difference of every assessment angle both can compute."""
    from assessment.angles import compute_angles
    from vision.track import LANDMARK_INDEX

    w, h = size
    scale = np.array([w, h], float)
    idx = [LANDMARK_INDEX[n] for n in BODY]
    px_f, px_l = full[:, :, :2] * scale, lite[:, :, :2] * scale
    sh = px_f[:, [LANDMARK_INDEX["left_shoulder"], LANDMARK_INDEX["right_shoulder"]]].mean(axis=1)
    hip = px_f[:, [LANDMARK_INDEX["left_hip"], LANDMARK_INDEX["right_hip"]]].mean(axis=1)
    torso = np.linalg.norm(sh - hip, axis=1)
    seen = (full[:, idx, 3] >= min_vis) & (lite[:, idx, 3] >= min_vis)
    dist = np.linalg.norm(px_f[:, idx] - px_l[:, idx], axis=2) / torso[:, None]
    d = dist[seen]
    a_f = compute_angles(px_f, visibility=full[:, :, 3]).to_numpy()
    a_l = compute_angles(px_l, visibility=lite[:, :, 3]).to_numpy()
    diff = np.abs(a_f - a_l)
    diff = diff[np.isfinite(diff)]
    return {"frames": len(full), "both_found": int((np.isfinite(full[:, 0, 0]) & np.isfinite(lite[:, 0, 0])).sum()),
            "joint_p50": float(np.median(d)), "joint_p95": float(np.percentile(d, 95)),
            "angle_p50": float(np.median(diff)), "angle_p95": float(np.percentile(diff, 95)), "angles": len(diff)}


def speed(full: Path, lite: Path, frames: list[np.ndarray]) -> dict:
    from vision.landmarker import PoseEstimator

    times: dict[str, list[float]] = {"full": [], "lite": []}
    with PoseEstimator(full, num_poses=1) as ef, PoseEstimator(lite, num_poses=1) as el:
        ests = {"full": ef, "lite": el}
        for i, rgb in enumerate(frames):
            order = ("full", "lite") if i % 2 == 0 else ("lite", "full")
            for name in order:
                t0 = time.perf_counter()
                ests[name].process(rgb, i * 33.3)
                times[name].append((time.perf_counter() - t0) * 1000.0)
    warm = {k: v[10:] for k, v in times.items()}            # first frames: model warm-up and detector runs
    return {k: (float(np.median(v)), float(np.percentile(v, 95))) for k, v in warm.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150, help="live-size frames timed per model")
    args = ap.parse_args()

    from tests.dashboard.frames import letterbox
    from vision.models import resolve_model
    from vision.sources import open_source

    full, lite = resolve_model("full"), resolve_model("lite")
    load0 = os.getloadavg()[0]
    with open_source(str(SHARED / "tfjs_pose_squats.mp4")) as src:
        squat = [letterbox(f.rgb) for f in src]
    live = (squat + squat[::-1]) * (args.frames // (2 * len(squat)) + 1)
    s = speed(full, lite, live[:args.frames])
    print(f"inference per 640x480 frame, {args.frames} frames interleaved, {os.cpu_count()} cores, load average "
          f"{load0:.1f}-{os.getloadavg()[0]:.1f}:")
    for k, (p50, p95) in s.items():
        print(f"  {k}: median {p50:.1f} ms, p95 {p95:.1f} ms")
    print(f"  lite / full (median): {s['lite'][0] / s['full'][0]:.2f}")
    print("agreement lite vs full (joint distance in torso lengths; angle difference in degrees):")
    for clip in CLIPS:
        with open_source(str(SHARED / clip)) as src:
            info = src.info
            frames = [f.rgb.copy() for f in src]
        size = (frames[0].shape[1], frames[0].shape[0])
        a = agreement(landmarks(full, frames, info.fps), landmarks(lite, frames, info.fps), size)
        print(f"  {clip}: pose in {a['both_found']}/{a['frames']} frames by both; joints p50 {a['joint_p50']:.3f} "
              f"p95 {a['joint_p95']:.3f}; angles p50 {a['angle_p50']:.1f} p95 {a['angle_p95']:.1f} deg "
              f"(n={a['angles']})")


if __name__ == "__main__":
    main()
