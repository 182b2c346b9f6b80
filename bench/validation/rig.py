"""The Pose2Sim 4-camera rig: its Qualisys calibration, DLT triangulation and reprojection.

Why our own code: the harness is the project's independent reference, so every step from the
calibration file to the 3-D landmarks is explicit here and checked by its reprojection error.

Qualisys ``.qca.txt`` conventions (verified by reprojection, see ../shared/notes/capture-geometry.md):
per camera ``r11..r33`` rotates lab axes into the Qualisys camera's axes and ``x y z`` is the camera
centre in the lab (mm); the intrinsics are in sub-pixel units (divide by 64 for pixels). The camera
frame is flipped by pi about its x axis (Qualisys cameras look along -z with y up; the pinhole model
looks along +z with y down), and the translation is -R * centre. Read this way the reference
reprojects with a median of 15 px; the other readings tried (transposed rotation, no flip, x y z as a
translation) gave 109-1720 px. Lens distortion is negligible here (0.01 px) and is ignored.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SUBPIXEL = 64.0
FLIP_X = np.diag([1.0, -1.0, -1.0])   # rotation by pi about the camera's x axis


@dataclass(frozen=True)
class Camera:
    name: str
    K: np.ndarray          # (3,3) intrinsics, pixels
    R: np.ndarray          # (3,3) lab -> camera rotation
    t: np.ndarray          # (3,) lab -> camera translation, mm
    size: tuple[int, int]  # (width, height) pixels

    @property
    def P(self) -> np.ndarray:
        """(3,4) projection matrix lab (mm) -> homogeneous pixels."""
        return self.K @ np.hstack([self.R, self.t[:, None]])

    @property
    def centre(self) -> np.ndarray:
        """Camera centre in the lab frame (mm)."""
        return -self.R.T @ self.t

    def project(self, X: np.ndarray) -> np.ndarray:
        """(...,3) lab points (mm) -> (...,2) pixels (NaN stays NaN)."""
        Xc = X @ self.R.T + self.t
        uv = Xc @ self.K.T
        return uv[..., :2] / uv[..., 2:3]

    def pitch_down_deg(self) -> float:
        """Angle of the optical axis below the horizontal (lab z is up)."""
        axis = self.R.T @ np.array([0.0, 0.0, 1.0])
        return float(np.degrees(np.arcsin(-axis[2])))

    def roll_at(self, X: np.ndarray, height_mm: float = 100.0) -> float:
        """True roll (deg) of the image at lab point ``X``: the angle by which the projected lab vertical
        through X is rotated from the image's up direction, + = image rotated counter-clockwise."""
        a, b = self.project(np.asarray(X, float)), self.project(np.asarray(X, float) + [0.0, 0.0, height_mm])
        d = b - a                              # image direction of "up" at X
        return float(np.degrees(np.arctan2(-d[0], -d[1])))


def read_qca(path: str | Path) -> dict[str, Camera]:
    """Cameras of a Qualisys ``.qca.txt`` file, by serial (``cam01`` ...)."""
    root = ET.parse(str(path)).getroot()
    cams: dict[str, Camera] = {}
    for cam in root.iter("camera"):
        tr, intr, fov = cam.find("transform"), cam.find("intrinsic"), cam.find("fov_video")
        f = {k: float(v) for k, v in tr.attrib.items()}
        rot = np.array([[f[f"r{i}{j}"] for j in (1, 2, 3)] for i in (1, 2, 3)])   # lab -> camera (Qualisys axes)
        pos = np.array([f["x"], f["y"], f["z"]])
        i = {k: float(v) for k, v in intr.attrib.items()}
        K = np.array([[i["focalLengthU"] / SUBPIXEL, 0.0, i["centerPointU"] / SUBPIXEL],
                      [0.0, i["focalLengthV"] / SUBPIXEL, i["centerPointV"] / SUBPIXEL],
                      [0.0, 0.0, 1.0]])
        R = FLIP_X @ rot                       # lab -> camera, pinhole axes
        t = -R @ pos
        size = (int(fov.get("right")) - int(fov.get("left")) + 1, int(fov.get("bottom")) - int(fov.get("top")) + 1)
        cams[cam.get("serial")] = Camera(cam.get("serial"), K, R, t, size)
    return cams


def triangulate(points: np.ndarray, weights: np.ndarray, cameras: list[Camera], min_views: int = 2,
                min_weight: float = 0.3) -> np.ndarray:
    """Weighted DLT: points (C,N,L,2) pixels and weights (C,N,L) (visibility) of C cameras -> (N,L,3) mm.

    Each camera contributes the two rows x*P3-P1, y*P3-P2 scaled by its weight; a landmark seen by
    fewer than ``min_views`` cameras with weight >= ``min_weight`` is NaN.
    """
    C, N, L, _ = points.shape
    P = np.stack([c.P for c in cameras])                   # (C,3,4)
    w = np.where(np.isfinite(points).all(axis=-1) & (weights >= min_weight), weights, 0.0)
    x = np.nan_to_num(points)
    rows_x = x[..., 0, None] * P[:, None, None, 2] - P[:, None, None, 0]   # (C,N,L,4)
    rows_y = x[..., 1, None] * P[:, None, None, 2] - P[:, None, None, 1]
    # scale rows so each camera's equations are comparable (pixels ~ 1e3 times homogeneous units)
    A = np.concatenate([rows_x * w[..., None], rows_y * w[..., None]], axis=0)   # (2C,N,L,4)
    A = np.moveaxis(A, 0, 2)                                # (N,L,2C,4)
    _, _, vt = np.linalg.svd(A)
    X = vt[..., -1, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        X = X[..., :3] / X[..., 3:4]
    X[(w > 0).sum(axis=0) < min_views] = np.nan
    return X


def reprojection_errors(X: np.ndarray, points: np.ndarray, weights: np.ndarray, cameras: list[Camera],
                        min_weight: float = 0.3) -> np.ndarray:
    """Pixel distance between each camera's landmark and the reprojected 3-D point (NaN where unused)."""
    err = np.stack([np.linalg.norm(c.project(X) - points[k], axis=-1) for k, c in enumerate(cameras)])
    return np.where(weights >= min_weight, err, np.nan)
