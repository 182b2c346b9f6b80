"""Stillness measure: how far the joints that must stay still have moved, in units that do not depend
on the person's size or distance from the camera, and the band within which that is only jitter.

Measure (per frame, per *channel*):

* a still **landmark** channel is the 2-D displacement of that landmark from its reference position
  (pixels of the upright frame), divided by the body scale fixed at the reference: the torso length
  (shoulder midpoint to hip midpoint), or the shoulder width when the hips are out of view (upper-body
  framing for neck exercises). Unit: fraction of body scale, so the same movement of a person twice as
  large or twice as close gives the same number.
* a still **angle** channel is the change of that joint/segment angle from its reference value, in
  degrees (angles are scale-free already).

Jitter and dropouts: a landmark counts only with visibility >= 0.5 (MediaPipe's default confidence
[MPdoc]); the streaming filter (``ChannelFilter``) takes the median of the samples of the last
``smooth_ms`` (100 ms = 3 frames at 30 fps; at least 3 frames within 250 ms at lower rates), which
removes one-frame spikes with one frame of lag, and holds a channel's last value through a dropout
shorter than ``dropout_ms``.

Band (what still means). No peer-reviewed static jitter figure exists for MediaPipe [clinical-reference
§5, GH4507, GH4715]; the reference's inference is to derive thresholds from each user's static-frame
SD, and that is the calibration rule here:

    band_channel = clamp(K_SIGMA * jitter_sd_channel, lo, hi)

* ``jitter_sd`` is robust (1.4826 x MAD around the median, per axis, then the RMS of x and y), measured
  during a few seconds at rest, so one glitch in the calibration does not widen the band.
* ``K_SIGMA = 4``: for Gaussian jitter of SD s per axis the radial distance exceeds 4 s with
  probability exp(-8) ~ 3e-4 per frame; a break additionally needs the excursion to last a grace
  period (several frames), so jitter alone practically never breaks a hold.
* landmark limits ``[0.04, 0.12]`` of body scale (about 2-6 cm on a 50-cm torso). The floor is about
  the *allowed movement*, not only about jitter. "The joint kept still" in an isometric contraction
  [LewitSimons84, Chaitow-MBB] means no movement of the worked joint through its range; it cannot mean
  that a standing person stops their natural postural sway, which nobody can suppress. Quiet-stance
  sway is large and slow: healthy adults standing eyes open in a laboratory moved their centre of
  pressure over a medio-lateral range of 21.1 +- 6.8 mm (AP 38.7 +- 18.9 mm) within a trial
  [PMC3966255, table 3, "Laboratory, EO"], i.e. up to ~35 mm (mean + 2 SD), +-17.5 mm about the mean
  position = 0.035 of a 50-cm torso, and the trunk sways with it (ankle strategy: sensors on T1 and the
  sacrum moved together, r > 0.99 [Carneiro13]). Its period is seconds, so a 2-s rest calibration
  does not sample it and ``K_SIGMA x jitter_sd`` alone under-estimates it; MediaPipe's tracker
  (``num_poses=1``) jitters less than its detector, so its calibrated bands fell to the old 3 % floor
  and the real 5-fps still-standing clip's sway (right shoulder up to 5.1 % from its reference) read as
  5 breaks (72 % held; 0 breaks from 4 % up, tests/assessment/test_hold.py). Below 4 % a landmark's
  excursion cannot be told from quiet-stance sway; MediaPipe resolves 1-2 % SD per axis for
  shoulders/hips on the standing frames of tfjs_pose_squats.mp4. A band wider than 12 % would let a
  clearly visible movement pass, so a noisy calibration (or a person who moved during it) cannot switch
  the check off. The frontal (medio-lateral) figure is used: a front or back view sees ML sway in the
  image plane, while AP sway mostly changes the apparent size, which the body-scale normalisation
  absorbs. [PMC3966255] https://pmc.ncbi.nlm.nih.gov/articles/PMC3966255 (quiet stance, laboratory vs
  height exposure); [Carneiro13] Carneiro et al. 2013, Braz J Otorhinolaryngol 79(2), "A pilot study on
  the evaluation of postural strategies in young and elderly subjects using a tridimensional
  electromagnetic system".
* angle limits ``[2, 10]`` degrees; default **5 degrees**, about the published minimal detectable
  change of postural angles from photographs (CVA ~5 deg [Gallego20], FPPA 5-10 deg [Ceballos23]).
* Without calibration the default landmark band is **0.06** of body scale (4 x the ~1.5 % jitter SD
  measured above, ~3 cm on a 50-cm torso) and the default angle band 5 degrees.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Sequence

import numpy as np

from vision.errors import IsobalanceError
from vision.track import LANDMARK_INDEX

VISIBILITY_MIN = 0.5          # [MPdoc] default confidence threshold
K_SIGMA = 4.0
LANDMARK_BAND_LIMITS = (0.04, 0.12)   # fraction of body scale; floor = quiet-stance sway [PMC3966255]
ANGLE_BAND_LIMITS = (2.0, 10.0)       # degrees
DEFAULT_LANDMARK_BAND = 0.06          # fraction of body scale, no calibration
DEFAULT_ANGLE_BAND = 5.0              # degrees, ~MDC [Gallego20]
MAD_TO_SD = 1.4826

SHOULDERS = (LANDMARK_INDEX["left_shoulder"], LANDMARK_INDEX["right_shoulder"])
HIPS = (LANDMARK_INDEX["left_hip"], LANDMARK_INDEX["right_hip"])

# (N,33,2) pixels, (N,33) visibility -> (N, n_angles) values of the still angles, NaN if not measurable
AngleFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]


class StillnessError(IsobalanceError):
    """The joints to watch are unknown or cannot be measured."""


class UnknownLandmarkError(StillnessError):
    pass


class NotMeasurableError(StillnessError):
    """The named joints were never visible well enough to measure them."""


def landmark_indices(names: Sequence[str]) -> np.ndarray:
    unknown = [n for n in names if n not in LANDMARK_INDEX]
    if unknown:
        raise UnknownLandmarkError(
            f"unknown landmark name(s) {', '.join(unknown)}; use BlazePose names such as left_shoulder")
    return np.array([LANDMARK_INDEX[n] for n in names], dtype=np.int64)


def visible_mask(image: np.ndarray) -> np.ndarray:
    """(...,33) bool: landmark found with visibility >= VISIBILITY_MIN."""
    vis = image[..., 3]
    # NaN >= x is False, as nan_to_num's 0 was: the same mask without nan_to_num's per-call cost
    # (~10 % of the hold monitor's frame, one call a frame)
    return np.isfinite(image[..., 0]) & np.isfinite(vis) & (vis >= VISIBILITY_MIN)


def body_scale(pixels: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(...,) body scale in pixels and (...,) basis code (1 torso length, 2 shoulder width, 0 none).

    Torso length is preferred: it changes least with arm position and the camera's side of view.
    """
    sh_ok = visible[..., SHOULDERS[0]] & visible[..., SHOULDERS[1]]
    hip_ok = visible[..., HIPS[0]] & visible[..., HIPS[1]]
    mid_sh = (pixels[..., SHOULDERS[0], :] + pixels[..., SHOULDERS[1], :]) / 2
    mid_hip = (pixels[..., HIPS[0], :] + pixels[..., HIPS[1], :]) / 2
    torso = np.linalg.norm(mid_sh - mid_hip, axis=-1)
    width = np.linalg.norm(pixels[..., SHOULDERS[0], :] - pixels[..., SHOULDERS[1], :], axis=-1)
    use_torso = sh_ok & hip_ok & (torso > 0)
    use_width = ~use_torso & sh_ok & (width > 0)
    scale = np.where(use_torso, torso, np.where(use_width, width, np.nan))
    basis = np.where(use_torso, 1, np.where(use_width, 2, 0))
    return scale, basis


SCALE_BASIS_NAMES = {1: "torso_length", 2: "shoulder_width"}
_SCALE_POINTS = np.array([SHOULDERS[0], SHOULDERS[1], HIPS[0], HIPS[1]])


def frame_body_scale(pixels: np.ndarray, visible: np.ndarray) -> tuple[float, int]:
    """``body_scale`` of one frame ((33,2) pixels, (33,) visible), to the bit, as Python numbers.

    The hold monitor keeps each frame's scale for its settle window instead of recomputing the whole
    window's on every frame; numpy's per-call overhead on one frame is ~10x these few float operations.
    The same operations in the same order (midpoints halved, norm = sqrt(dx*dx + dy*dy), NaN compares
    False); tests/assessment/test_stillness.py checks equality with ``body_scale``."""
    (lsx, lsy), (rsx, rsy), (lhx, lhy), (rhx, rhy) = pixels[_SCALE_POINTS].tolist()
    ls, rs, lh, rh = visible[_SCALE_POINTS].tolist()
    sh_ok, hip_ok = ls and rs, lh and rh
    if sh_ok and hip_ok:
        dx = (lsx + rsx) / 2 - (lhx + rhx) / 2
        dy = (lsy + rsy) / 2 - (lhy + rhy) / 2
        torso = math.sqrt(dx * dx + dy * dy)
        if torso > 0:
            return torso, 1
    if sh_ok:
        dx, dy = lsx - rsx, lsy - rsy
        width = math.sqrt(dx * dx + dy * dy)
        if width > 0:
            return width, 2
    return math.nan, 0


@dataclass(frozen=True)
class Channels:
    """What to watch: still landmarks (by name) and still angles (by id)."""

    landmarks: tuple[str, ...]
    angles: tuple[str, ...] = ()
    angle_units: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        landmark_indices(self.landmarks)
        if not self.landmarks and not self.angles:
            raise StillnessError("an exercise must name at least one still landmark or angle")
        if self.angles and len(self.angle_units) != len(self.angles):
            object.__setattr__(self, "angle_units", tuple(d.unit for d in angle_defs(self.angles)))

    @property
    def names(self) -> tuple[str, ...]:
        return self.landmarks + self.angles

    @property
    def units(self) -> tuple[str, ...]:
        return ("body_scale",) * len(self.landmarks) + self.angle_units

    @cached_property
    def index(self) -> np.ndarray:
        """(n_landmarks,) indices into the 33 landmarks, worked out once (read on every frame); read-only."""
        idx = landmark_indices(self.landmarks)
        idx.flags.writeable = False
        return idx


@dataclass(frozen=True)
class Band:
    """Per-channel stillness band (fraction of body scale for landmarks, degrees for angles)."""

    values: tuple[float, ...]
    source: str                                  # "calibration" or "default"
    jitter_sd: tuple[float, ...] | None = None   # measured at calibration, same units
    calibration_s: float = 0.0
    calibration_frames: int = 0
    notes: tuple[str, ...] = ()

    @classmethod
    def default(cls, channels: Channels) -> "Band":
        return cls(tuple([DEFAULT_LANDMARK_BAND] * len(channels.landmarks)
                         + [DEFAULT_ANGLE_BAND] * len(channels.angles)), "default")

    def to_dict(self, channels: Channels) -> dict:
        out = {"source": self.source, "rule": f"clamp({K_SIGMA:g} x robust jitter SD, lo, hi)"
               if self.source == "calibration" else "documented default",
               "limits": {"body_scale": list(LANDMARK_BAND_LIMITS), "deg": list(ANGLE_BAND_LIMITS)},
               "channels": {}}
        for i, (name, unit) in enumerate(zip(channels.names, channels.units)):
            row = {"band": round(self.values[i], 5), "unit": unit}
            if self.jitter_sd is not None:
                sd = self.jitter_sd[i]
                row["jitter_sd"] = None if not np.isfinite(sd) else round(float(sd), 5)
            out["channels"][name] = row
        if self.source == "calibration":
            out["calibration_s"] = round(self.calibration_s, 3)
            out["calibration_frames"] = self.calibration_frames
        out["notes"] = list(self.notes)
        return out


_NEEDS_LEFT_DIR = ("lean", "body_lean", "fppa")
_NEEDS_FACING = ("flexion", "cva", "head_offset", "hyperextension")


def angle_defs(ids: Sequence[str]) -> tuple:
    """The ``assessment.angles`` table rows for ``ids`` (clear error for an unknown id)."""
    from assessment.angles import ANGLE_BY_ID

    unknown = [i for i in ids if i not in ANGLE_BY_ID]
    if unknown:
        raise StillnessError(f"unknown angle id(s) {', '.join(unknown)}; known: {', '.join(sorted(ANGLE_BY_ID))}")
    return tuple(ANGLE_BY_ID[i] for i in ids)


def angle_function(ids: Sequence[str]) -> AngleFunction:
    """Per-frame-fast evaluation of a few ``assessment.angles`` angles, as plain arrays.

    Same formulas and visibility gate as ``compute_angles`` (a test checks they agree), without its
    DataFrame, which alone costs ~0.3 ms per call - too much for a per-frame live check.
    """
    from assessment import angles as A

    defs = angle_defs(ids)
    formulas = [A._FORMULAS[d.formula] for d in defs]
    need_left = any(d.formula in _NEEDS_LEFT_DIR for d in defs)
    need_facing = any(d.formula in _NEEDS_FACING or d.needs_facing for d in defs)

    ls, rs, lh, rh = SHOULDERS[0], SHOULDERS[1], HIPS[0], HIPS[1]

    def left_direction(pts: np.ndarray) -> np.ndarray:
        # = angles.body_left_direction (nansum of the shoulder and hip x-differences, sign, 0 -> NaN)
        # without its stack/nansum overhead, which dominates a one-frame call
        # NaN -> 0 as nan_to_num, without its per-call cost (pixel coordinates are finite or NaN)
        sh, hip = pts[:, ls, 0] - pts[:, rs, 0], pts[:, lh, 0] - pts[:, rh, 0]
        dx = np.where(sh == sh, sh, 0.0) + np.where(hip == hip, hip, 0.0)
        sgn = np.sign(dx)
        return np.where(sgn == 0, np.nan, sgn)

    def fn(pixels: np.ndarray, visibility: np.ndarray) -> np.ndarray:
        pts = np.where((visibility >= VISIBILITY_MIN)[..., None], pixels, np.nan)
        ctx = {}
        if need_left:
            ctx["left_dir"] = left_direction(pts)
        if need_facing:
            ctx["facing"] = A.facing_direction(pts)
        return np.stack([f(pts, d, ctx) for f, d in zip(formulas, defs)], axis=1)

    return fn


def median_rows(x: np.ndarray) -> np.ndarray:
    """``np.median(x, axis=0)`` of finite values, to the bit, without its per-call overhead: the middle
    row of the sorted rows, or the two middle ones added and halved (``np.median`` takes their mean, the
    same two operations). The hold monitor takes several medians of a 3-30 frame window on every frame
    (~60-200 us each by ``np.median``, several times less by one ``np.sort``; tests/assessment/
    test_stillness.py checks equality on random and real windows). NaN is not handled (``np.median``
    gives NaN): callers pass finite values only."""
    s = np.sort(x, axis=0)
    h = len(s) // 2
    return s[h] if len(s) % 2 else (s[h - 1] + s[h]) / 2


def robust_sd(x: np.ndarray, axis: int = 0) -> np.ndarray:
    med = np.nanmedian(x, axis=axis, keepdims=True)
    return MAD_TO_SD * np.nanmedian(np.abs(x - med), axis=axis)


def calibrate(pixels: np.ndarray, visible: np.ndarray, angles: np.ndarray, timestamp_ms: np.ndarray,
              channels: Channels) -> Band:
    """Band from frames at rest: per channel clamp(K_SIGMA x robust jitter SD, lo, hi).

    ``pixels`` (N,33,2), ``visible`` (N,33), ``angles`` (N, n_angles) degrees (see ``angle_function``). A channel with fewer than
    5 usable frames keeps the default band (noted).
    """
    idx = channels.index
    scale, _ = body_scale(pixels, visible)
    ref_scale = np.nanmedian(scale) if np.isfinite(scale).any() else np.nan
    values, sds, notes = [], [], []
    lo, hi = LANDMARK_BAND_LIMITS
    for k, j in enumerate(idx):
        ok = visible[:, j]
        if ok.sum() < 5 or not np.isfinite(ref_scale):
            values.append(DEFAULT_LANDMARK_BAND)
            sds.append(np.nan)
            notes.append(f"{channels.landmarks[k]}: too few visible calibration frames, default band")
            continue
        p = pixels[ok, j, :] / ref_scale
        sd_xy = robust_sd(p, axis=0)
        sd = float(np.sqrt(np.mean(sd_xy ** 2)))
        sds.append(sd)
        values.append(float(np.clip(K_SIGMA * sd, lo, hi)))
        if K_SIGMA * sd > hi:
            notes.append(f"{channels.landmarks[k]}: jitter at rest {sd:.3f} is large (moved during "
                         f"calibration?); band capped at {hi}")
    lo, hi = ANGLE_BAND_LIMITS
    for k, name in enumerate(channels.angles):
        a = angles[:, k]
        a = a[np.isfinite(a)]
        if a.size < 5:
            values.append(DEFAULT_ANGLE_BAND)
            sds.append(np.nan)
            notes.append(f"{name}: too few measurable calibration frames, default band")
            continue
        sd = float(robust_sd(a, axis=0))
        sds.append(sd)
        values.append(float(np.clip(K_SIGMA * sd, lo, hi)))
    t = np.asarray(timestamp_ms, dtype=np.float64)
    dur = float(t[-1] - t[0]) / 1000 if t.size else 0.0
    return Band(tuple(values), "calibration", tuple(sds), dur, int(len(t)), tuple(notes))


@dataclass
class Reference:
    """The position a hold must keep: landmark pixels, body scale, angle values (channel order)."""

    points: np.ndarray        # (n_landmarks, 2) pixels, NaN for a landmark not measured
    scale: float              # pixels
    scale_basis: str
    angles: np.ndarray        # (n_angles,) degrees, NaN if not measured

    @property
    def measured(self) -> np.ndarray:
        """(n_channels,) bool — channel has a reference value."""
        return np.concatenate([np.isfinite(self.points[:, 0]), np.isfinite(self.angles)])


def reference_from_window(pixels: np.ndarray, visible: np.ndarray, angles: np.ndarray,
                          channels: Channels, min_fraction: float = 0.8) -> Reference | None:
    """Median position over a settle window; a channel seen in < ``min_fraction`` of it is not measured.

    None when the body scale or every channel is unmeasurable.
    """
    scale, basis = body_scale(pixels, visible)
    idx = channels.index
    return reference_from_rows(scale, basis, pixels[:, idx, :], visible[:, idx], angles, channels, min_fraction)


def reference_from_rows(scale: np.ndarray, basis: np.ndarray, points: np.ndarray, visible: np.ndarray,
                        angles: np.ndarray, channels: Channels, min_fraction: float = 0.8) -> Reference | None:
    """``reference_from_window`` from each frame's body scale and basis ((N,), ``body_scale``) and the
    watched landmarks only ((N, n_landmarks, 2) pixels, (N, n_landmarks) visible): what the hold
    monitor keeps per frame of its window, so a frame's share is computed once, not once per frame."""
    if not np.isfinite(scale).any():
        return None
    # one basis for the whole window: the more frequent of torso / shoulder width
    b = 1 if (basis == 1).sum() >= (basis == 2).sum() else 2
    s = float(median_rows(scale[basis == b]))   # finite: basis 1/2 rows only
    vis = visible
    enough = vis.mean(axis=0) >= min_fraction
    if vis.all():                         # the usual case: plain median, much faster than nanmedian
        ref_pts = median_rows(points)
    else:
        pts = np.where(vis[..., None], points, np.nan)
        ref_pts = np.full((points.shape[1], 2), np.nan)
        if enough.any():
            ref_pts[enough] = np.nanmedian(pts[:, enough], axis=0)
    ref_ang = np.full(len(channels.angles), np.nan)
    if channels.angles:
        finite = np.isfinite(angles)
        ok = finite.mean(axis=0) >= min_fraction
        if finite.all():
            ref_ang = median_rows(angles)
        elif ok.any():
            ref_ang[ok] = np.nanmedian(angles[:, ok], axis=0)
    ref = Reference(ref_pts, s, SCALE_BASIS_NAMES[b], ref_ang)
    return ref if ref.measured.any() else None


def deviations(pixels: np.ndarray, visible: np.ndarray, angles: np.ndarray, ref: Reference,
               channels: Channels) -> np.ndarray:
    """(N, n_channels) distance from the reference: landmark displacement / body scale, |angle change|.

    NaN where a channel is not visible in that frame or has no reference. Vectorised over frames.
    """
    idx = channels.index
    return deviations_of_rows(pixels[:, idx, :], visible[:, idx], angles, ref, channels)


def deviations_of_rows(points: np.ndarray, visible: np.ndarray, angles: np.ndarray, ref: Reference,
                       channels: Channels) -> np.ndarray:
    """``deviations`` from the watched landmarks only ((N, n_landmarks, 2) pixels, (N, n_landmarks) visible)."""
    disp = np.linalg.norm(points - ref.points[None], axis=-1) / ref.scale
    disp = np.where(visible, disp, np.nan)
    if channels.angles:
        return np.concatenate([disp, np.abs(angles - ref.angles[None])], axis=1)
    return disp


@dataclass
class ChannelFilter:
    """Causal, time-based jitter and dropout filter for one vector of channel deviations per frame.

    Median of the samples of the last ``smooth_ms`` per channel (ignoring NaN), widened to the last 3
    samples when they are no older than ``max_smooth_ms`` (so a one-frame spike is voted out at 15 fps
    too, while 5-fps input is not smeared over more than ~1/4 s). A channel with no sample in that
    window keeps its last filtered value for up to ``dropout_ms`` after its last sample, then becomes
    NaN (unknown).
    """

    n_channels: int
    smooth_ms: float = 100.0
    dropout_ms: float = 500.0
    max_smooth_ms: float = 250.0
    min_samples: int = 3
    _times: deque = field(default_factory=deque)
    _values: deque = field(default_factory=deque)
    _last: np.ndarray | None = None
    _last_seen: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._last = np.full(self.n_channels, np.nan)
        self._last_seen = np.full(self.n_channels, -np.inf)

    def update(self, t_ms: float, dev: np.ndarray) -> np.ndarray:
        """Add one frame's raw deviations (NaN = not visible); return the filtered vector."""
        self._times.append(t_ms)
        self._values.append(dev)
        while self._times[0] <= t_ms - self.max_smooth_ms:
            self._times.popleft()
            self._values.popleft()
        recent = sum(1 for x in self._times if x > t_ms - self.smooth_ms)
        k = max(recent, min(self.min_samples, len(self._times)))
        stack = np.array([self._values[i] for i in range(len(self._values) - k, len(self._values))])
        finite = np.isfinite(stack)
        out = self._last.copy()
        if finite.all():
            out = median_rows(stack)
        else:
            seen = finite.any(axis=0)
            if seen.any():
                with np.errstate(all="ignore"):
                    out[seen] = np.nanmedian(stack[:, seen], axis=0)
        self._last_seen[np.isfinite(dev)] = t_ms
        out[t_ms - self._last_seen > self.dropout_ms] = np.nan
        self._last = out
        self._k = k
        return out

    def first_time_above(self, band: np.ndarray) -> float:
        """Earliest sample time in the last filter window with a raw deviation beyond ``band``.

        Dates a movement's onset without the filter's lag (NaN if no raw sample exceeds the band).
        """
        n = len(self._times)
        for i in range(n - self._k, n):
            t, v = self._times[i], self._values[i]
            with np.errstate(invalid="ignore"):
                if (v > band).any():
                    return float(t)
        return float("nan")
