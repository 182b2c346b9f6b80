"""A small 3-D reference from the 4-camera Pose2Sim rig, enough to say which side is which in a camera.

Why: MediaPipe can exchange left and right in a front view (capture-geometry.md, lesson 5), so a
camera's own labels cannot be their ground truth. Here the subject's left and right come from OTHER
cameras of the rig: the two back views (cam03, cam04; no swaps were seen in back views), triangulated
with the rig's Qualisys calibration (``Calib.qca.txt``) and projected into the camera under test.
A frame of that camera has its labels exchanged when its left landmarks lie nearer the projected
RIGHT landmarks than the projected left ones.

The calibration is read and triangulated by the validation harness's own code (bench/validation/rig.py);
``REPROJ_MAX_PX`` guards against a wrong reading (done wrong it is 100-600 px).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.validation.rig import read_qca, triangulate
from vision.track import LANDMARK_INDEX, LandmarkTrack

CAM03_LAG = 2            # frames: cam03 appears about 2 frames late (capture-geometry.md)
REPROJ_MAX_PX = 40.0     # median reprojection error of a correct reading is ~11 px on these frames
PAIRED = ("shoulder", "hip", "knee", "ankle")
PARTS = {"upper": ("shoulder",), "legs": ("hip", "knee"), "feet": ("ankle",)}   # as assessment.swaps.PARTS


def swapped_frames(tracks: dict[str, LandmarkTrack], calib: Path, camera: str = "cam02",
                   margin_px: float = 20.0) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], float]:
    """Per body part (``PARTS``), per frame of ``camera``: (labels exchanged against the back views'
    reference, decision clear: the two labellings' summed distances to the reference differ by more
    than ``margin_px``); and the median reprojection error in ``camera`` of the reference's label-free
    midpoints (left+right)/2 — a check of the calibration reading that depends on nobody's labels."""
    cams = read_qca(calib)
    names = [f"{s}_{j}" for j in PAIRED for s in ("left", "right")]
    idx = [LANDMARK_INDEX[n] for n in names]

    def px(cam: str) -> np.ndarray:
        p = tracks[cam].pixels()[:, idx]
        if cam == "cam03":          # cam03 lags: its frame f + lag shows the instant of the others' frame f
            p = np.concatenate([p[CAM03_LAG:], np.full((CAM03_LAG,) + p.shape[1:], np.nan)])
        return p

    uv3, uv4, own = px("cam03"), px("cam04"), px(camera)
    views = np.stack([uv3, uv4])                                                  # (2, N, 2k, 2)
    X = triangulate(views, np.ones(views.shape[:3]), [cams["cam03"], cams["cam04"]])   # NaN unless both see it
    ref = cams[camera].project(X)                                                 # (N, 2k, 2): left, right
    mid = lambda p: 0.5 * (p[:, 0::2] + p[:, 1::2])                                 # noqa: E731
    held_out = float(np.nanmedian(np.linalg.norm(mid(ref) - mid(own), axis=2)))
    assert held_out < REPROJ_MAX_PX, f"calibration read wrongly: held-out error {held_out:.0f} px"
    out = {}
    for part, joints in PARTS.items():
        cols = [k for j in joints for k in (2 * PAIRED.index(j), 2 * PAIRED.index(j) + 1)]
        swap_cols = [c + 1 if c % 2 == 0 else c - 1 for c in cols]
        keep = np.linalg.norm(own[:, cols] - ref[:, cols], axis=2).sum(axis=1)
        swap = np.linalg.norm(own[:, swap_cols] - ref[:, cols], axis=2).sum(axis=1)
        known = np.isfinite(keep) & np.isfinite(swap)
        out[part] = (known & (swap < keep), known & (np.abs(swap - keep) > margin_px))
    return out, held_out
