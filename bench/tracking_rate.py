"""How low a frame rate MediaPipe's tracker (``num_poses=1``) follows a moving body at, against the rig.

    .venv/bin/python -m bench.tracking_rate [--steps 1,2,4,6,8,12] [--offsets 3]

Why: the tracker crops each frame around the previous frame's landmarks; when the body moves far
between frames (a squat filmed at 5 fps) that crop is stale. An every-frame detector (a VIDEO-mode
two-person landmarker with one person in view runs its person detector on every frame) has no such
history. This bench runs both on the same frames, subsampled from the rig's 60-fps cameras (every
``step``-th frame, the real timestamps kept, several offsets so every part of the trial is used), and
scores each camera's landmarks against the 3-D reference triangulated from the OTHER three cameras
(full rate, every-frame detector; calibration read by bench/validation/rig.py) and projected into it.
Error: mean over shoulders, elbows, wrists, hips, knees, ankles of the pixel distance to the
reference, left/right label-free (each pair scored in its better labelling: swaps are a separate
check, tests/assessment/test_swaps.py), in reference torso lengths. Also prints the tracker's
disagreement with the detector on tfjs_pose_1 (30 fps, subsampled) and the squat clip (5 fps).
The raw model (no smoothing, no subject selection): this is about the model's crop, nothing else.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench.validation.rig import read_qca, triangulate
from bench.validation.run import CAMERAS, FRAME_SHIFT, RIG, _shifted
from vision.landmarker import PoseEstimator
from vision.sources import open_source
from vision.track import LANDMARK_INDEX

SHARED = RIG.parent
PAIRS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
LEFT = [LANDMARK_INDEX[f"left_{p}"] for p in PAIRS]
RIGHT = [LANDMARK_INDEX[f"right_{p}"] for p in PAIRS]


def decode(path: Path) -> tuple[list[np.ndarray], np.ndarray, tuple[int, int]]:
    with open_source(str(path)) as src:
        frames = list(src)
        size = (src.info.width, src.info.height)
    return [f.rgb for f in frames], np.array([f.timestamp_ms for f in frames]), size


def run(model: str, num_poses: int, rgb: list[np.ndarray], ts: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N,33,3) pixels x, y and visibility of the first pose (NaN where none) on the given frames."""
    out = np.full((len(rgb), 33, 3), np.nan)
    with PoseEstimator(model, mode="video", num_poses=num_poses) as est:
        for i, (frame, t) in enumerate(zip(rgb, ts)):
            p = est.process(frame, float(t))
            if len(p):
                out[i, :, 0] = p.image[0, :, 0] * size[0]
                out[i, :, 1] = p.image[0, :, 1] * size[1]
                out[i, :, 2] = p.image[0, :, 3] if p.image.shape[-1] > 3 else 1.0
    return out


def torso(px: np.ndarray) -> np.ndarray:
    i = LANDMARK_INDEX
    sh = 0.5 * (px[:, i["left_shoulder"], :2] + px[:, i["right_shoulder"], :2])
    hp = 0.5 * (px[:, i["left_hip"], :2] + px[:, i["right_hip"], :2])
    return np.linalg.norm(sh - hp, axis=1)


def label_free_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) mean distance of the paired landmarks of a to b, each pair in its better labelling."""
    keep = np.linalg.norm(a[:, LEFT, :2] - b[:, LEFT, :2], axis=2) + np.linalg.norm(a[:, RIGHT, :2] - b[:, RIGHT, :2], axis=2)
    swap = np.linalg.norm(a[:, LEFT, :2] - b[:, RIGHT, :2], axis=2) + np.linalg.norm(a[:, RIGHT, :2] - b[:, LEFT, :2], axis=2)
    return np.minimum(keep, swap).mean(axis=1) / 2


def subsampled(model: str, rgb, ts, size, step: int, offsets: int) -> dict[str, np.ndarray]:
    """Tracker and detector on every ``step``-th frame, for up to ``offsets`` starting frames, put back
    at their frame positions (one value per original frame and offset: (offsets, N, 33, 3))."""
    res = {"tracker": [], "detector": []}
    for off in range(min(step, offsets)):
        idx = np.arange(off, len(rgb), step)
        for name, n in (("tracker", 1), ("detector", 2)):
            full = np.full((len(rgb), 33, 3), np.nan)
            full[idx] = run(model, n, [rgb[i] for i in idx], ts[idx], size)
            res[name].append(full)
    return {k: np.stack(v) for k, v in res.items()}


def fmt(e: np.ndarray) -> str:
    e = e[np.isfinite(e)]
    return f"{np.median(e):.3f} / {np.percentile(e, 90):.3f} / {e.max():.3f} ({len(e)})" if len(e) else "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="1,2,4,6,8,12")
    ap.add_argument("--offsets", type=int, default=3)
    ap.add_argument("--model", default=str(SHARED.parent / "models" / "pose_landmarker_full.task"))
    a = ap.parse_args(argv)
    steps = [int(s) for s in a.steps.split(",")]

    cams = read_qca(RIG / "Calib.qca.txt")
    clips = {c: decode(RIG / f"{c}.mp4") for c in CAMERAS}
    full = {c: run(a.model, 2, *clips[c]) for c in CAMERAS}      # the reference's inputs (every-frame detector)
    print("rig, error against the other three cameras' triangulation, torso lengths: median / p90 / max (frames)")
    print("| fps | tracker | every-frame detector | tracker worse by (median of paired differences) |")
    print("|---|---|---|---|")
    refs = {}
    for c in CAMERAS:
        others = [o for o in CAMERAS if o != c]
        pts = np.stack([_shifted(full[o][..., :2], FRAME_SHIFT.get(o, 0), np.nan) for o in others])
        wts = np.stack([_shifted(full[o][..., 2], FRAME_SHIFT.get(o, 0), 0.0) for o in others])
        X = triangulate(pts, wts, [cams[o] for o in others])
        proj = cams[c].project(X)
        lag = FRAME_SHIFT.get(c, 0)      # the others' instant f is this camera's frame f + lag
        refs[c] = np.concatenate([np.full((lag,) + proj.shape[1:], np.nan), proj[:len(proj) - lag]])
    for step in steps:
        fps = 60.0 / step
        et, ed = [], []
        for c in CAMERAS:
            rgb, ts, size = clips[c]
            s = subsampled(a.model, rgb, ts, size, step, a.offsets)
            ref = refs[c]
            scale = torso(ref)
            for k in range(len(s["tracker"])):
                et.append(label_free_error(s["tracker"][k], ref) / scale)
                ed.append(label_free_error(s["detector"][k], ref) / scale)
        et, ed = np.concatenate(et), np.concatenate(ed)
        both = np.isfinite(et) & np.isfinite(ed)
        print(f"| {fps:.1f} | {fmt(et)} | {fmt(ed)} | {np.median(et[both] - ed[both]):+.3f} |", flush=True)

    print("\nsingle-camera clips, tracker vs every-frame detector disagreement, torso lengths: median / p90 / max")
    for name, native in (("tfjs_pose_1.mp4", 30.0), ("tfjs_pose_squats.mp4", 5.0)):
        rgb, ts, size = decode(SHARED / name)
        for step in ([1, 2, 3, 4, 6] if native == 30.0 else [1]):
            s = subsampled(a.model, rgb, ts, size, step, a.offsets)
            d = np.concatenate([label_free_error(t, q) / torso(q) for t, q in zip(s["tracker"], s["detector"])])
            print(f"{name} at {native / step:.1f} fps: {fmt(d)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
