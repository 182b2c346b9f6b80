"""Which way the camera sees the subject and whether the body is in frame (the camera's roll is
estimated in ``assessment.roll``; its report type lives here).

Why: a 2-D angle only means what its label says in the view it was defined for (a shoulder-line
tilt from the side is meaningless; a CVA proxy from the front does not exist). Every metric is
therefore gated here by the views it needs and by landmark visibility, and a gated metric says in
plain words why it cannot be measured.

View of a frame (subject's sides): ``front`` (camera faces the subject), ``back``, ``left_side``
(camera sees the subject's left side; the subject faces image-left), ``right_side``, ``oblique``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from assessment.angles import (BACK, DEFAULT_MIN_VISIBILITY, FRONT, LEFT_SIDE, OBLIQUE, RIGHT_SIDE, UNKNOWN,
                               AngleDef, facing_direction, gated_points)
from vision.track import LANDMARK_INDEX, LandmarkTrack

VIEW_WORDS = {FRONT: "front view", BACK: "back view", LEFT_SIDE: "left side view",
              RIGHT_SIDE: "right side view", OBLIQUE: "oblique view", UNKNOWN: "no usable view"}

# Yaw bins (deg; 0 = facing the camera, +90 = left side to the camera, 180 = back to the camera).
FRONTAL_MAX_YAW = 30.0        # within 30 deg of square-on, a frontal tilt keeps cos(30)=87% of its size
SIDE_MIN_YAW, SIDE_MAX_YAW = 60.0, 120.0
# 2-D fallback when world landmarks are missing: shoulder width / torso length when square-on.
# Measured 0.60-0.82 on the sample clips (front and back); 0.72 in the synthetic skeleton.
FRONTAL_WIDTH_RATIO = 0.7
SIDE_MAX_WIDTH_RATIO = 0.25   # cos(yaw) < ~0.35 => |yaw| > ~70 deg: a 2-D side view whatever the model's depth says

KEY_LANDMARKS = ("nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_knee",
                 "right_knee", "left_ankle", "right_ankle")
MIN_KNEE_REACH = 0.5          # knee_travel_yaw: thigh at least 30 deg forward at the bottom of the reps
FRAME_MARGIN = 0.01           # fraction of the frame; landmarks closer to the edge count as cut off


def _pretty(name: str) -> str:
    return name.replace("_", " ")


def body_yaw(track: LandmarkTrack, min_visibility: float = DEFAULT_MIN_VISIBILITY) -> np.ndarray:
    """(N,) body yaw in degrees, (-180, 180]: 0 = front, 180 = back, +90 = left side to the camera.

    From the world landmarks (shoulder and hip left->right vectors: their depth order gives the side
    turned to the camera); frames without world landmarks fall back to 2-D width and facing cues.
    """
    w = track.world
    i = LANDMARK_INDEX
    vis = track.visibility
    ok = (vis[:, [i["left_shoulder"], i["right_shoulder"], i["left_hip"], i["right_hip"]]]
          >= min_visibility).all(axis=1)
    lr = (w[:, i["left_shoulder"]] - w[:, i["right_shoulder"]]) + (w[:, i["left_hip"]] - w[:, i["right_hip"]])
    with np.errstate(invalid="ignore"):
        yaw3d = np.degrees(np.arctan2(-lr[:, 2], lr[:, 0]))
    yaw3d = np.where(ok & np.isfinite(yaw3d), yaw3d, np.nan)
    missing = ~np.isfinite(yaw3d)
    if missing.any() and track.meta.width and track.meta.height:
        yaw3d = np.where(missing, _yaw_2d(track, min_visibility), yaw3d)
    return yaw3d


def _yaw_2d(track: LandmarkTrack, min_visibility: float) -> np.ndarray:
    pts = gated_points(track.pixels(), track.visibility, min_visibility)
    i = LANDMARK_INDEX
    ms = 0.5 * (pts[:, i["left_shoulder"]] + pts[:, i["right_shoulder"]])
    mh = 0.5 * (pts[:, i["left_hip"]] + pts[:, i["right_hip"]])
    torso = np.linalg.norm(ms - mh, axis=1)
    dx = pts[:, i["left_shoulder"], 0] - pts[:, i["right_shoulder"], 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.abs(dx) / torso
        turned = np.degrees(np.arccos(np.clip(ratio / FRONTAL_WIDTH_RATIO, 0.0, 1.0)))  # 0..90
    facing = facing_direction(pts)          # -1 = faces image-left = left side to the camera
    side_sign = -facing
    frontal = np.where(dx >= 0, turned, 180.0 - turned)
    # the sign of the turn (which side comes toward the camera) follows the facing direction
    return np.where(np.isfinite(side_sign), side_sign * frontal, frontal)


def width_ratio(track: LandmarkTrack, min_visibility: float = DEFAULT_MIN_VISIBILITY) -> np.ndarray:
    """(N,) horizontal shoulder width / torso length in pixels (~0.7 square-on, ~0 from the side)."""
    pts = gated_points(track.pixels(), track.visibility, min_visibility)
    i = LANDMARK_INDEX
    ms = 0.5 * (pts[:, i["left_shoulder"]] + pts[:, i["right_shoulder"]])
    mh = 0.5 * (pts[:, i["left_hip"]] + pts[:, i["right_hip"]])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(pts[:, i["left_shoulder"], 0] - pts[:, i["right_shoulder"], 0]) / np.linalg.norm(ms - mh, axis=1)


def classify_views(track: LandmarkTrack, min_visibility: float = DEFAULT_MIN_VISIBILITY) -> np.ndarray:
    """(N,) view name per frame (``unknown`` where the torso is not seen)."""
    n = len(track)
    if n == 0:
        return np.array([], dtype=object)
    yaw = body_yaw(track, min_visibility)
    ratio = width_ratio(track, min_visibility)
    a = np.abs(yaw)
    views = np.full(n, OBLIQUE, dtype=object)
    views[a <= FRONTAL_MAX_YAW] = FRONT
    views[a >= 180.0 - FRONTAL_MAX_YAW] = BACK
    side = (a >= SIDE_MIN_YAW) & (a <= SIDE_MAX_YAW)
    views[side & (yaw > 0)] = LEFT_SIDE
    views[side & (yaw < 0)] = RIGHT_SIDE
    # the 2-D picture overrules the model's depth guess: a torso seen edge-on is not a frontal view
    edge_on = ratio < SIDE_MAX_WIDTH_RATIO
    views[edge_on & np.isin(views, [FRONT, BACK])] = OBLIQUE
    views[~np.isfinite(yaw)] = UNKNOWN
    return views


@dataclass
class ViewSummary:
    dominant: str                        # most common view among frames with a pose
    fractions: dict[str, float]          # view -> fraction of frames with a pose
    yaw_median: float | None             # deg, see body_yaw
    n_frames: int                        # frames with a known view
    per_frame: list[str] = field(default_factory=list)

    @property
    def words(self) -> str:
        return VIEW_WORDS.get(self.dominant, self.dominant)

    def to_dict(self) -> dict:
        return {"dominant": self.dominant, "fractions": self.fractions,
                "yaw_median": self.yaw_median, "n_frames": self.n_frames}


def sequence_views(track: LandmarkTrack, min_visibility: float = DEFAULT_MIN_VISIBILITY
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(yaw, view) per frame for the whole sequence (see classify_views)."""
    yaw = body_yaw(track, min_visibility) if len(track) else np.zeros(0)
    return yaw, classify_views(track, min_visibility)


def knee_travel_yaw(track: LandmarkTrack, flexed: np.ndarray, standing: np.ndarray, yaw: np.ndarray,
                    min_visibility: float = DEFAULT_MIN_VISIBILITY) -> float | None:
    """Body yaw (deg, sign as ``body_yaw``) of a squat or lunge from the whole movement, or None.

    Why: the model's depth guess and the shoulder width both depend on the person (and the width
    also on how far they lean); the knees' travel does not. Knees bend straight forward: seen
    square-on they travel toward the camera and stay above the hips in the image; with the body
    turned by yaw they also travel sideways by reach x sin(yaw), where reach = the thigh's forward
    reach at the bottom = sqrt(thigh^2 - drop^2) (standing thigh length, knee-below-hip drop at the
    bottom; a level camera keeps the drop in the image). So |sin(yaw)| = mid-knee's sideways
    offset from mid-hip / reach; a squat whose reach is under MIN_KNEE_REACH thighs gives no answer.
    Which side turns toward the camera, and front or back, come from the model's yaw (``yaw``, per
    frame, as ``body_yaw``).
    """
    if len(flexed) == 0 or len(standing) == 0:
        return None
    pts = gated_points(track.pixels(), track.visibility, min_visibility)
    i = LANDMARK_INDEX
    knee = 0.5 * (pts[:, i["left_knee"]] + pts[:, i["right_knee"]])
    hip = 0.5 * (pts[:, i["left_hip"]] + pts[:, i["right_hip"]])
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        thigh = float(np.nanmedian(np.linalg.norm(knee[standing] - hip[standing], axis=1)))
        offset = float(np.nanmedian(np.abs(knee[flexed, 0] - hip[flexed, 0])))
        drop = float(np.nanmedian(np.abs(knee[flexed, 1] - hip[flexed, 1])))
        model = float(np.nanmedian(yaw[flexed]))
    if not all(np.isfinite(v) for v in (thigh, offset, drop, model)) or thigh <= 0:
        return None
    forward = float(np.sqrt(max(thigh ** 2 - drop ** 2, 0.0)))      # the thigh's forward reach at the bottom
    if forward < MIN_KNEE_REACH * thigh:
        return None                                                  # too shallow to read a turn from
    turn = float(np.degrees(np.arcsin(min(1.0, offset / forward))))  # away from square front or back
    return float(np.sign(model) or 1.0) * (turn if abs(model) <= 90.0 else 180.0 - turn)


def view_of_yaw(yaw: float | None) -> str:
    """The view bin of one yaw (same bins as classify_views)."""
    if yaw is None or not np.isfinite(yaw):
        return UNKNOWN
    a = abs(yaw)
    if a <= FRONTAL_MAX_YAW:
        return FRONT
    if a >= 180.0 - FRONTAL_MAX_YAW:
        return BACK
    if SIDE_MIN_YAW <= a <= SIDE_MAX_YAW:
        return LEFT_SIDE if yaw > 0 else RIGHT_SIDE
    return OBLIQUE


def summarize(views: np.ndarray, yaw: np.ndarray, rows: np.ndarray | None = None) -> ViewSummary:
    """Dominant view and median yaw of per-frame ``views``/``yaw`` over ``rows`` (all by default)."""
    if rows is not None:
        views, yaw = views[rows], yaw[rows]
    known = views[views != UNKNOWN]
    if len(known) == 0:
        return ViewSummary(UNKNOWN, {}, None, 0, [str(v) for v in views])
    names, counts = np.unique(known.astype(str), return_counts=True)
    fractions = {str(k): float(c) / len(known) for k, c in zip(names, counts)}
    dominant = str(names[np.argmax(counts)])
    return ViewSummary(dominant, fractions, _median_yaw(yaw[views != UNKNOWN]), int(len(known)),
                       [str(v) for v in views])


def summarize_views(track: LandmarkTrack, rows: np.ndarray | None = None,
                    min_visibility: float = DEFAULT_MIN_VISIBILITY) -> ViewSummary:
    """Dominant view over the chosen rows (all rows by default)."""
    yaw, views = sequence_views(track, min_visibility)
    return summarize(views, yaw, rows)


def _median_yaw(yaw: np.ndarray) -> float | None:
    """Circular median-ish: median of angles unwrapped around their circular mean."""
    yaw = yaw[np.isfinite(yaw)]
    if len(yaw) == 0:
        return None
    mean = np.degrees(np.arctan2(np.sin(np.radians(yaw)).mean(), np.cos(np.radians(yaw)).mean()))
    centred = (yaw - mean + 180.0) % 360.0 - 180.0
    out = (mean + float(np.median(centred)) + 180.0) % 360.0 - 180.0
    return 180.0 if out == -180.0 else float(out)


# ---------------------------------------------------------------------- gating
def view_gate(angle: AngleDef, summary: ViewSummary) -> str:
    """'' when the metric may be measured in this view, otherwise the reason in plain words."""
    if summary.dominant == UNKNOWN:
        return "no frame shows the torso clearly enough to tell the camera view"
    if summary.dominant in angle.views:
        return ""
    needed = sorted({VIEW_WORDS[v] for v in angle.views})
    if set(angle.views) == {FRONT, BACK}:
        need = "a front or back view"
    elif set(angle.views) == {LEFT_SIDE, RIGHT_SIDE}:
        need = "a side view"
    elif len(needed) == 1:
        need = "a " + needed[0]
    else:
        need = " or ".join(needed)
    return f"needs {need}; this clip is {summary.words}"


def visibility_gate(angle: AngleDef, track: LandmarkTrack, rows: np.ndarray,
                    min_visibility: float = DEFAULT_MIN_VISIBILITY, min_fraction: float = 0.5) -> str:
    """'' when every landmark of the metric is visible in at least ``min_fraction`` of the rows."""
    if len(rows) == 0:
        return "no frames to measure"
    vis = track.visibility[rows]
    worst, worst_missing = "", 0.0
    for name in angle.landmarks:
        missing = float((vis[:, LANDMARK_INDEX[name]] < min_visibility).mean())
        if missing > worst_missing:
            worst, worst_missing = name, missing
    if worst_missing > 1.0 - min_fraction:
        return f"{_pretty(worst)} not visible in {worst_missing:.0%} of frames"
    return ""


@dataclass
class FramingReport:
    ok: bool                              # key landmarks inside the frame in most frames
    fraction_in_frame: float              # frames with every key landmark inside the margin
    cut_off: dict[str, float]             # landmark -> fraction of frames outside the frame
    message: str = ""

    def to_dict(self) -> dict:
        return {"ok": self.ok, "fraction_in_frame": self.fraction_in_frame, "cut_off": self.cut_off,
                "message": self.message}


def check_framing(track: LandmarkTrack, rows: np.ndarray | None = None, margin: float = FRAME_MARGIN,
                  landmarks: tuple[str, ...] = KEY_LANDMARKS, min_fraction: float = 0.5) -> FramingReport:
    """Whole body in frame: every key landmark inside [margin, 1-margin] of the normalized frame."""
    img = track.image if rows is None else track.image[rows]
    detected = np.isfinite(img[:, 0, 0])
    img = img[detected]
    if len(img) == 0:
        return FramingReport(False, 0.0, {}, "nobody was found in the frames")
    idx = [LANDMARK_INDEX[n] for n in landmarks]
    xy = img[:, idx, :2]
    inside = ((xy >= margin) & (xy <= 1.0 - margin)).all(axis=2)   # (n, k)
    cut = {n: float(1.0 - inside[:, j].mean()) for j, n in enumerate(landmarks) if inside[:, j].mean() < 1.0}
    frac = float(inside.all(axis=1).mean())
    ok = frac >= min_fraction
    msg = "" if ok else ("body not fully in frame: " + ", ".join(
        f"{_pretty(n)} outside in {f:.0%} of frames" for n, f in sorted(cut.items(), key=lambda kv: -kv[1])))
    return FramingReport(ok, frac, cut, msg)


# ---------------------------------------------------------------------- camera roll
@dataclass
class RollReport:
    suspected: bool                      # True = roll not known well enough: tilt metrics are gated
    angle_deg: float | None              # estimated roll, counter-clockwise on screen
    estimates: dict[str, float]          # per cue (see the estimator)
    message: str = ""
    uncertainty_deg: float | None = None  # 1 sigma of angle_deg
    corrected: bool = False              # tilts were measured on the levelled track (assessment.roll)
    source: str = ""                     # "scene+body" | "scene" | "body" | "assumed level" (assessment.roll)

    def to_dict(self) -> dict:
        return {"suspected": self.suspected, "angle_deg": self.angle_deg, "estimates": self.estimates,
                "message": self.message, "uncertainty_deg": self.uncertainty_deg, "corrected": self.corrected,
                "source": self.source}
