"""The 3-D reference's metrics, computed by the same code as a single camera's.

Honest choice of "truth" (said in the README): tilts and leans are measured in the subject's own
frontal plane in the lab (Z up = gravity): each frame's triangulated landmarks are projected
orthographically onto the vertical plane spanned by the body's left-right axis (hips + shoulders,
horizontal part) and the vertical, as seen from the front, and ``assessment.angles.compute_angles``
runs on that projection (side-view metrics: the same from the side). This is what the clinical definition means (coronal-plane tilt relative to
gravity), so a single camera's error includes everything the camera adds: roll, perspective
(camera height x yaw), foreshortening of a turned body and MediaPipe's own error. Joint angles are
the 3-D included angles of the triangulated landmarks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assessment.angles import ANGLES, SIDE, compute_angles, included_angle
from vision.track import LANDMARK_INDEX

UP = np.array([0.0, 0.0, 1.0])


def body_axes(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame (N,3) unit horizontal left axis (subject's right -> left) and facing direction."""
    i = LANDMARK_INDEX
    lr = (X[:, i["left_hip"]] - X[:, i["right_hip"]]) + (X[:, i["left_shoulder"]] - X[:, i["right_shoulder"]])
    lr[:, 2] = 0.0
    with np.errstate(invalid="ignore"):
        left = lr / np.linalg.norm(lr, axis=1, keepdims=True)
    facing = np.cross(left, UP)
    return left, facing


def frontal_projection(X: np.ndarray) -> np.ndarray:
    """(N,33,2) 'pixels' of an orthographic, level, square-on front view of each frame (mm)."""
    left, _ = body_axes(X)
    x = np.einsum("nlk,nk->nl", X, left)
    y = -X[..., 2]
    return np.stack([x, y], axis=-1)


def sagittal_projection(X: np.ndarray) -> np.ndarray:
    """(N,33,2) 'pixels' of an orthographic, level side view seen from the subject's left (mm)."""
    _, facing = body_axes(X)
    return np.stack([-np.einsum("nlk,nk->nl", X, facing), -X[..., 2]], axis=-1)


def reference_metrics(X: np.ndarray) -> pd.DataFrame:
    """Every metric of the angle table for every frame of the 3-D reference (see module docstring).
    Side-view metrics (trunk flexion, CVA proxy, ...) come from a level side projection instead."""
    px = frontal_projection(X)
    vis = np.where(np.isfinite(px).all(axis=2), 1.0, 0.0)
    out = compute_angles(px, visibility=vis)
    side = compute_angles(sagittal_projection(X), visibility=vis)
    for d in ANGLES:
        if set(d.views) <= set(SIDE):
            out[d.id] = side[d.id]
        if d.kind == "joint":
            a, b, c = (X[:, LANDMARK_INDEX[n]] for n in d.landmarks)
            out[d.id] = included_angle(a, b, c)
    return out


def off_square_yaw(X: np.ndarray, camera_centre: np.ndarray) -> np.ndarray:
    """(N,) degrees between the body's facing (or back) direction and the direction to the camera,
    folded to 0..90 (0 = square front or back view)."""
    _, facing = body_axes(X)
    mid = 0.5 * (X[:, LANDMARK_INDEX["left_hip"]] + X[:, LANDMARK_INDEX["right_hip"]])
    to_cam = camera_centre[None, :] - mid
    to_cam[:, 2] = 0.0
    with np.errstate(invalid="ignore"):
        cosang = (facing * to_cam).sum(axis=1) / np.linalg.norm(to_cam, axis=1)
        yaw = np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0)))
    return np.minimum(yaw, 180.0 - yaw)


def signed_yaw(X: np.ndarray, camera_centre: np.ndarray) -> np.ndarray:
    """(N,) body yaw seen from the camera, deg (-180,180]: 0 = facing it, 180 = back to it."""
    left, facing = body_axes(X)
    mid = 0.5 * (X[:, LANDMARK_INDEX["left_hip"]] + X[:, LANDMARK_INDEX["right_hip"]])
    to_cam = camera_centre[None, :] - mid
    to_cam[:, 2] = 0.0
    return np.degrees(np.arctan2((left * to_cam).sum(axis=1), (facing * to_cam).sum(axis=1)))


def swapped_frames(track_px: np.ndarray, projected: np.ndarray) -> np.ndarray:
    """(N,) True where a camera's left/right labels are exchanged relative to the reference
    reprojected into that camera (shoulders and hips nearer their crossed twins)."""
    i = LANDMARK_INDEX
    pairs = (("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"))
    same = sum(np.linalg.norm(track_px[:, i[a]] - projected[:, i[a]], axis=1)
               + np.linalg.norm(track_px[:, i[b]] - projected[:, i[b]], axis=1) for a, b in pairs)
    crossed = sum(np.linalg.norm(track_px[:, i[a]] - projected[:, i[b]], axis=1)
                  + np.linalg.norm(track_px[:, i[b]] - projected[:, i[a]], axis=1) for a, b in pairs)
    return crossed < same
