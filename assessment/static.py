"""Static posture: find still standing windows, summarise each metric, flag only clear asymmetries.

Why this shape: a single frame can show any tilt (jitter, a passing movement), so a metric is
summarised over still frames by its median with an interquartile range and a confidence interval
of the median, and a flag needs BOTH the clinical threshold and the measurement's own uncertainty
(the whole CI past the threshold). Metrics the view, visibility, framing or a rolled camera do not
allow come back "not measurable" with the reason.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from assessment.angles import ANGLE_BY_ID, DEFAULT_MIN_VISIBILITY
from assessment.findings import FLAGGED, NOT_MEASURABLE, WITHIN, Finding
from assessment.gates import PERSPECTIVE_REASON
from assessment.roll import ROLL_SENSITIVE, roll_evidence
from assessment.thresholds import LANDMARK_ERROR_TORSO, STATIC_THRESHOLDS, Threshold
from assessment.views import FramingReport, RollReport, ViewSummary
from vision.track import LANDMARK_INDEX, LandmarkTrack

if TYPE_CHECKING:
    from assessment.context import TrackContext

# Landmarks whose speed decides stillness (arms may move in a still stance, e.g. a T-pose hold).
STILL_LANDMARKS = ("nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip",
                   "left_knee", "right_knee", "left_ankle", "right_ankle")
STILL_SPEED = 0.25        # torso lengths per second; see still_windows
MIN_STILL_S = 1.0         # shortest still window analysed (unless the whole clip is still and shorter)
SPEED_BASE_S = 0.1        # half-span of the central difference used for speed (smooths jitter)
MIN_FLAG_FRAMES = 3       # fewer frames never flag: no uncertainty can be estimated

# Metrics assessed in a static posture (segment metrics; joint angles are movement material).
STATIC_METRICS = tuple(STATIC_THRESHOLDS)


@dataclass
class StillWindow:
    start: int                # first row (position in the track)
    stop: int                 # one past the last row
    first_frame: int          # frame_index of the first row
    last_frame: int
    duration_s: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class MetricSummary:
    median: float
    iqr: tuple[float, float]
    ci95: tuple[float, float]
    ci_method: str
    n_frames: int
    n_effective: float
    key_frames: list[int]

    systematic: float = 0.0   # model error allowance in the metric's unit (see systematic_error)

    def uncertainty(self) -> dict:
        return {"iqr": list(self.iqr), "ci95": list(self.ci95), "n_frames": self.n_frames,
                "n_effective": round(self.n_effective, 1), "ci_method": self.ci_method,
                "systematic": self.systematic}


@dataclass
class StaticResult:
    views: ViewSummary
    framing: FramingReport
    camera_roll: RollReport
    windows: list[StillWindow]
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[Finding]:
        return [f for f in self.findings if f.flagged]

    def finding(self, metric: str) -> Finding:
        for f in self.findings:
            if f.metric == metric:
                return f
        raise KeyError(metric)

    def to_dict(self) -> dict:
        return {"views": self.views.to_dict(), "framing": self.framing.to_dict(),
                "camera_roll": self.camera_roll.to_dict(), "windows": [w.to_dict() for w in self.windows],
                "findings": [f.to_dict() for f in self.findings], "notes": list(self.notes)}


# ---------------------------------------------------------------------- still windows
def body_size(track: LandmarkTrack, min_visibility: float = DEFAULT_MIN_VISIBILITY) -> float:
    """Median torso length (mid-shoulder to mid-hip) in pixels: the unit for speeds."""
    px = track.pixels()
    vis = track.visibility
    i = LANDMARK_INDEX
    ok = (vis[:, [i["left_shoulder"], i["right_shoulder"], i["left_hip"], i["right_hip"]]] >= min_visibility).all(axis=1)
    ms = 0.5 * (px[:, i["left_shoulder"]] + px[:, i["right_shoulder"]])
    mh = 0.5 * (px[:, i["left_hip"]] + px[:, i["right_hip"]])
    lengths = np.linalg.norm(ms - mh, axis=1)[ok]
    lengths = lengths[np.isfinite(lengths) & (lengths > 0)]
    return float(np.median(lengths)) if len(lengths) else float("nan")


def landmark_speed(track: LandmarkTrack, min_visibility: float = DEFAULT_MIN_VISIBILITY) -> np.ndarray:
    """(N,) median speed of the still-landmarks in torso lengths per second (NaN where unknown).

    Central difference over about ±0.1 s between frames that have a pose (gaps are skipped, not
    read as jumps), using container timestamps (never an assumed fps), so the jitter of a single
    frame does not read as movement at high frame rates.
    """
    n = len(track)
    out = np.full(n, np.nan)
    rows = np.flatnonzero(track.detected)
    if len(rows) < 2:
        return out
    size = body_size(track, min_visibility)
    cols = [LANDMARK_INDEX[k] for k in STILL_LANDMARKS]
    px = track.pixels()[rows][:, cols]
    vis = track.visibility[rows][:, cols]
    px = np.where((vis >= min_visibility)[..., None], px, np.nan)
    t = track.timestamp_ms[rows] / 1000.0
    dt = float(np.median(np.diff(t)))
    h = max(1, int(round(SPEED_BASE_S / dt))) if dt > 0 else 1
    m = len(rows)
    lo = np.clip(np.arange(m) - h, 0, m - 1)
    hi = np.clip(np.arange(m) + h, 0, m - 1)
    span = t[hi] - t[lo]
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all landmarks hidden in a frame -> NaN
        disp = np.linalg.norm(px[hi] - px[lo], axis=2)
        speed = np.nanmedian(disp, axis=1) / span / size
    out[rows] = np.where(span > 0, speed, np.nan)
    return out


MAX_GAP_S = 0.5           # a longer run of frames without a pose ends a still window


def still_windows(track: LandmarkTrack, max_speed: float = STILL_SPEED, min_duration_s: float = MIN_STILL_S,
                  min_visibility: float = DEFAULT_MIN_VISIBILITY) -> tuple[list[StillWindow], list[str]]:
    """Runs of frames whose landmark speed stays below ``max_speed`` for at least ``min_duration_s``.

    Short gaps without a pose (< MAX_GAP_S) do not break a window. A still image (one frame) is
    one window. A clip shorter than ``min_duration_s`` that is still throughout is accepted as one
    window with a note, rather than thrown away.
    """
    n = len(track)
    notes: list[str] = []
    rows = np.flatnonzero(track.detected)
    if n == 0 or len(rows) == 0:
        return [], notes
    t_all = track.timestamp_ms / 1000.0
    if len(rows) == 1:
        r = int(rows[0])
        notes.append("single frame: treated as a still posture; its uncertainty cannot be estimated")
        return [StillWindow(r, r + 1, int(track.frame_index[r]), int(track.frame_index[r]), 0.0)], notes
    speed = landmark_speed(track, min_visibility)[rows]
    t = t_all[rows]
    still = speed < max_speed
    gap = np.concatenate([[False], np.diff(t) > MAX_GAP_S])
    windows = []
    for a, b in _runs(still):
        cuts = [a] + [k for k in range(a + 1, b) if gap[k]] + [b]
        for s0, s1 in zip(cuts[:-1], cuts[1:]):
            dur = _duration(t, s0, s1)
            if dur >= min_duration_s:
                start, stop = int(rows[s0]), int(rows[s1 - 1]) + 1
                windows.append(StillWindow(start, stop, int(track.frame_index[start]),
                                           int(track.frame_index[stop - 1]), dur))
    if not windows and still.all() and _duration(t, 0, len(t)) < min_duration_s:
        dur = _duration(t, 0, len(t))
        start, stop = int(rows[0]), int(rows[-1]) + 1
        windows.append(StillWindow(start, stop, int(track.frame_index[start]), int(track.frame_index[stop - 1]), dur))
        notes.append(f"the whole clip ({dur:.2f} s) is still but shorter than {min_duration_s:g} s; "
                     "analysed as one short window")
    return windows, notes


def _duration(t: np.ndarray, start: int, stop: int) -> float:
    """Duration covered by rows start..stop-1, counting one frame interval for the last frame."""
    if stop - start <= 0:
        return 0.0
    step = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    return float(t[stop - 1] - t[start]) + step


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(padded)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


# ---------------------------------------------------------------------- summaries
def _lag1_autocorrelation(segments: list[np.ndarray]) -> float:
    num, den = 0.0, 0.0
    for s in segments:
        s = s[np.isfinite(s)]
        if len(s) < 3:
            continue
        d = s - np.median(s)
        num += float((d[1:] * d[:-1]).sum())
        den += float((d * d).sum())
    if den <= 0:
        return 0.0
    return float(np.clip(num / den, 0.0, 0.95))


def _binom_ci_ranks(n: int, level: float = 0.95) -> tuple[int, int] | None:
    """1-based ranks (j, k) with P(x_(j) <= median <= x_(k)) >= level for n iid values, or None."""
    if n < 6:
        return None
    alpha = (1.0 - level) / 2.0
    cdf, j = 0.0, 0
    for r in range(n + 1):
        p = math.comb(n, r) / 2.0 ** n
        if cdf + p > alpha:
            j = r
            break
        cdf += p
    j = max(j, 1)
    return j, n + 1 - j


def summarize_metric(segments: list[np.ndarray], frames: list[np.ndarray]) -> MetricSummary | None:
    """Median, IQR and a 95% CI of the median over the still windows of one metric.

    The CI is the order-statistic (binomial) interval computed for the *effective* number of
    independent frames n_eff = n (1-r)/(1+r), r = lag-1 autocorrelation, because neighbouring video
    frames (and smoothed landmarks) are not independent. With n_eff < 6 no 95% order-statistic
    interval exists and the full range is reported instead (more conservative).
    """
    vals = np.concatenate(segments) if segments else np.zeros(0)
    idx = np.concatenate(frames) if frames else np.zeros(0, dtype=np.int64)
    keep = np.isfinite(vals)
    vals, idx = vals[keep], idx[keep]
    n = len(vals)
    if n == 0:
        return None
    med = float(np.median(vals))
    q1, q3 = (float(v) for v in np.percentile(vals, [25, 75]))
    r = _lag1_autocorrelation(segments)
    n_eff = max(1.0, n * (1.0 - r) / (1.0 + r))
    ranks = _binom_ci_ranks(int(math.floor(n_eff)))
    srt = np.sort(vals)
    if ranks is None:
        ci, method = (float(srt[0]), float(srt[-1])), "range (fewer than 6 independent frames)"
    else:
        j, k = ranks
        m = int(math.floor(n_eff))
        # map ranks on the n_eff scale to quantiles of all n values
        ci = (float(np.quantile(vals, (j - 1) / max(m - 1, 1))), float(np.quantile(vals, (k - 1) / max(m - 1, 1))))
        method = "order statistic, binomial, n_eff"
    order = np.argsort(np.abs(vals - med), kind="stable")[:3]
    return MetricSummary(med, (q1, q3), ci, method, n, n_eff, sorted(int(i) for i in idx[order]))


def _segment_length(px: np.ndarray, a: str, b: str) -> np.ndarray:
    return np.linalg.norm(px[:, LANDMARK_INDEX[a]] - px[:, LANDMARK_INDEX[b]], axis=1)


def systematic_error(metric: str, px: np.ndarray, torso: float) -> float:
    """Model-error allowance for a metric: a landmark error of LANDMARK_ERROR_TORSO torso lengths
    across the metric's shortest lever. Short levers (the ear line) get large allowances: a 5 px
    error tilts a 50 px ear line by ~6 deg but a 165 px shoulder line by ~2 deg (measured by
    mirror runs on pose2sim_static_cam02.mp4: 5.1 and 2.7 deg)."""
    d = ANGLE_BY_ID[metric]
    e = LANDMARK_ERROR_TORSO * torso
    if d.formula in ("lean", "flexion"):
        lever = torso
    elif d.formula == "body_lean":
        lever = 2.0 * torso
    elif d.formula == "head_offset":
        return 100.0 * LANDMARK_ERROR_TORSO
    elif d.formula in ("hyperextension", "fppa"):
        # a bend at the middle landmark: its error turns both segments, so both errors add
        lm = d.landmarks
        levers = [float(np.nanmedian(_segment_length(px, lm[k], lm[k + 1]))) for k in (0, 1)]
        if not all(np.isfinite(v) and v > 0 for v in levers) or not np.isfinite(e):
            return float("nan")
        return float(sum(np.degrees(np.arctan2(e, v)) for v in levers))
    else:
        lever = float(np.nanmedian(_segment_length(px, d.landmarks[0], d.landmarks[1])))
    if not (np.isfinite(lever) and lever > 0 and np.isfinite(e)):
        return float("nan")
    return float(np.degrees(np.arctan2(e, lever)))


# ---------------------------------------------------------------------- direction words
def describe(metric: str, value: float, unit: str) -> tuple[str | None, str]:
    """(side, plain words) for a metric value, in the subject's sides."""
    d = ANGLE_BY_ID.get(metric)
    v = abs(value)
    part = {"head_tilt": "ear", "shoulder_line_tilt": "shoulder", "pelvis_line_tilt": "hip"}
    if metric in part:
        if value == 0:
            return None, f"{part[metric]}s level"
        side = "left" if value > 0 else "right"
        return side, f"{side} {part[metric]} higher by {v:.1f} deg"
    if metric in ("trunk_lateral_lean", "body_axis_lean"):
        side = "left" if value > 0 else "right"
        what = "trunk" if metric == "trunk_lateral_lean" else "whole body"
        return side, f"{what} leans toward the {side} by {v:.1f} deg"
    if metric == "trunk_flexion":
        return None, f"trunk leans {'forward' if value >= 0 else 'backward'} by {v:.1f} deg"
    side = d.side if d else None
    if metric.startswith("cva_proxy"):
        return side, f"{side} ear-shoulder angle {value:.1f} deg above horizontal"
    if metric.startswith("forward_head_offset"):
        where = "ahead of" if value >= 0 else "behind"
        return side, f"{side} ear {v:.0f}% of trunk length {where} the shoulder"
    if metric.startswith("knee_hyperextension"):
        how = "past straight (hyperextended)" if value > 0 else "short of straight (flexed)"
        return side, f"{side} knee {v:.1f} deg {how}"
    if metric.startswith("knee_fppa"):
        how = "medially (valgus)" if value > 0 else "laterally (varus)"
        return side, f"{side} knee projects {v:.1f} deg {how}"
    return side, f"{value:.1f} {unit}"


# ---------------------------------------------------------------------- assessment
def _not_measurable(metric: str, view: str, reason: str, threshold: Threshold | None,
                    summary: MetricSummary | None = None) -> Finding:
    d = ANGLE_BY_ID[metric]
    return Finding(metric=metric, label=d.label, view=view, status=NOT_MEASURABLE,
                   value=None if summary is None else summary.median, unit=d.unit,
                   threshold=None if threshold is None else threshold.value,
                   threshold_source="" if threshold is None else threshold.source_text,
                   uncertainty={} if summary is None else summary.uncertainty(),
                   frames=[] if summary is None else summary.key_frames, side=d.side, direction="",
                   reason=reason, kind="static")


def assess_static(track: LandmarkTrack, ctx: "TrackContext | None" = None, *,
                  min_visibility: float = DEFAULT_MIN_VISIBILITY, max_speed: float = STILL_SPEED,
                  min_duration_s: float = MIN_STILL_S) -> StaticResult:
    """Static posture findings for one track (see module docstring). Never raises on empty or
    gappy tracks: those give "not measurable" findings with the reason.

    ``ctx`` carries the capture decisions (views, labels, still windows, roll, gates) made once by
    ``assessment.context.build_context``; without it they are made here for this track."""
    from assessment.context import build_context

    if ctx is None:
        ctx = build_context(track, min_visibility=min_visibility, max_speed=max_speed,
                            min_duration_s=min_duration_s)
    track, min_visibility = ctx.track, ctx.min_visibility
    notes = list(ctx.notes)
    windows, rows, views, framing = list(ctx.still), ctx.still_rows, ctx.view, ctx.framing
    if len(track) == 0 or not track.detected.any():
        reason = "the track is empty" if len(track) == 0 else "nobody was found in any frame"
        return StaticResult(views, framing, ctx.roll, [],
                            [_not_measurable(m, views.dominant, reason, STATIC_THRESHOLDS[m])
                             for m in STATIC_METRICS], notes + [reason])
    if not windows:
        reason = (f"no still standing window of at least {min_duration_s:g} s was found "
                  f"(landmarks moved faster than {max_speed:g} torso lengths per second)")
        return StaticResult(views, framing, ctx.roll, [],
                            [_not_measurable(m, views.dominant, reason, STATIC_THRESHOLDS[m]) for m in STATIC_METRICS],
                            notes + [reason])
    torso = body_size(track.select(rows), min_visibility)
    px_still = track.pixels()[rows]
    values = ctx.angles[list(STATIC_METRICS)].to_numpy()
    frame_idx = track.frame_index
    summaries: dict[str, MetricSummary | None] = {}
    for j, metric in enumerate(STATIC_METRICS):
        segs = [values[w.start:w.stop, j] for w in windows]
        frs = [frame_idx[w.start:w.stop] for w in windows]
        summaries[metric] = summarize_metric(segs, frs)
        if summaries[metric] is not None:
            summaries[metric].systematic = systematic_error(metric, px_still, torso)
    roll = ctx.roll
    if roll.suspected or roll.corrected:
        notes.append(roll.message)
    for metric, s in summaries.items():       # a corrected roll's own uncertainty adds to each tilt's
        if s is not None and roll.corrected and ANGLE_BY_ID[metric].formula in ROLL_SENSITIVE:
            s.systematic = float(np.hypot(s.systematic, roll.uncertainty_deg or 0.0))   # independent errors
    findings = [_finding(m, summaries[m], views, roll, ctx.gates[m]) for m in STATIC_METRICS]
    return StaticResult(views, framing, roll, windows, findings, notes)


def _finding(metric: str, summary: MetricSummary | None, views: ViewSummary, roll: RollReport,
             gate: str) -> Finding:
    d = ANGLE_BY_ID[metric]
    thr = STATIC_THRESHOLDS[metric]
    view = views.dominant
    reason = gate
    if summary is None and (not reason or reason == roll.message):
        reason = "landmarks not visible in the still frames"
    if reason:
        # a capture gate (roll, perspective) still shows what was measured, as evidence for the reason
        shown = reason == roll.message or reason.startswith(PERSPECTIVE_REASON)
        return _not_measurable(metric, view, reason, thr, summary if shown else None)
    assert summary is not None
    side, words = describe(metric, summary.median, d.unit)
    sys_err = summary.systematic if np.isfinite(summary.systematic) else float("inf")
    lo, hi = summary.ci95[0] - sys_err, summary.ci95[1] + sys_err
    flag = (summary.n_frames >= MIN_FLAG_FRAMES and thr.exceeds(summary.median) and thr.ci_beyond(lo, hi))
    if not flag and abs(summary.median) <= sys_err and d.side is None:
        side = None     # inside the model's own left/right error: which side is higher cannot be told
    note = ""
    if thr.value is None:
        note = f"reported only: {thr.published_for or 'no published cut-off'}"
    elif summary.n_frames < MIN_FLAG_FRAMES:
        note = f"only {summary.n_frames} frame(s): measurement uncertainty unknown, so never flagged"
    elif thr.exceeds(summary.median) and not flag:
        note = (f"median is past the threshold but its 95% CI widened by the model error allowance "
                f"({summary.systematic:.1f} {d.unit}) is not, so not flagged")
    return Finding(metric=metric, label=d.label, view=view, status=FLAGGED if flag else WITHIN,
                   value=summary.median, unit=d.unit, threshold=thr.value, threshold_source=thr.source_text,
                   uncertainty=summary.uncertainty(), frames=summary.key_frames,
                   side=side, direction=words, reason=note, kind="static",
                   details=roll_evidence(roll) if d.formula in ROLL_SENSITIVE else {})
