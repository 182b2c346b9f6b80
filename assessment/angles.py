"""One table of every angle isobalance measures, and one vectorised function that computes them all.

Why one table: views, gating, mirroring, reports and tests all iterate over ``ANGLES`` instead of
knowing angle names, so adding an angle is one row here (Sports2D style).

Conventions (all in pixel coordinates of the upright frame, x right, y down — never normalized units,
because frames are not square):

* Joint angles are the included angle at the middle landmark, in [0, 180] deg, computed as
  ``atan2(|cross|, dot)`` (no ``arccos`` precision loss near 0 or 180). 180 = straight limb.
* Segment tilts are in [-90, 90] relative to horizontal/vertical, computed with ``atan2`` against
  an absolute horizontal or vertical component, so they never wrap (89 never comes out as 271).
* "left"/"right" are the SUBJECT's sides. Line tilts are positive when the subject's LEFT end is
  higher, in front and back views alike (the sign uses landmark labels, not image left/right).
* Sagittal metrics (side view) use the subject's facing direction in the image (nose ahead of the
  ears, or toes ahead of heels), so "forward" means anatomically forward whichever way they face.
* A value is NaN where any landmark it needs is missing or below the visibility gate.

Mirroring a track (``LandmarkTrack.mirrored``) maps angle ``a`` to ``mirror_sign * a`` of angle
``mirror_of``; unpaired angles name themselves in ``mirror_of``.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass

import numpy as np

from assessment.findings import TrackInputError
from vision.track import LANDMARK_INDEX, N_LANDMARKS, LandmarkTrack, TrackFormatError

# Views (see assessment.views). "left_side" = the camera sees the subject's left side.
FRONT, BACK, LEFT_SIDE, RIGHT_SIDE, OBLIQUE, UNKNOWN = (
    "front", "back", "left_side", "right_side", "oblique", "unknown")
VIEWS = (FRONT, BACK, LEFT_SIDE, RIGHT_SIDE, OBLIQUE)
FRONTAL = (FRONT, BACK)
SIDE = (LEFT_SIDE, RIGHT_SIDE)

DEFAULT_MIN_VISIBILITY = 0.5  # MediaPipe's own default confidence threshold [MPdoc]


@dataclass(frozen=True)
class AngleDef:
    id: str
    label: str
    kind: str                       # "joint" | "segment"
    landmarks: tuple[str, ...]      # landmark names used (for joints: end, vertex, end)
    views: tuple[str, ...]          # views in which the 2-D value means what the label says
    sign: str                       # sign convention in plain words
    unit: str = "deg"
    side: str | None = None         # "left" | "right" | None
    mirror_of: str = ""             # id of the left/right twin (itself when unpaired)
    mirror_sign: int = 1            # +1, or -1 for tilts that flip under mirroring
    formula: str = "joint"          # how compute_angles evaluates it (see _FORMULAS)
    needs_facing: bool = False      # sagittal metric: also needs nose/ears or toes/heels for facing


def _joint(side: str, joint: str, a: str, b: str, c: str, label: str) -> AngleDef:
    other = "right" if side == "left" else "left"
    return AngleDef(
        id=f"{side}_{joint}_angle", label=f"{side.capitalize()} {label}", kind="joint",
        landmarks=(f"{side}_{a}", f"{side}_{b}", f"{side}_{c}"), views=VIEWS,
        sign="included angle at the joint, 0-180 deg; 180 = straight",
        side=side, mirror_of=f"{other}_{joint}_angle", mirror_sign=1, formula="joint")


def _sided(side: str, base: str, label: str, landmarks: tuple[str, ...], views_for: dict, sign: str,
           formula: str, unit: str = "deg") -> AngleDef:
    other = "right" if side == "left" else "left"
    return AngleDef(
        id=f"{base}_{side}", label=f"{label} ({side})", kind="segment",
        landmarks=tuple(f"{side}_{n}" for n in landmarks), views=views_for[side], sign=sign,
        unit=unit, side=side, mirror_of=f"{base}_{other}", mirror_sign=1, formula=formula,
        needs_facing=formula in ("cva", "head_offset", "hyperextension"))


def _build_table() -> tuple[AngleDef, ...]:
    rows: list[AngleDef] = []
    for side in ("left", "right"):
        rows += [
            _joint(side, "elbow", "shoulder", "elbow", "wrist", "elbow angle"),
            _joint(side, "shoulder", "hip", "shoulder", "elbow",
                   "shoulder elevation (flexion in side view, abduction in front view)"),
            _joint(side, "hip", "shoulder", "hip", "knee", "hip angle"),
            _joint(side, "knee", "hip", "knee", "ankle", "knee angle"),
            _joint(side, "ankle", "knee", "ankle", "foot_index", "ankle angle"),
        ]
    line_sign = "vs horizontal; positive = subject's left end higher (front and back views alike)"
    rows += [
        AngleDef("head_tilt", "Head tilt (ear line)", "segment", ("left_ear", "right_ear"), FRONTAL,
                 line_sign, mirror_of="head_tilt", mirror_sign=-1, formula="line_tilt"),
        AngleDef("shoulder_line_tilt", "Shoulder line tilt", "segment",
                 ("left_shoulder", "right_shoulder"), FRONTAL, line_sign,
                 mirror_of="shoulder_line_tilt", mirror_sign=-1, formula="line_tilt"),
        AngleDef("pelvis_line_tilt", "Pelvis line tilt (hip joints)", "segment",
                 ("left_hip", "right_hip"), FRONTAL, line_sign,
                 mirror_of="pelvis_line_tilt", mirror_sign=-1, formula="line_tilt"),
        AngleDef("trunk_lateral_lean", "Trunk lateral lean", "segment",
                 ("left_shoulder", "right_shoulder", "left_hip", "right_hip"), FRONTAL,
                 "mid-hip -> mid-shoulder vs vertical; positive = shoulders toward the subject's left",
                 mirror_of="trunk_lateral_lean", mirror_sign=-1, formula="lean"),
        AngleDef("body_axis_lean", "Whole-body axis lean", "segment",
                 ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_ankle", "right_ankle"),
                 FRONTAL,
                 "mid-ankle -> mid-shoulder vs vertical; positive = shoulders toward the subject's left",
                 mirror_of="body_axis_lean", mirror_sign=-1, formula="body_lean"),
        AngleDef("trunk_flexion", "Trunk forward lean", "segment",
                 ("left_shoulder", "right_shoulder", "left_hip", "right_hip"), SIDE,
                 "mid-hip -> mid-shoulder vs vertical; positive = leaning forward",
                 mirror_of="trunk_flexion", mirror_sign=1, formula="flexion", needs_facing=True),
    ]
    side_views = {"left": (LEFT_SIDE,), "right": (RIGHT_SIDE,)}
    front_views = {"left": FRONTAL, "right": FRONTAL}
    for side in ("left", "right"):
        rows += [
            _sided(side, "cva_proxy", "Craniovertebral angle proxy", ("shoulder", "ear"), side_views,
                   "shoulder joint -> ear vs horizontal, measured on the forward side; "
                   "90 = ear straight above the shoulder, smaller = head more forward", "cva"),
            _sided(side, "forward_head_offset", "Forward head offset", ("ear", "shoulder", "hip"),
                   side_views, "horizontal ear - shoulder offset in % of shoulder-hip length; "
                   "positive = ear ahead of the shoulder", "head_offset", unit="% trunk"),
            _sided(side, "knee_hyperextension", "Knee hyperextension", ("hip", "knee", "ankle"),
                   side_views, "deg past straight; positive = knee behind the hip-ankle line "
                   "(hyperextended), negative = flexed", "hyperextension"),
            _sided(side, "knee_fppa", "Knee frontal-plane projection angle", ("hip", "knee", "ankle"),
                   front_views, "180 - hip-knee-ankle angle in the image; positive = knee medial "
                   "(valgus), negative = lateral (varus)", "fppa"),
        ]
    return tuple(rows)


ANGLES: tuple[AngleDef, ...] = _build_table()
ANGLE_BY_ID: dict[str, AngleDef] = {a.id: a for a in ANGLES}
JOINT_ANGLE_IDS = tuple(a.id for a in ANGLES if a.kind == "joint")
SEGMENT_ANGLE_IDS = tuple(a.id for a in ANGLES if a.kind == "segment")


# ---------------------------------------------------------------------- input handling
def _as_pixels(data, visibility=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pixels (N,33,2), visibility (N,33), index (N,)) from a track, a track DataFrame or arrays."""
    pd = sys.modules.get("pandas")   # imported lazily: without pandas loaded nothing is a DataFrame
    if pd is not None and isinstance(data, pd.DataFrame):
        try:
            data = LandmarkTrack.from_dataframe(data)
        except TrackFormatError as exc:
            raise TrackInputError(str(exc)) from None
    if isinstance(data, LandmarkTrack):
        try:
            px = data.pixels()
        except TrackFormatError as exc:
            raise TrackInputError(f"cannot measure angles: {exc}") from None
        return px, data.visibility, data.frame_index
    arr = np.asarray(data, dtype=np.float64) if not isinstance(data, np.ndarray) else data.astype(np.float64)
    if arr.ndim != 3 or arr.shape[1] != N_LANDMARKS or arr.shape[2] < 2:
        raise TrackInputError(
            f"expected pixel landmarks shaped (frames, {N_LANDMARKS}, 2), got {arr.shape}")
    px = arr[..., :2]
    if visibility is None:
        vis = np.where(np.isfinite(px).all(axis=2), 1.0, 0.0)
    else:
        vis = np.nan_to_num(np.asarray(visibility, dtype=np.float64), nan=0.0)
        if vis.shape != px.shape[:2]:
            raise TrackInputError(f"visibility shaped {vis.shape}, expected {px.shape[:2]}")
    return px, vis, np.arange(len(px))


def gated_points(px: np.ndarray, vis: np.ndarray, min_visibility: float) -> np.ndarray:
    """Copy of ``px`` with NaN wherever the landmark is below the visibility gate."""
    out = px.astype(np.float64, copy=True)
    out[~(vis >= min_visibility)] = np.nan
    return out


def _p(pts: np.ndarray, name: str) -> np.ndarray:
    return pts[:, LANDMARK_INDEX[name]]


def _mid(pts: np.ndarray, a: str, b: str) -> np.ndarray:
    return 0.5 * (_p(pts, a) + _p(pts, b))


def _deg(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.degrees(np.arctan2(y, x))


def included_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at ``b`` of a-b-c in degrees, [0,180], for 2-D or 3-D points (…,2|3)."""
    u, v = a - b, c - b
    if u.shape[-1] == 2:
        cross = np.abs(u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0])
    else:
        cross = np.linalg.norm(np.cross(u, v), axis=-1)
    dot = (u * v).sum(axis=-1)
    out = _deg(cross, dot)
    degenerate = (np.linalg.norm(u, axis=-1) == 0) | (np.linalg.norm(v, axis=-1) == 0)
    return np.where(degenerate, np.nan, out)


def signed_bend(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Signed deviation from straight of the chain a->b->c in image coords, (-180,180] deg.

    Positive when the image cross product (b-a) x (c-b) is positive (y down: b bulges to +x for a
    downward-pointing chain)."""
    u, v = b - a, c - b
    cross = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    dot = (u * v).sum(axis=-1)
    return _deg(cross, dot)


def _fold(angle: np.ndarray) -> np.ndarray:
    """Map exactly -90 to +90 so tilts live in (-90, 90]."""
    return np.where(angle == -90.0, 90.0, angle)


def _fold180(angle: np.ndarray) -> np.ndarray:
    """Map exactly -180 to +180 so signed bends live in (-180, 180] whatever the sign flips before."""
    return np.where(angle == -180.0, 180.0, angle)


def _sign(x: np.ndarray, scale: np.ndarray | float = 0.0) -> np.ndarray:
    """Sign of x, NaN where |x| is within float noise of zero (1e-9 of ``scale``): an undefined
    direction must not become a coin flip that differs between a track and its mirror image."""
    with np.errstate(invalid="ignore"):
        s = np.sign(x)
        return np.where((s == 0) | ~(np.abs(x) > 1e-9 * scale), np.nan, s)


def _torso(pts: np.ndarray) -> np.ndarray:
    return np.linalg.norm(_mid(pts, "left_shoulder", "right_shoulder") - _mid(pts, "left_hip", "right_hip"), axis=1)


def body_left_direction(pts: np.ndarray) -> np.ndarray:
    """(N,) +1 when the subject's left is image +x (front view), -1 when image -x (back view)."""
    dx = np.nansum(np.stack([
        _p(pts, "left_shoulder")[:, 0] - _p(pts, "right_shoulder")[:, 0],
        _p(pts, "left_hip")[:, 0] - _p(pts, "right_hip")[:, 0]]), axis=0)
    return _sign(dx, _torso(pts))


def facing_direction(pts: np.ndarray) -> np.ndarray:
    """(N,) +1 when the subject faces image +x, -1 when image -x, NaN when unknown.

    Nose ahead of the ears is the primary cue; toes ahead of heels decides when the head is not seen.
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN rows are expected (nobody in frame)
        ears_x = np.nanmean(np.stack([_p(pts, "left_ear")[:, 0], _p(pts, "right_ear")[:, 0]]), axis=0)
        head = _p(pts, "nose")[:, 0] - ears_x
        toes = np.nanmean(np.stack([_p(pts, "left_foot_index")[:, 0], _p(pts, "right_foot_index")[:, 0]]), axis=0)
        heels = np.nanmean(np.stack([_p(pts, "left_heel")[:, 0], _p(pts, "right_heel")[:, 0]]), axis=0)
    feet = toes - heels
    scale = _torso(pts)
    head_dir = _sign(head, scale)
    return np.where(np.isfinite(head_dir), head_dir, _sign(feet, scale))


# ---------------------------------------------------------------------- formulas
def _f_joint(pts, d, ctx):
    a, b, c = (_p(pts, n) for n in d.landmarks)
    return included_angle(a, b, c)


def _f_line_tilt(pts, d, ctx):
    left, right = _p(pts, d.landmarks[0]), _p(pts, d.landmarks[1])
    rise = right[:, 1] - left[:, 1]          # y down: positive when the left end is higher
    run = np.abs(left[:, 0] - right[:, 0])
    out = _fold(_deg(rise, run))
    return np.where((rise == 0) & (run == 0), np.nan, out)


def _lean(top: np.ndarray, bottom: np.ndarray, direction: np.ndarray) -> np.ndarray:
    lateral = (top[:, 0] - bottom[:, 0]) * direction
    up = np.abs(bottom[:, 1] - top[:, 1])
    out = _fold(_deg(lateral, up))
    return np.where((lateral == 0) & (up == 0), np.nan, out)


def _f_lean(pts, d, ctx):
    return _lean(_mid(pts, "left_shoulder", "right_shoulder"), _mid(pts, "left_hip", "right_hip"),
                 ctx["left_dir"])


def _f_body_lean(pts, d, ctx):
    return _lean(_mid(pts, "left_shoulder", "right_shoulder"), _mid(pts, "left_ankle", "right_ankle"),
                 ctx["left_dir"])


def _f_flexion(pts, d, ctx):
    return _lean(_mid(pts, "left_shoulder", "right_shoulder"), _mid(pts, "left_hip", "right_hip"),
                 ctx["facing"])


def _f_cva(pts, d, ctx):
    shoulder, ear = _p(pts, d.landmarks[0]), _p(pts, d.landmarks[1])
    forward = (ear[:, 0] - shoulder[:, 0]) * ctx["facing"]
    up = shoulder[:, 1] - ear[:, 1]
    out = _deg(up, forward)
    return np.where((forward == 0) & (up == 0), np.nan, out)


def _f_head_offset(pts, d, ctx):
    ear, shoulder, hip = (_p(pts, n) for n in d.landmarks)
    trunk = np.linalg.norm(shoulder - hip, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = 100.0 * (ear[:, 0] - shoulder[:, 0]) * ctx["facing"] / trunk
    return np.where(trunk > 0, out, np.nan)


def _f_hyperextension(pts, d, ctx):
    hip, knee, ankle = (_p(pts, n) for n in d.landmarks)
    return _fold180(-ctx["facing"] * signed_bend(hip, knee, ankle))


def _f_fppa(pts, d, ctx):
    hip, knee, ankle = (_p(pts, n) for n in d.landmarks)
    medial = -ctx["left_dir"] if d.side == "left" else ctx["left_dir"]
    return _fold180(medial * signed_bend(hip, knee, ankle))


_FORMULAS = {
    "joint": _f_joint, "line_tilt": _f_line_tilt, "lean": _f_lean, "body_lean": _f_body_lean,
    "flexion": _f_flexion, "cva": _f_cva, "head_offset": _f_head_offset,
    "hyperextension": _f_hyperextension, "fppa": _f_fppa,
}


def compute_angles(data, *, visibility=None, min_visibility: float = DEFAULT_MIN_VISIBILITY,
                   ids: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Every angle in ``ANGLES`` for every frame: DataFrame (index = frame, one column per angle id).

    ``data`` is a ``LandmarkTrack`` (uses ``track.pixels()``), a track DataFrame, or an array of pixel
    coordinates shaped (N,33,2) with optional ``visibility`` (N,33). Values are NaN where a needed
    landmark is missing or below ``min_visibility``. No view gating here (see ``assessment.views``).
    """
    import pandas as pd   # here, not at import: the angle table is read by commands that never make a DataFrame

    px, vis, index = _as_pixels(data, visibility)
    defs = ANGLES if ids is None else tuple(_lookup(i) for i in ids)
    pts = gated_points(px, vis, min_visibility)
    ctx = {"left_dir": body_left_direction(pts), "facing": facing_direction(pts)}
    columns = {d.id: _FORMULAS[d.formula](pts, d, ctx) for d in defs}
    frame = pd.DataFrame(columns, index=pd.Index(index, name="frame"), dtype=np.float64)
    return frame.reindex(columns=[d.id for d in defs])


def compute_world_joint_angles(track: LandmarkTrack, *, min_visibility: float = DEFAULT_MIN_VISIBILITY
                               ) -> pd.DataFrame:
    """Joint angles from the 3-D world landmarks (metres): free of projection, but MediaPipe's depth
    is a model guess [Cerfoglio25], so the 2-D values stay primary."""
    import pandas as pd

    if not isinstance(track, LandmarkTrack):
        raise TrackInputError("3-D joint angles need a LandmarkTrack with world landmarks")
    pts = track.world.astype(np.float64, copy=True)
    pts[~(track.visibility >= min_visibility)] = np.nan
    cols = {}
    for d in ANGLES:
        if d.kind == "joint":
            a, b, c = (pts[:, LANDMARK_INDEX[n]] for n in d.landmarks)
            cols[d.id] = included_angle(a, b, c)
    return pd.DataFrame(cols, index=pd.Index(track.frame_index, name="frame"), dtype=np.float64)


def _lookup(angle_id: str) -> AngleDef:
    try:
        return ANGLE_BY_ID[angle_id]
    except KeyError:
        raise TrackInputError(f"unknown angle id {angle_id!r}") from None


def mirror_columns(angles: pd.DataFrame) -> pd.DataFrame:
    """What ``compute_angles`` of the mirrored track must equal: twins swapped, tilts negated."""
    import pandas as pd

    out = {}
    for d in ANGLES:
        if d.id in angles.columns and d.mirror_of in angles.columns:
            out[d.id] = d.mirror_sign * angles[d.mirror_of]
    return pd.DataFrame(out, index=angles.index)
