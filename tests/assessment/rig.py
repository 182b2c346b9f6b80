"""A small 3-D reference from the 4-camera Pose2Sim rig, enough to say which side is which in a camera.

Why: MediaPipe can exchange left and right in a front view (capture-geometry.md, lesson 5), so a
camera's own labels cannot be their ground truth. Here the subject's left and right come from OTHER
cameras of the rig: the two back views (cam03, cam04; no swaps were seen in back views), triangulated
with the rig's Qualisys calibration (``Calib.qca.txt``) and projected into the camera under test.
A frame of that camera has its labels exchanged when its left landmarks lie nearer the projected
RIGHT landmarks than the projected left ones.

Calibration reading (qca): per camera a rotation r11..r33 and a position x y z (mm), intrinsics in
1/64 px. The world->camera rotation is the qca rotation with the camera frame flipped by pi about x (as
Pose2Sim reads it); ``REPROJ_MAX_PX`` guards against a wrong reading (done wrong it is 100-600 px).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from vision.track import LANDMARK_INDEX, LandmarkTrack

FLIP = np.diag([1.0, -1.0, -1.0])
CAM03_LAG = 2            # frames: cam03 appears about 2 frames late (capture-geometry.md)
REPROJ_MAX_PX = 40.0     # median reprojection error of a correct reading is ~11 px on these frames
PAIRED = ("shoulder", "hip", "knee", "ankle")
PARTS = {"upper": ("shoulder",), "legs": ("hip", "knee"), "feet": ("ankle",)}   # as assessment.swaps.PARTS


def read_qca(path: Path) -> dict[str, dict]:
    cams = {}
    for cam in ET.parse(path).getroot().iter("camera"):
        t, k = cam.find("transform").attrib, cam.find("intrinsic").attrib
        R = np.array([[float(t[f"r{i}{j}"]) for j in (1, 2, 3)] for i in (1, 2, 3)])
        C = np.array([float(t[a]) for a in "xyz"]) / 1000.0
        K = np.array([[float(k["focalLengthU"]) / 64, 0, float(k["centerPointU"]) / 64],
                      [0, float(k["focalLengthV"]) / 64, float(k["centerPointV"]) / 64], [0, 0, 1]])
        cams[cam.attrib["serial"]] = {"R": R, "C": C, "K": K}
    return cams


def projection(cam: dict) -> np.ndarray:
    """3x4 world->pixel matrix: the qca rotation maps world to camera axes after a flip by pi about x."""
    Rwc = FLIP @ cam["R"]
    return cam["K"] @ np.hstack([Rwc, (-Rwc @ cam["C"])[:, None]])


def triangulate(P: list[np.ndarray], uv: list[np.ndarray]) -> np.ndarray:
    """DLT, (N,2) pixels per camera -> (N,3); NaN where any view is missing."""
    n = len(uv[0])
    out = np.full((n, 3), np.nan)
    for f in range(n):
        if not all(np.isfinite(u[f]).all() for u in uv):
            continue
        A = np.concatenate([[u[f, 0] * p[2] - p[0], u[f, 1] * p[2] - p[1]] for p, u in zip(P, uv)])
        X = np.linalg.svd(A)[2][-1]
        out[f] = X[:3] / X[3]
    return out


def project(P: np.ndarray, X: np.ndarray) -> np.ndarray:
    h = np.hstack([X, np.ones((len(X), 1))]) @ P.T
    return h[:, :2] / h[:, 2:3]


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

    P = {c: projection(cams[c]) for c in ("cam03", "cam04", camera)}
    uv3, uv4, own = px("cam03"), px("cam04"), px(camera)
    X = np.stack([triangulate([P["cam03"], P["cam04"]], [uv3[:, k], uv4[:, k]]) for k in range(len(idx))], 1)
    ref = project(P[camera], X.reshape(-1, 3)).reshape(X.shape[:2] + (2,))       # (N, 2k, 2): left, right
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
