"""Camera roll of a track: the scene's vertical lines combined with the body axis in quiet standing.

Why two cues: the body axis (mid-ankle -> mid-shoulder) recovers the roll within 0.2-2.1 deg in quiet
standing on the 4-camera rig, but it cannot tell a rolled camera from a leaning person; the scene's
verticals (``vision.scene_roll``, stored in the track's metadata) are independent of posture. Each cue
comes with a 1-sigma uncertainty; agreeing cues are averaged by inverse variance, disagreeing ones
leave the scene in charge (a body that leans against a plumb scene is a finding, not a camera).

Sign: + = image rotated counter-clockwise (as in ``vision.scene_roll``). ``level_track`` undoes it,
so every 2-D angle computed afterwards is relative to gravity at the subject.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from assessment.thresholds import ROLL_AGREEMENT_DEG, ROLL_MIN_DEG
from vision.track import LANDMARK_INDEX, LandmarkTrack

if TYPE_CHECKING:
    from assessment.context import RollInput
    from assessment.views import RollReport

# Body axis as a roll cue in quiet standing: measured within 0.2-2.1 deg of the calibrated roll on the
# rig's four static views (../shared/notes/capture-geometry.md, lesson 2); 2.0 deg is its 1-sigma.
BODY_AXIS_SIGMA_DEG = 2.0
# Roll known well enough to correct tilts: 1-sigma at most this. The body alone (2.0 deg) qualifies,
# so a level tripod in a bare room still gets its tilts; nothing at all (no quiet standing and no
# scene lines) does not.
ROLL_KNOWN_SIGMA_DEG = 2.5
AGREE_SIGMAS = 2.5         # cues further apart than this many combined sigmas disagree


@dataclass(frozen=True)
class CameraRoll:
    roll_deg: float | None              # + = image rotated counter-clockwise
    uncertainty_deg: float | None       # 1 sigma
    source: str                         # "scene+body" | "scene" | "body" | "none"
    scene: dict = field(default_factory=dict)
    body: dict = field(default_factory=dict)
    message: str = ""

    @property
    def known(self) -> bool:
        return (self.roll_deg is not None and self.uncertainty_deg is not None
                and self.uncertainty_deg <= ROLL_KNOWN_SIGMA_DEG)

    def to_dict(self) -> dict:
        return {"roll_deg": self.roll_deg, "uncertainty_deg": self.uncertainty_deg, "source": self.source,
                "known": self.known, "scene": self.scene, "body": self.body, "message": self.message}


def _up_angle(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """Roll (deg, + = CCW) that would make the image vector bottom->top point along the image's up."""
    d = top - bottom
    with np.errstate(invalid="ignore"):
        return np.degrees(np.arctan2(-d[..., 0], -d[..., 1]))


def _line_roll(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Roll (deg, + = CCW) that a level line through a and b would show: image-left -> image-right."""
    d = np.where((b[..., 0] >= a[..., 0])[..., None], b - a, a - b)
    with np.errstate(invalid="ignore"):
        return np.degrees(np.arctan2(-d[..., 1], d[..., 0]))


def body_cues(px: np.ndarray, vis: np.ndarray, rows: np.ndarray, min_visibility: float = 0.5) -> dict[str, float]:
    """Medians over ``rows`` of the roll each body line would imply if the body were level and upright:
    shoulder line, pelvis line, body axis (NaN where not seen)."""
    i = LANDMARK_INDEX
    out = {}
    p = px[rows].copy()
    p[vis[rows] < min_visibility] = np.nan
    for name, val in (
            ("shoulder_line", _line_roll(p[:, i["left_shoulder"]], p[:, i["right_shoulder"]])),
            ("pelvis_line", _line_roll(p[:, i["left_hip"]], p[:, i["right_hip"]])),
            ("body_axis", _up_angle(0.5 * (p[:, i["left_shoulder"]] + p[:, i["right_shoulder"]]),
                                    0.5 * (p[:, i["left_ankle"]] + p[:, i["right_ankle"]])))):
        val = val[np.isfinite(val)]
        out[name] = float(np.median(val)) if len(val) else float("nan")
    return out


def body_lines_agree(cues: dict[str, float], min_roll: float = ROLL_MIN_DEG, agreement: float = ROLL_AGREEMENT_DEG
                     ) -> bool:
    """Without the scene, suspect a rolled camera only when shoulder line, pelvis line and body axis all
    turn alike (a body rarely tilts all three by the same angle; see thresholds.ROLL_AGREEMENT_DEG)."""
    vals = np.array(list(cues.values()), dtype=float)
    if len(vals) < 3 or not np.isfinite(vals).all():
        return False
    common = float(np.median(vals))
    return abs(common) >= min_roll and float(vals.max() - vals.min()) <= agreement and bool(
        np.all(np.sign(vals) == np.sign(common)))


def body_axis_roll(px: np.ndarray, vis: np.ndarray, rows: np.ndarray, min_visibility: float = 0.5) -> dict:
    """Body-axis cue over quiet-standing ``rows``: {roll_deg, uncertainty_deg, n_frames} or {}."""
    if len(rows) == 0:
        return {}
    i = LANDMARK_INDEX
    names = ("left_shoulder", "right_shoulder", "left_ankle", "right_ankle")
    ok = (vis[rows][:, [i[n] for n in names]] >= min_visibility).all(axis=1)
    p = px[rows][ok]
    if len(p) == 0:
        return {}
    top = 0.5 * (p[:, i["left_shoulder"]] + p[:, i["right_shoulder"]])
    bottom = 0.5 * (p[:, i["left_ankle"]] + p[:, i["right_ankle"]])
    a = _up_angle(top, bottom)
    a = a[np.isfinite(a)]
    if len(a) == 0:
        return {}
    med = float(np.median(a))
    spread = 1.4826 * float(np.median(np.abs(a - med))) / np.sqrt(len(a))
    return {"roll_deg": med, "uncertainty_deg": float(np.hypot(BODY_AXIS_SIGMA_DEG, spread)),
            "n_frames": int(len(a)), "method": "mid-ankle -> mid-shoulder in quiet standing"}


def combine_roll(scene: dict, body: dict) -> CameraRoll:
    """One roll estimate with its uncertainty from the scene and body cues (either may be {})."""
    has_s = bool(scene) and scene.get("roll_deg") is not None
    has_b = bool(body) and body.get("roll_deg") is not None
    if not has_s and not has_b:
        return CameraRoll(None, None, "none", scene, body,
                          "camera roll unknown: no vertical lines found in the scene and no quiet standing "
                          "to read the body axis, so tilts cannot be referred to gravity")
    if has_s and not has_b:
        return CameraRoll(float(scene["roll_deg"]), float(scene["uncertainty_deg"]), "scene", scene, body,
                          _words(scene["roll_deg"], scene["uncertainty_deg"], "scene verticals"))
    if has_b and not has_s:
        return CameraRoll(float(body["roll_deg"]), float(body["uncertainty_deg"]), "body", scene, body,
                          _words(body["roll_deg"], body["uncertainty_deg"], "the body axis (no scene verticals found)"))
    s, ss = float(scene["roll_deg"]), float(scene["uncertainty_deg"])
    b, sb = float(body["roll_deg"]), float(body["uncertainty_deg"])
    if abs(s - b) > AGREE_SIGMAS * np.hypot(ss, sb):
        return CameraRoll(s, ss, "scene", scene, body,
                          _words(s, ss, "scene verticals") + f"; the body axis stands {b - s:+.1f} deg from "
                          "the scene's vertical (a real lean, not the camera)")
    w_s, w_b = 1.0 / ss ** 2, 1.0 / sb ** 2
    roll = (w_s * s + w_b * b) / (w_s + w_b)
    sigma = float(1.0 / np.sqrt(w_s + w_b))
    return CameraRoll(float(roll), sigma, "scene+body", scene, body, _words(roll, sigma, "scene verticals and body axis"))


def _words(roll: float, sigma: float, how: str) -> str:
    turn = "counter-clockwise" if roll > 0 else "clockwise"
    return f"camera rolled {abs(roll):.1f} deg {turn} (+/- {sigma:.1f} deg, from {how}); tilts are corrected to gravity"


def level_pixels(px: np.ndarray, roll_deg: float, centre: np.ndarray) -> np.ndarray:
    """Rotate pixel coordinates (...,2) about ``centre`` so that a roll of ``roll_deg`` is undone."""
    a = np.radians(roll_deg)
    c, s = np.cos(a), np.sin(a)
    d = px - centre
    # a CCW-on-screen roll maps (x, y) -> (x c + y s, -x s + y c) (y down); apply the inverse
    return np.stack([d[..., 0] * c - d[..., 1] * s, d[..., 0] * s + d[..., 1] * c], axis=-1) + centre


def level_track(track: LandmarkTrack, roll_deg: float) -> LandmarkTrack:
    """The track a level camera would have given (image x, y rotated about the frame centre; world
    landmarks untouched). Normalized coordinates may leave 0..1; framing uses the original track."""
    if not roll_deg:
        return track
    w, h = track.meta.width, track.meta.height
    px = level_pixels(track.pixels(), roll_deg, np.array([w / 2.0, h / 2.0]))
    image = track.image.copy()
    image[..., 0], image[..., 1] = px[..., 0] / w, px[..., 1] / h
    return LandmarkTrack(track.frame_index, track.timestamp_ms, image, track.world, track.n_people,
                         track.meta.replace(notes=track.meta.notes + (f"levelled by {roll_deg:+.2f} deg",)))


def estimate_track_roll(track: LandmarkTrack, still_rows: np.ndarray, min_visibility: float = 0.5) -> CameraRoll:
    """The track's roll: its metadata's scene estimate combined with the body axis over ``still_rows``."""
    body = body_axis_roll(track.pixels(), track.visibility, np.asarray(still_rows, dtype=np.int64), min_visibility) \
        if track.meta.width and track.meta.height and len(track) else {}
    return combine_roll(dict(track.meta.scene_roll or {}), body)


# Metrics measured against the image axes (a roll shifts them); joint angles and FPPA are not.
ROLL_SENSITIVE = frozenset({"line_tilt", "lean", "body_lean", "flexion", "cva", "head_offset"})


def scene_and_body_roll(inp: "RollInput") -> "RollReport":
    """The orchestrator's roll estimator (``assessment.context.RollEstimator``).

    Scene verticals known well enough (combined with the body axis when they agree) -> ``corrected``:
    the context measures every 2-D angle on the levelled track. Without a usable scene the body cannot
    tell a rolled camera from a leaning person, so nothing is corrected: when shoulder line, pelvis
    line and body axis all turn alike the roll is ``suspected`` and the tilt metrics are gated with the
    reason; otherwise the camera is taken as level, and the report says so."""
    from assessment.views import RollReport

    track, rows = inp.track, np.asarray(inp.still_rows, dtype=np.int64)
    est = estimate_track_roll(track, rows)
    cues = {k: float(v["roll_deg"]) for k, v in (("scene", est.scene), ("body_axis", est.body)) if v}
    if est.known and est.source != "body":
        return RollReport(False, est.roll_deg, cues, est.message, est.uncertainty_deg, True, est.source)
    body = body_cues(track.pixels(), track.visibility, rows) if len(rows) else {}
    cues.update({f"{k}_body": v for k, v in body.items() if np.isfinite(v)})
    why = "no vertical lines found in the scene" if not est.scene else (
        f"the scene's verticals are too uncertain (+/- {est.scene['uncertainty_deg']:.1f} deg)")
    if body_lines_agree(body):
        common = float(np.median(list(body.values())))
        turn = "counter-clockwise" if common > 0 else "clockwise"
        return RollReport(True, common, cues,
                          f"suspected camera roll of about {abs(common):.1f} deg ({turn}): shoulder line, pelvis line and "
                          f"body axis all turn alike and {why} to tell a rolled camera from a leaning body; tilt "
                          "metrics are not measurable. Level the camera and record again.", None, False, "body")
    axis = body.get("body_axis", float("nan"))
    note = f"; the body axis stands {axis:+.1f} deg from the image vertical" if np.isfinite(axis) else ""
    return RollReport(False, float(axis) if np.isfinite(axis) else None, cues,
                      f"camera assumed level ({why}){note}", None, False, "assumed level")


def roll_evidence(report: "RollReport") -> dict:
    """What a corrected tilt finding shows about the correction (added to its details)."""
    if not report.corrected:
        return {}
    return {"camera_roll_correction_deg": report.angle_deg, "camera_roll_uncertainty_deg": report.uncertainty_deg,
            "camera_roll_source": report.source}


# Live capture: a roll the scene measures above this is worth asking the patient to fix (smaller rolls
# are corrected in the assessment anyway; the scene's own 1-sigma is 0.5-1.6 deg on the rig).
LEVEL_TOLERANCE_DEG = 5.0


def level_advice(roll: CameraRoll, tolerance: float = LEVEL_TOLERANCE_DEG) -> tuple[bool | None, str]:
    """(ok, plain words) for the live level check: which way and how far to turn the camera.

    A picture rotated counter-clockwise (roll > 0) comes from a camera turned clockwise as seen from
    behind it: its top must go toward the image's left, which is the patient's right as they face it."""
    if roll.roll_deg is None:
        return False, "Camera level cannot be checked yet: shoulders, hips and ankles must be visible"
    size = abs(roll.roll_deg)
    if size <= tolerance:
        return True, f"camera level within {max(size, 0.5):.0f}° ({roll.source})"
    toward = "right" if roll.roll_deg > 0 else "left"
    return False, (f"The camera is tilted by about {size:.0f}°: turn it so its top moves toward your {toward} "
                   f"(as you face it) by about {size:.0f}°")
