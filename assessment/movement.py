"""Repeated movements (squats, arm raises, lunges): segment reps, compare left and right per rep.

Why per rep: one rep can be uneven by chance; an asymmetry that holds in every rep is a pattern.
Each rep gives left and right range of motion (ROM) and the time of each side's extreme; the
symmetry index SI = (L - R) / (0.5 (L + R)) * 100 and the L - R ROM difference are summarised by
their median and spread across reps.

Angle source: by default the 3-D world joint angles, because a 2-D view of a turned body bends the
two sides differently (measured on tfjs_pose_squats.mp4, body turned ~28 deg: 2-D knee minima
85-95 deg left vs 105-111 deg right, 3-D minima 83-91 deg on both sides). ``angle_source="image"``
uses the 2-D angles (exact when the limbs move in the image plane, e.g. a true side view).
Whatever the source, reps, the driving joint and the left/right timing follow the 2-D angles, which a
mirrored camera mirrors (MediaPipe's 3-D depth is not mirror-equivariant), and left and right are
compared only over at least MIN_REPS_TO_FLAG reps.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from assessment.angles import ANGLE_BY_ID, DEFAULT_MIN_VISIBILITY, FRONT, OBLIQUE, compute_world_joint_angles
from assessment.findings import FLAGGED, NOT_MEASURABLE, WITHIN, Finding, TrackInputError
from assessment.fppa import FPPA_UNCERTAINTY_ALLOWANCE_DEG, MODEL_SIGMA_DEG, corrected_fppa
from assessment.thresholds import (MOVEMENT_FPPA, MOVEMENT_ROM_DIFF, MOVEMENT_TIMING_DIFF, ROM_MODEL_ERROR_DEG,
                                   SQUARE_VIEW_MAX_YAW_DEG)
from assessment.views import VIEW_WORDS, knee_travel_yaw, view_of_yaw
from vision.track import LandmarkTrack

if TYPE_CHECKING:
    from assessment.context import TrackContext

JOINTS = ("knee", "hip", "shoulder", "elbow")   # candidate driving joints (left/right pairs)
# Joints compared as findings for each driving joint: the limb group the movement tests. Other joints
# stay in ``per_rep`` (arms swinging during a squat are not what a squat tests).
TESTED_JOINTS = {"knee": ("knee", "hip"), "hip": ("hip", "knee"),
                 "shoulder": ("shoulder", "elbow"), "elbow": ("elbow", "shoulder")}
MIN_SIGNAL_RANGE = 20.0    # deg: less than this is not a repeated movement (well above jitter)
ENTER, LEAVE = 0.5, 0.2    # hysteresis on the normalized signal (0 = rest, 1 = deepest)
MIN_PEAK = 0.6             # a rep must reach 60% of the clip's deepest excursion
MIN_REP_S = 0.4            # shorter excursions are jitter or a stumble, not a rep
MIN_REPS_TO_FLAG = 3       # with n reps the min..max interval covers the median with 1 - 2^(1-n)


@dataclass
class Rep:
    number: int
    start: int            # first row
    stop: int             # one past the last row
    extreme_row: int      # deepest point of the driving signal
    first_frame: int
    last_frame: int
    extreme_frame: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class MovementResult:
    driving_signal: str                  # e.g. "knee" (mean of left and right knee angles)
    direction: str                       # "down" (angle decreases in a rep, squat) | "up" (arm raise)
    angle_source: str                    # "world" | "image"
    reps: list[Rep]
    per_rep: list[dict]                  # one row per rep and joint: ROM, extreme times, SI
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)
    signal_range: float = float("nan")

    @property
    def n_reps(self) -> int:
        return len(self.reps)

    def finding(self, metric: str) -> Finding:
        for f in self.findings:
            if f.metric == metric:
                return f
        raise KeyError(metric)

    def to_dict(self) -> dict:
        return {"driving_signal": self.driving_signal, "direction": self.direction,
                "angle_source": self.angle_source, "reps": [r.to_dict() for r in self.reps],
                "per_rep": self.per_rep, "findings": [f.to_dict() for f in self.findings],
                "notes": list(self.notes), "signal_range": self.signal_range}


def joint_angles(ctx: "TrackContext", angle_source: str = "auto") -> tuple[pd.DataFrame, str]:
    """Left/right joint angles from the chosen source ("auto" = world when the track has it)."""
    if angle_source == "world" or (angle_source == "auto" and ctx.world_angles is not None):
        if ctx.world_angles is None:
            return compute_world_joint_angles(ctx.track, min_visibility=ctx.min_visibility), "world"
        return ctx.world_angles, "world"
    ids = [f"{s}_{j}_angle" for j in JOINTS for s in ("left", "right")]
    return ctx.angles[ids], "image"


def _robust_range(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    if len(x) < 3:
        return 0.0
    lo, hi = np.percentile(x, [2, 98])
    return float(hi - lo)


def pick_driving_signal(angles: pd.DataFrame) -> tuple[str, np.ndarray, float]:
    """The joint whose left/right mean angle has the largest range, legs first: when the knee or hip
    moves over MIN_SIGNAL_RANGE the movement is a leg movement (squat, lunge) and the larger of the
    two drives, because the arms move along with every leg exercise (the squat sample folds its
    arms over 119 deg of 2-D elbow range); otherwise the larger of shoulder and elbow (raises)."""
    best = ("", np.full(len(angles), np.nan), 0.0)
    for group in (JOINTS[:2], JOINTS[2:]):
        for j in group:
            pair = angles[[f"left_{j}_angle", f"right_{j}_angle"]].to_numpy()
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)        # frames without the joint
                sig = np.nanmean(pair, axis=1) if len(pair) else np.zeros(0)
            r = _robust_range(sig)
            if r > best[2]:
                best = (j, sig, r)
        if best[2] >= MIN_SIGNAL_RANGE:
            return best
    return best


def _fill_gaps(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    if ok.sum() < 2:
        return x
    idx = np.arange(len(x))
    return np.interp(idx, idx[ok], x[ok])


def segment_reps(signal: np.ndarray, t_s: np.ndarray) -> tuple[list[tuple[int, int, int]], str]:
    """Rep windows (start, stop, extreme row) of a 1-D angle signal, and its direction.

    The rest level is the side of the range where the signal spends most of its time (median
    above mid-range = rests high, reps go down, as in squats). Normalised excursion q in [0,1];
    a rep enters at q > ENTER, is extended outward while q > LEAVE, and must peak above MIN_PEAK
    and last MIN_REP_S.
    """
    x = _fill_gaps(np.asarray(signal, dtype=float))
    if not np.isfinite(x).any():
        return [], "down"
    lo, hi = np.nanpercentile(x, [2, 98])
    if hi - lo <= 0:
        return [], "down"
    direction = "down" if np.nanmedian(x) >= 0.5 * (lo + hi) else "up"
    q = (hi - x) / (hi - lo) if direction == "down" else (x - lo) / (hi - lo)
    q = np.where(np.isfinite(q), q, 0.0)
    reps = []
    n = len(q)
    i = 0
    while i < n:
        if q[i] > ENTER:
            a = i
            while a > 0 and q[a - 1] > LEAVE:
                a -= 1
            b = i
            while b < n and q[b] > ENTER:
                b += 1
            while b < n and q[b] > LEAVE:
                b += 1
            seg = q[a:b]
            peak = a + int(np.argmax(seg))
            step = float(np.median(np.diff(t_s))) if n > 1 else 0.0
            dur = float(t_s[b - 1] - t_s[a]) + step
            if q[peak] >= MIN_PEAK and dur >= MIN_REP_S:
                if reps and a < reps[-1][1]:          # touching excursions: merge into the previous rep
                    pa, pb, pp = reps[-1]
                    peak = pp if q[pp] >= q[peak] else peak
                    reps[-1] = (pa, b, peak)
                else:
                    reps.append((a, b, peak))
            i = b
        else:
            i += 1
    return reps, direction


def rom_spans(reps: list[Rep], n: int) -> list[tuple[int, int]]:
    """Rows over which each rep's range of motion is measured: from halfway after the previous rep
    to halfway before the next, so the rest posture on both sides of the excursion is included
    (the hysteresis window alone stops short of the rest level)."""
    spans = []
    for k, r in enumerate(reps):
        a = 0 if k == 0 else (reps[k - 1].stop + r.start) // 2
        b = n if k == len(reps) - 1 else (r.stop + reps[k + 1].start + 1) // 2
        spans.append((a, b))
    return spans


def _symmetry_index(left: float, right: float) -> float:
    mean = 0.5 * (left + right)
    return float((left - right) / mean * 100.0) if mean else float("nan")


def assess_movement(track: LandmarkTrack, ctx: "TrackContext | None" = None, *, angle_source: str = "auto",
                    min_visibility: float = DEFAULT_MIN_VISIBILITY) -> MovementResult:
    """Reps and left/right comparisons for a repeated movement. Never raises on empty or still
    tracks: those give no reps and a note. ``ctx``: the capture decisions made once by
    ``assessment.context.build_context`` (made here for this track when not given)."""
    from assessment.context import build_context

    if angle_source not in ("auto", "world", "image"):
        raise TrackInputError(f"unknown angle source {angle_source!r}: use auto, world or image")
    if ctx is None:
        ctx = build_context(track, min_visibility=min_visibility)
    track = ctx.track
    if len(track) == 0 or not track.detected.any():
        why = "the track is empty" if len(track) == 0 else "nobody was found in any frame"
        return MovementResult("", "down", "none", [], [], [], [f"no movement analysed: {why}"])
    angles, source = joint_angles(ctx, angle_source)
    # Reps, the driving joint and the timing come from the 2-D angles: they follow the image, which a
    # mirrored camera mirrors exactly, while the model's 3-D depth does not (world knee range 57 vs 83 deg
    # on a rig camera and its mirror image, measured). Ranges of motion use ``source``.
    # A squat straight at the camera bends the knees toward it, out of the image: when no 2-D joint
    # angle moves enough, the 3-D angles (when there are any) find the reps instead.
    image = joint_angles(ctx, "image")[0]
    joint, signal, rng = pick_driving_signal(image)
    if rng < MIN_SIGNAL_RANGE and source == "world":
        joint, signal, rng = pick_driving_signal(angles)
    t_s = track.timestamp_ms / 1000.0
    if rng < MIN_SIGNAL_RANGE:
        return MovementResult(joint, "down", source, [], [], [],
                              [f"no repeated movement: no joint angle ranges over more than "
                               f"{MIN_SIGNAL_RANGE:g} deg (largest: {joint or 'none'} {rng:.1f} deg)"], rng)
    windows, direction = segment_reps(signal, t_s)
    fi = track.frame_index
    reps = [Rep(k + 1, int(a), int(b), int(p), int(fi[a]), int(fi[b - 1]), int(fi[p]))
            for k, (a, b, p) in enumerate(windows)]
    per_rep = []
    spans = rom_spans(reps, len(track))
    for rep, (a, b) in zip(reps, spans):
        for j in JOINTS:
            left = angles[f"left_{j}_angle"].to_numpy()[a:b]
            right = angles[f"right_{j}_angle"].to_numpy()[a:b]
            if np.isfinite(left).sum() < 2 or np.isfinite(right).sum() < 2:
                continue
            rom_l = float(np.nanmax(left) - np.nanmin(left))
            rom_r = float(np.nanmax(right) - np.nanmin(right))
            pick = np.nanargmin if direction == "down" else np.nanargmax
            left2d = image[f"left_{j}_angle"].to_numpy()[a:b]
            right2d = image[f"right_{j}_angle"].to_numpy()[a:b]
            if np.isfinite(left2d).any() and np.isfinite(right2d).any():
                il, ir = a + int(pick(left2d)), a + int(pick(right2d))
            else:
                il, ir = a + int(pick(left)), a + int(pick(right))
            tl, tr = t_s[il], t_s[ir]
            per_rep.append({
                "rep": rep.number, "joint": j, "rom_left": rom_l, "rom_right": rom_r,
                "rom_difference": rom_l - rom_r, "symmetry_index": _symmetry_index(rom_l, rom_r),
                "extreme_left": float(np.nanmin(left) if direction == "down" else np.nanmax(left)),
                "extreme_right": float(np.nanmin(right) if direction == "down" else np.nanmax(right)),
                "extreme_time_left_s": float(tl), "extreme_time_right_s": float(tr),
                "timing_difference_s": float(tl - tr),
                "extreme_frame_left": int(fi[il]), "extreme_frame_right": int(fi[ir]),
            })
    notes = []
    if not reps:
        notes.append(f"{joint} angle moves over {rng:.0f} deg but no complete repetition was found")
    elif len(reps) < MIN_REPS_TO_FLAG:
        # one or two excursions can be uneven by chance, and the model's left/right disagreement is as
        # large as the differences they would show (rig: 20-30 deg of 3-D knee range, measured)
        notes.append(f"only {len(reps)} repetition(s) of the {joint}: left and right are not compared "
                     f"(needs {MIN_REPS_TO_FLAG}); the per-repetition values are kept")
    view, yaw = movement_view(ctx, reps, joint)
    findings = (_rom_findings(per_rep, reps, joint, source, ctx, view, yaw)
                + _fppa_findings(ctx, reps, joint, view, yaw) if len(reps) >= MIN_REPS_TO_FLAG else [])
    return MovementResult(joint, direction, source, reps, per_rep, findings, notes, rng)


def movement_view(ctx: "TrackContext", reps: list[Rep], driving: str) -> tuple[str, float | None]:
    """(view, yaw) of the whole movement. A leg movement's view comes from the knees' travel over the
    reps (``views.knee_travel_yaw``): a squat bends the knees forward in every frame, so a view read
    from single frames turns "oblique" at the bottom of each squat. Otherwise the frames' dominant view."""
    if driving in ("knee", "hip") and reps:
        deepest = np.array([r.extreme_row for r in reps])
        standing = np.concatenate([np.arange(a, b) for a, b in _rest_spans(reps, len(ctx.track))] or [[]]).astype(int)
        yaw = knee_travel_yaw(ctx.track, deepest, standing, ctx.yaw, ctx.min_visibility)
        if yaw is not None:
            return view_of_yaw(yaw), yaw
    summary = ctx.summary()
    return summary.dominant, summary.yaw_median


def _rom_findings(per_rep: list[dict], reps: list[Rep], driving: str, source: str,
                  ctx: "TrackContext", view: str, yaw: float | None) -> list[Finding]:
    out = []
    ts = ctx.track.timestamp_ms[ctx.track.detected] / 1000.0
    step = float(np.median(np.diff(ts))) if len(ts) > 1 else 0.0     # timing resolution: one frame
    allowance = ROM_MODEL_ERROR_DEG[source]
    gate = ""
    if source == "image" and view in ("front", "back") and (
            yaw is None or min(abs(yaw), 180 - abs(yaw)) > SQUARE_VIEW_MAX_YAW_DEG):
        turn = 0.0 if yaw is None else min(abs(yaw), 180 - abs(yaw))
        gate = (f"2-D left/right comparison needs a square-on view; the body is turned about {turn:.0f} deg, "
                "which projects the two sides differently (use the 3-D angles)")
    elif source == "image" and view not in ("front", "back", "left_side", "right_side"):
        gate = f"2-D left/right comparison needs a front, back or side view; this clip is {VIEW_WORDS.get(view, view)}"
    for j in TESTED_JOINTS.get(driving, ()):
        rows = [r for r in per_rep if r["joint"] == j]
        if not rows:
            continue
        rom = np.array([[r["rom_left"], r["rom_right"]] for r in rows])
        if j != driving and np.nanmedian(rom.max(axis=1)) < MIN_SIGNAL_RANGE:
            continue   # this joint barely moved: nothing to compare
        diff = np.array([r["rom_difference"] for r in rows])
        si = np.array([r["symmetry_index"] for r in rows])
        timing = np.array([r["timing_difference_s"] for r in rows])
        frames = sorted({r["extreme_frame_left"] for r in rows} | {r["extreme_frame_right"] for r in rows})
        n = len(rows)
        med = float(np.median(diff))
        ci = (float(diff.min()), float(diff.max()))
        level = 1.0 - 2.0 ** (1 - n) if n > 0 else 0.0
        unc = {"iqr": [float(v) for v in np.percentile(diff, [25, 75])], "ci95": list(ci),
               "ci_level": level, "ci_method": "min..max over reps (order statistic)",
               "n_frames": int(sum(r.stop - r.start for r in reps)), "n_reps": n, "systematic": allowance}
        thr = MOVEMENT_ROM_DIFF
        flag = (not gate and n >= MIN_REPS_TO_FLAG and thr.exceeds(med)
                and thr.ci_beyond(ci[0] - allowance, ci[1] + allowance))
        # the side with less range, named only when the difference is past the model's own error
        side = None if abs(med) <= allowance else ("left" if med < 0 else "right")
        less = "left" if med < 0 else "right"
        more = "right" if less == "left" else "left"
        words = (f"{less} {j} moves {abs(med):.1f} deg less than the {more} "
                 f"(median SI {np.median(si):+.1f}% over {n} reps)" if side else
                 f"left and right {j} ranges differ by {abs(med):.1f} deg, within the model's error allowance "
                 f"({allowance:g} deg): no side can be told")
        if thr.exceeds(med) and not flag:
            note = (f"median is past the threshold but the spread over reps widened by the model error "
                    f"allowance ({allowance:g} deg, {source} angles) is not, so not flagged")
        else:
            note = ""
        label = f"{j.capitalize()} range of motion, left vs right"
        status = NOT_MEASURABLE if gate else (FLAGGED if flag else WITHIN)
        out.append(Finding(
            metric=f"{j}_rom_difference", label=label, view=view, status=status,
            value=med, unit="deg", threshold=thr.value, threshold_source=thr.source_text, uncertainty=unc,
            frames=frames, side=side, direction="" if gate else words, reason=gate or note, kind="movement",
            details={"angle_source": source, "rom_left": rom[:, 0].tolist(), "rom_right": rom[:, 1].tolist(),
                     "symmetry_index": si.tolist(), "symmetry_index_median": float(np.median(si)),
                     "symmetry_index_iqr": [float(v) for v in np.percentile(si, [25, 75])]}))
        tmed = float(np.median(timing))
        early = None if abs(tmed) <= step else ("left" if tmed < 0 else "right")   # within a frame: together
        out.append(Finding(
            metric=f"{j}_timing_difference", label=f"{j.capitalize()} timing, left vs right", view=view,
            status=WITHIN, value=tmed, unit="s", threshold=None,
            threshold_source=MOVEMENT_TIMING_DIFF.source_text,
            uncertainty={"iqr": [float(v) for v in np.percentile(timing, [25, 75])],
                         "ci95": [float(timing.min()), float(timing.max())], "ci_level": level,
                         "n_frames": unc["n_frames"], "n_reps": n, "systematic": step},
            frames=frames, side=early,
            direction=("both sides reach their extreme within one frame of each other" if early is None else
                       f"{early} {j} reaches its extreme {abs(tmed):.2f} s earlier"),
            reason="reported only: no published cut-off", kind="movement",
            details={"timing_difference_s": timing.tolist()}))
    return out


def _fppa_findings(ctx: "TrackContext", reps: list[Rep], driving: str, view: str, yaw: float | None
                   ) -> list[Finding]:
    """Knee frontal-plane projection angle at the deepest point of each squat/lunge rep.

    View: decided from the whole movement (``views.knee_travel_yaw``: the knees' sideways travel),
    not from one frame's shoulder width; FPPA needs a front view. Square-on (turned at most
    SQUARE_VIEW_MAX_YAW_DEG) the clinical 2-D FPPA is measured. Turned further, with world landmarks, the
    FPPA is measured in the body's own frontal plane (``assessment.fppa``: 3-D landmarks turned square-on
    by the pelvis and feet, never by the knees) and reported only when its uncertainty (the turn's and the
    model's, measured on the rig) is within FPPA_UNCERTAINTY_ALLOWANCE_DEG."""
    if driving not in ("knee", "hip") or not reps:
        return []
    deepest = np.array([r.extreme_row for r in reps])
    frames = [int(ctx.track.frame_index[r]) for r in deepest]
    # a front view turned past square-on, and a front-facing oblique one: the correction's values and
    # uncertainty are evidence either way (an oblique view is still refused below). A squat turned ~30 deg
    # sits on the front/oblique boundary: the sample reads 29.1 / 29.8 deg (detector, plain / mirrored)
    # and 29.2 / 33.1 deg (tracker), so its bin flips with the model's noise while its evidence should not.
    turned = view in (FRONT, OBLIQUE) and yaw is not None and SQUARE_VIEW_MAX_YAW_DEG < abs(yaw) < 90.0
    corrected = (corrected_fppa(ctx.track, deepest, ctx.min_visibility)
                 if turned and ctx.world_angles is not None else None)
    out = []
    for k, side in enumerate(("left", "right")):
        metric = f"knee_fppa_{side}"
        d = ANGLE_BY_ID[metric]
        details: dict = {"yaw_deg": yaw}
        reason, sigma = "", None
        if corrected is None:
            vals = ctx.angles[metric].to_numpy()[deepest]
            details["method"] = "2-D image"
            if turned:
                reason = (f"needs a square-on front view (body turned at most {SQUARE_VIEW_MAX_YAW_DEG:g} deg) or "
                          f"3-D landmarks; the knees' sideways travel shows the body turned about {abs(yaw):.0f} deg, "
                          "which projects knee flexion sideways")
        else:
            vals, sig = corrected.value[:, k], corrected.sigma[:, k]
            ok = np.isfinite(vals) & np.isfinite(sig)
            vals = np.where(ok, vals, np.nan)
            details.update({
                "method": "3-D world landmarks turned square-on (pelvis + feet)",
                "frontal_yaw_deg": [float(v) for v in corrected.yaw], "yaw_sigma_deg": [float(v) for v in corrected.yaw_sigma],
                "pelvis_feet_deg": [float(v) for v in corrected.pelvis_feet_deg],
                "sensitivity_deg_per_deg": [float(v) for v in corrected.sensitivity[:, k]],
                "sigma_deg": [float(v) for v in sig], "sigma_turn_deg": [float(v) for v in corrected.sigma_turn[:, k]],
                "values_deg": [float(v) for v in vals]})
            if ok.any():
                sigma = float(np.median(sig[ok]))
                if sigma > FPPA_UNCERTAINTY_ALLOWANCE_DEG:
                    turn = float(np.nanmedian(np.abs(corrected.yaw)))
                    reason = (f"the body is turned about {turn:.0f} deg from the camera (pelvis and feet); turned back "
                              f"square-on, the {side} knee's FPPA is uncertain by +-{sigma:.0f} deg (1 sigma: "
                              f"+-{float(np.median(corrected.sigma_turn[ok, k])):.0f} from the turn, as at the deepest point "
                              f"each degree of error in it moves the FPPA by "
                              f"{float(np.median(np.abs(corrected.sensitivity[ok, k]))):.1f} deg and the turn is known to "
                              f"+-{float(np.median(corrected.yaw_sigma[ok])):.1f} deg; +-{MODEL_SIGMA_DEG:g} from the model's "
                              f"3-D knee, measured on the 4-camera rig), more than the "
                              f"{FPPA_UNCERTAINTY_ALLOWANCE_DEG:g} deg a 2-D FPPA allows (SEM 2-4 deg [Gwynne14])")
        if view != FRONT:
            reason = f"needs a front view at the deepest point; this clip is {VIEW_WORDS.get(view, view)}"
        if not reason and not np.isfinite(vals).any():
            reason = f"{side} hip, knee or ankle not visible at the deepest point"
        if reason:
            out.append(Finding(metric, d.label, view, NOT_MEASURABLE, None, "deg", MOVEMENT_FPPA.value,
                               MOVEMENT_FPPA.source_text, {}, [], side, "", reason, "movement", details=details))
            continue
        v = vals[np.isfinite(vals)]
        med = float(np.median(v))
        ci = (float(v.min()), float(v.max()))
        unc = {"iqr": [float(x) for x in np.percentile(v, [25, 75])], "ci95": list(ci),
               "ci_level": 1.0 - 2.0 ** (1 - len(v)), "n_frames": int(len(v)), "n_reps": int(len(v))}
        if sigma is not None:                  # corrected for the turn: its uncertainty (assessment.fppa)
            unc["systematic"] = sigma
        flag = len(v) >= MIN_REPS_TO_FLAG and MOVEMENT_FPPA.exceeds(med) and MOVEMENT_FPPA.ci_beyond(*ci)
        how = "medially (valgus)" if med > 0 else "laterally (varus)"
        out.append(Finding(metric, d.label, view, FLAGGED if flag else WITHIN, med, "deg",
                           MOVEMENT_FPPA.value, MOVEMENT_FPPA.source_text, unc, frames, side,
                           f"{side} knee projects {abs(med):.1f} deg {how} at the deepest point",
                           "" if MOVEMENT_FPPA.flags else f"reported only: {MOVEMENT_FPPA.published_for}",
                           "movement", details=details))
    return out


def _rest_spans(reps: list[Rep], n: int) -> list[tuple[int, int]]:
    """Rows outside every rep (the standing rest between reps)."""
    edges = [0] + [x for r in reps for x in (r.start, r.stop)] + [n]
    return [(a, b) for a, b in zip(edges[0::2], edges[1::2]) if b > a]
