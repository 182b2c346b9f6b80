"""The outcome of a PIR / MET cycle: the joint angle at each new barrier, and the range gained.

After contract -> relax -> stretch the person rests at the new first resistance barrier. The angle of
the joint there, measured at the end of each stretch phase (and once at the start of the first hold),
is what post-isometric relaxation promises to increase [LewitSimons84] [Chaitow-HN]. The hold monitor
(``assessment.hold``) calls ``measure_barrier`` on the frames of those windows, live and offline alike.

Angles (degrees, 0 = neutral, range = distance from neutral, so either side reads the same):

* ``head_side_bend``: the ear line against the shoulder line - head side-bending on the trunk, what
  the upper trapezius, levator scapulae and SCM stretches take up (front view).
* ``thigh_spread``: the angle between the two thighs (hip -> knee) - hip abduction of the adductor MET
  (front view, camera at the feet).

Error: each barrier's error is 1.96 x the robust SD of the per-frame angle over its window (the
jitter a single frame shows; the median of the window is steadier, so this is conservative). A gain
over the set is "beyond noise" only when it exceeds the error of a difference, 1.96 x sqrt(sd1^2 +
sd2^2). Between sessions the camera is placed again, so a gain must also exceed the minimal detectable
change of a 2-D posture-app angle, 5 deg [Gallego20] - the MDC used for what it measures: change.
Not included: MediaPipe's systematic error, which changes with head pose (⚠; the ear landmarks of a
turned head are the model's weakest, see README "Known limits").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from assessment.stillness import VISIBILITY_MIN, robust_sd
from assessment.thresholds import POSTURE_ANGLE_MDC_DEG
from vision.track import LANDMARK_INDEX

Z95 = 1.96
MIN_FRAMES = 3

_L = LANDMARK_INDEX


def _line_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = b - a
    return np.degrees(np.arctan2(d[..., 1], d[..., 0]))


def _wrap(deg: np.ndarray) -> np.ndarray:
    return (deg + 180.0) % 360.0 - 180.0


def head_side_bend(px: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(N,) ear line minus shoulder line, degrees; NaN where an ear or shoulder is not visible."""
    ok = visible[:, [_L["left_ear"], _L["right_ear"], _L["left_shoulder"], _L["right_shoulder"]]].all(axis=1)
    ears = _line_angle(px[:, _L["right_ear"]], px[:, _L["left_ear"]])
    shoulders = _line_angle(px[:, _L["right_shoulder"]], px[:, _L["left_shoulder"]])
    return np.where(ok, _wrap(ears - shoulders), np.nan)


def thigh_spread(px: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(N,) angle between the two thighs (hip -> knee), degrees; NaN where a hip or knee is hidden."""
    ok = visible[:, [_L["left_hip"], _L["right_hip"], _L["left_knee"], _L["right_knee"]]].all(axis=1)
    left = _line_angle(px[:, _L["left_hip"]], px[:, _L["left_knee"]])
    right = _line_angle(px[:, _L["right_hip"]], px[:, _L["right_knee"]])
    return np.where(ok, np.abs(_wrap(left - right)), np.nan)


BARRIER_ANGLES: dict[str, tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
    "head_side_bend": ("head side-bend (ear line vs shoulder line)", head_side_bend),
    "thigh_spread": ("thigh spread (angle between the thighs)", thigh_spread),
}


@dataclass(frozen=True)
class Barrier:
    """One barrier: median angle over a window and its error (both degrees)."""

    angle_deg: float
    error_deg: float
    frames: int
    start_ms: float
    end_ms: float

    @property
    def range_deg(self) -> float:
        return abs(self.angle_deg)

    def to_dict(self) -> dict[str, Any]:
        return {"angle_deg": round(self.angle_deg, 2), "range_deg": round(self.range_deg, 2),
                "error_deg": round(self.error_deg, 2), "frames": self.frames,
                "window_s": [round(self.start_ms / 1000, 3), round(self.end_ms / 1000, 3)]}


def measure_barrier(angle_id: str, t_ms: np.ndarray, pixels: np.ndarray, visible: np.ndarray) -> Barrier | None:
    """Median barrier angle over the frames given, or None with fewer than MIN_FRAMES measurable."""
    values = BARRIER_ANGLES[angle_id][1](pixels, visible)
    ok = np.isfinite(values)
    if ok.sum() < MIN_FRAMES:
        return None
    v = values[ok]
    return Barrier(float(np.median(v)), Z95 * float(robust_sd(v)), int(ok.sum()), float(t_ms[0]), float(t_ms[-1]))


def pixels_and_visibility(image: np.ndarray, frame_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(N,33,2) pixels and (N,33) visibility mask of (N,33,5) normalized landmarks."""
    px = image[..., :2] * np.asarray(frame_size, dtype=np.float64)
    vis = np.isfinite(image[..., 0]) & (np.nan_to_num(image[..., 3]) >= VISIBILITY_MIN)
    return px, vis


def gain(first: Mapping[str, Any] | Barrier, last: Mapping[str, Any] | Barrier,
         min_change_deg: float = 0.0, min_change_source: str = "") -> dict[str, Any]:
    """Range gained from ``first`` to ``last`` barrier, its error, and whether it is beyond noise."""
    f = first.to_dict() if isinstance(first, Barrier) else first
    la = last.to_dict() if isinstance(last, Barrier) else last
    g = float(la["range_deg"]) - float(f["range_deg"])
    err = float(np.hypot(float(f["error_deg"]), float(la["error_deg"])))
    needed = max(err, min_change_deg)
    why = f"error of the difference {err:.1f} deg"
    if min_change_deg > err:
        why = f"{min_change_source} {min_change_deg:g} deg (larger than the error of the difference, {err:.1f} deg)"
    return {"from_deg": f["range_deg"], "to_deg": la["range_deg"], "gain_deg": round(g, 2),
            "error_deg": round(err, 2), "needed_deg": round(needed, 2), "beyond_noise": abs(g) > needed,
            "rule": f"beyond noise when |gain| > {why}"}


def gain_over_sessions(results: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """From the first barrier of the earliest hold result (dicts, oldest first) to the last barrier of
    the latest one; None when fewer than two results measured a barrier of the same angle."""
    measured = [r for r in results if (r.get("barrier") or {}).get("first")]
    if len(measured) < 2:
        return None
    first, last = measured[0]["barrier"], measured[-1]["barrier"]
    if first.get("angle") != last.get("angle"):
        return None
    out = gain(first["first"], last["last"], POSTURE_ANGLE_MDC_DEG,
               "the minimal detectable change of a 2-D posture angle [Gallego20]")
    out["sessions"] = len(measured)
    return out
