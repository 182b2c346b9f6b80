"""Perspective-aware view gates: predict the fake tilt a camera adds to a level line, gate past it.

Why: after roll is removed, a camera above or below a level line, looking at a body turned by theta
from square-on, shows the line tilted by about atan(|dh| / D * tan(theta)) (dh = camera height minus
line height, D = horizontal distance; measured within 0.1-2.7 deg on the 4-camera rig,
../shared/notes/capture-geometry.md lesson 3). A fixed "within 30 deg of frontal" gate lets 5-11 deg
of fake pelvis tilt through from a camera at head height; this gate asks instead whether the
predicted fake tilt of each line stays within that metric's allowance.

Camera height relative to a line is read from the scene's vertical vanishing point when the camera is
pitched (the horizon is where points at camera height appear); otherwise a conservative default is used.
"""

from __future__ import annotations

import numpy as np

# Lines whose tilt perspective fakes, with the landmarks whose height sets dh.
LINE_LANDMARKS = {
    "head_tilt": ("left_ear", "right_ear"),
    "shoulder_line_tilt": ("left_shoulder", "right_shoulder"),
    "pelvis_line_tilt": ("left_hip", "right_hip"),
    "trunk_lateral_lean": ("left_hip", "right_hip"),
    "body_axis_lean": ("left_hip", "right_hip"),
}
# Allowed predicted fake tilt per metric (deg), derived by the validation harness
# (``python -m bench.validation``, bench/validation/run.py derive_allowances; README "Validation"): the
# predicted fake tilt at which the single-camera error on the 4-camera rig first reaches a median of the
# 5-deg flag threshold. None: even the least perspective errs past the threshold on the rig (the pelvis:
# MediaPipe's flat hip line, capture-geometry.md lesson 4), so perspective is not what limits it.
# Derived for both ways of running the model against the same reference (every-frame detector's tracks
# triangulated, undecided left/right frames left out): --num-poses 2 gives head 1.7, shoulders 2.9, trunk
# 2.5, body axis 1.8; the default tracker gives head none (least-perspective error 5.7), shoulders 4.3, trunk
# none (5.3), body axis 1.5. Each value is the stricter numeric one (a None would switch the gate off).
ALLOWANCE_DEG: dict[str, float | None] = {
    "head_tilt": 1.7, "shoulder_line_tilt": 2.9, "pelvis_line_tilt": None,
    "trunk_lateral_lean": 2.5, "body_axis_lean": 1.5,
}
PERSPECTIVE_REASON = "the body is turned"   # how every perspective-gate reason starts
# |dh| / D assumed when it cannot be estimated: a camera at head height (1.7 m) 3 m from a pelvis at
# 0.9 m gives 0.27; the rig's cameras give 0.07-0.37 (measured). 0.3 keeps the gate on the safe side.
DEFAULT_DH_OVER_D = 0.3
# Focal length assumed for a phone or webcam, in frame long sides (a 26-mm-equivalent lens: ~0.8;
# the rig's cameras: 0.875).
ASSUMED_FOCAL = 0.8


def fake_tilt_deg(off_square_deg: np.ndarray | float, dh_over_d: np.ndarray | float) -> np.ndarray:
    """Predicted apparent tilt (deg) of a level line: atan(|dh|/D * tan(theta)), theta from square-on."""
    theta = np.radians(np.minimum(np.abs(off_square_deg), 89.0))
    return np.degrees(np.arctan(np.abs(dh_over_d) * np.tan(theta)))


def line_height_over_distance(camera: np.ndarray, points: np.ndarray) -> np.ndarray:
    """|dh| / D of lab points (N,3) seen from a camera centre (3,) in the same units (Z up)."""
    d = camera[None, :] - points
    return np.abs(d[:, 2]) / np.hypot(d[:, 0], d[:, 1])


def dh_over_d_from_image(line_y: float, scene_vp: tuple[float, float, float] | None, size: tuple[int, int]
                         ) -> float | None:
    """|dh| / D of a line at image row ``line_y`` (pixels) from the scene's vertical vanishing point.

    With focal length f (ASSUMED_FOCAL long sides) and principal point at the frame centre, a camera
    pitched by p puts the vertical vanishing point f / tan(p) from the centre and the horizon f tan(p)
    on the other side; a point's angle below the horizon is p + atan((y - cy) / f), and |dh| / D is its
    tangent. None when the vanishing point is unknown or at infinity in a direction away from vertical.
    """
    if not scene_vp:
        return None
    w, h = size
    f = ASSUMED_FOCAL * max(w, h)
    vx, vy, vw = scene_vp
    if abs(vw) < 1e-12:
        return abs(np.tan(np.arctan((line_y - h / 2.0) / f)))
    dist = np.hypot(vx / vw - w / 2.0, vy / vw - h / 2.0)
    pitch = np.arctan2(f, dist) * (1.0 if vy / vw > h / 2.0 else -1.0)   # + = pitched down
    below = pitch + np.arctan((line_y - h / 2.0) / f)
    return float(abs(np.tan(below)))


def perspective_gate(metric: str, off_square_deg: float | None, dh_over_d: float | None,
                     allowance: float | None = None) -> str:
    """'' when the predicted fake tilt of ``metric`` is within its allowance (ALLOWANCE_DEG), else the reason."""
    allowance = ALLOWANCE_DEG.get(metric) if allowance is None else allowance
    if allowance is None or off_square_deg is None or not np.isfinite(off_square_deg):
        return ""
    ratio = DEFAULT_DH_OVER_D if dh_over_d is None else dh_over_d
    fake = float(fake_tilt_deg(off_square_deg, ratio))
    if fake <= allowance:
        return ""
    how = "assumed" if dh_over_d is None else "estimated"
    return (f"{PERSPECTIVE_REASON} {off_square_deg:.0f} deg from square-on; with the camera's height off this line "
            f"({how} |dh|/D = {ratio:.2f}) perspective alone would tilt it by about {fake:.1f} deg, more than "
            f"the {allowance:.1f} deg this metric allows")


def off_square(yaw_deg: float | None) -> float | None:
    """Degrees from a square front or back view (0..90) of a body yaw (views.body_yaw convention)."""
    if yaw_deg is None or not np.isfinite(yaw_deg):
        return None
    a = abs(float(yaw_deg)) % 360.0
    a = min(a, 360.0 - a)
    return min(a, 180.0 - a)


def track_perspective_gate(metric: str, px: np.ndarray, vis: np.ndarray, rows: np.ndarray, yaw_deg: float | None,
                           scene: dict, size: tuple[int, int], min_visibility: float = 0.5) -> str:
    """``perspective_gate`` for a track: the line's image height over ``rows`` and the scene's vanishing
    point give |dh| / D (``dh_over_d_from_image``); without a scene the conservative default is used."""
    from vision.track import LANDMARK_INDEX

    if metric not in LINE_LANDMARKS or len(rows) == 0:
        return ""
    a, b = (LANDMARK_INDEX[n] for n in LINE_LANDMARKS[metric])
    ok = (vis[rows][:, a] >= min_visibility) & (vis[rows][:, b] >= min_visibility)
    ys = 0.5 * (px[rows][ok, a, 1] + px[rows][ok, b, 1])
    line_y = float(np.median(ys)) if len(ys) else None
    ratio = dh_over_d_from_image(line_y, tuple(scene["vp"]), size) if (scene and line_y is not None) else None
    return perspective_gate(metric, off_square(yaw_deg), ratio)
