"""Isometric hold checker: a time-based state machine that watches one exercise, frame by frame.

One code path for live and offline: ``HoldMonitor.update(PoseFrame)`` consumes one frame (webcam or
video), returns a ``HoldStatus`` for the overlay, and ``HoldMonitor.run(track)`` just feeds a track's
frames. Time comes only from ``timestamp_ms`` (never frame counts), so 5-fps and 60-fps input give
the same timings; a frame whose time does not increase is ignored.

Phases (per repetition):

    calibrate (optional, once: ``calibrate_s`` at rest sets the stillness band, see stillness.py)
    -> position  until the still joints are visible and within the band for ``settle_s``; their
                 median over that window becomes the reference the hold must keep
    -> hold      contract and hold: the timer counts only while still; the phase ends when
                 ``hold_s`` of stillness are accumulated, or as incomplete after ``hold_timeout_s``
    -> relax     ``relax_s`` (not judged)
    -> stretch   ``stretch_s`` (PIR/MET: take up the slack to the new barrier; not judged; skipped if 0)
    -> position of the next repetition (new reference: the barrier has moved) ... -> done

PIR/MET outcome (``assessment.barrier``): when the exercise names a ``barrier_angle``, that angle is
measured over the settle window that starts the first hold (the first barrier) and over the last
``settle_s`` of every stretch phase (each new barrier), each with its error; the result reports the
range gained over the set and whether it is beyond noise.

Repetition quality: a repetition counts only when ``hold_s`` of stillness were reached with at most
``max_breaks`` breaks. The "held still" figure shown while holding never runs backwards: it counts
only still time that a later-detected movement can no longer take back (older than the filter
window, ``ChannelFilter.max_smooth_ms``), so it may lag the truth by at most 0.25 s but never overstates.

Break rule: the filtered deviation of some channel exceeds its band (ratio > 1) continuously for at
least ``grace_ms`` (300 ms: longer than jitter bursts and one-frame glitches, short enough that a real
movement is caught within a third of a second). The break is dated at its onset (first raw sample
beyond the band, so the filter's lag does not shift it) and ends when all channels have been back in
the band for ``grace_ms`` (a movement hovering at the band edge is one break, not many), or when the
joints have been still among themselves for ``settle_s`` at a new place: the reference then moves
there ("re-anchor"), because a person who slipped and holds still again is holding, and judging the
rest of the hold against the old place would call every later second a movement. Time from a
break's onset to its end does not count as held still. Excursions shorter than the grace period count
as still. Only joints seen in the current frame are judged. A dropout (no still joint seen) neither
starts, confirms nor clears an excursion; during a still hold it is bridged for up to ``dropout_ms``
(the time counts), after that the timer pauses ("not visible") without breaking the hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from assessment.barrier import BARRIER_ANGLES, Barrier, gain, measure_barrier
from assessment.stillness import (AngleFunction, Band, ChannelFilter, Channels, NotMeasurableError,
                                  Reference, SCALE_BASIS_NAMES, StillnessError, angle_function, calibrate,
                                  deviations_of_rows, frame_body_scale, median_rows, reference_from_rows,
                                  visible_mask)
from vision.track import LandmarkTrack, PoseFrame


class Phase(str, Enum):
    CALIBRATE = "calibrate"
    POSITION = "position"
    HOLD = "hold"
    RELAX = "relax"
    STRETCH = "stretch"
    DONE = "done"


class Stillness(str, Enum):
    STILL = "still"
    MOVING = "moving"            # beyond the band, not yet for the grace period
    BROKEN = "broken"            # a confirmed break is going on
    RETURNING = "returning"      # back in the band after a break, not yet for the grace period
    NOT_VISIBLE = "not_visible"
    NOT_JUDGED = "not_judged"    # outside the hold phase


INSTRUCTIONS = {
    Phase.CALIBRATE: "Rest and keep still (calibrating)",
    Phase.POSITION: "Get into position, keep still",
    Phase.HOLD: "Contract gently, keep still",
    Phase.RELAX: "Relax, breathe out",
    Phase.STRETCH: "Ease into the new stretch",
    Phase.DONE: "Done",
}


@dataclass(frozen=True)
class HoldProtocol:
    """The dose and the joints to watch for one exercise (filled from the exercise catalog)."""

    exercise_id: str
    hold_s: float
    relax_s: float
    stretch_s: float
    repetitions: int
    still_landmarks: tuple[str, ...]
    still_angles: tuple[str, ...] = ()
    name: str = ""
    technique: str = "isometric"
    barrier_angle: str = ""          # assessment.barrier angle id measured at each new barrier ("" = none)

    def __post_init__(self) -> None:
        if self.barrier_angle and self.barrier_angle not in BARRIER_ANGLES:
            raise StillnessError(f"unknown barrier angle {self.barrier_angle!r}; known: {', '.join(BARRIER_ANGLES)}")
        if self.hold_s <= 0 or self.repetitions < 1 or self.relax_s < 0 or self.stretch_s < 0:
            raise StillnessError(f"exercise {self.exercise_id!r} has an invalid dose: hold {self.hold_s} s, "
                                 f"relax {self.relax_s} s, stretch {self.stretch_s} s, "
                                 f"{self.repetitions} repetitions")

    @property
    def channels(self) -> Channels:
        return Channels(tuple(self.still_landmarks), tuple(self.still_angles))

    @classmethod
    def from_exercise(cls, ex: Any) -> "HoldProtocol":
        """From a catalog exercise (mapping or object with the catalog's keys).

        A dose given as a range [lo, hi] uses its upper end as the target (hold) or its lower end
        (relax, stretch, repetitions) - a conservative session.
        """
        get = (lambda k, d=None: ex.get(k, d)) if isinstance(ex, Mapping) else \
            (lambda k, d=None: getattr(ex, k, d))

        def num(key: str, pick: int, default: float) -> float:
            v = get(key, default)
            if v is None:
                return default
            if isinstance(v, (list, tuple)):
                return float(v[pick]) if v else default
            return float(v)

        return cls(exercise_id=str(get("id")), hold_s=num("hold_s", -1, 10.0),
                   relax_s=num("relax_s", 0, 0.0), stretch_s=num("stretch_s", 0, 0.0),
                   repetitions=int(num("repetitions", 0, 1)),
                   still_landmarks=tuple(get("still_landmarks") or ()),
                   still_angles=tuple(get("still_angles") or ()),
                   name=str(get("name", "") or ""), technique=str(get("technique", "") or ""),
                   barrier_angle=str(get("barrier_angle", "") or ""))

    def to_dict(self) -> dict:
        return {"exercise_id": self.exercise_id, "name": self.name, "technique": self.technique,
                "hold_s": self.hold_s, "relax_s": self.relax_s, "stretch_s": self.stretch_s,
                "repetitions": self.repetitions, "still_landmarks": list(self.still_landmarks),
                "still_angles": list(self.still_angles), "barrier_angle": self.barrier_angle or None}


@dataclass(frozen=True)
class HoldSettings:
    calibrate_s: float = 0.0          # 0 = no calibration, documented default band
    settle_s: float = 1.0             # still this long in position before the hold starts
    grace_ms: float = 300.0
    smooth_ms: float = 100.0
    dropout_ms: float = 500.0
    hold_timeout_s: float | None = None   # None: 2 x hold_s + 10 s
    # A contraction interrupted more often than this is not one held contraction (our choice: the
    # method asks for the joint kept still; one or two brief corrections are tolerated).
    max_breaks: int = 2

    def timeout_s(self, hold_s: float) -> float:
        return self.hold_timeout_s if self.hold_timeout_s is not None else 2 * hold_s + 10.0

    def to_dict(self) -> dict:
        return {"calibrate_s": self.calibrate_s, "settle_s": self.settle_s, "grace_ms": self.grace_ms,
                "smooth_ms": self.smooth_ms, "dropout_ms": self.dropout_ms,
                "hold_timeout_s": self.hold_timeout_s, "max_breaks": self.max_breaks}


@dataclass(frozen=True)
class HoldStatus:
    """What the overlay / live UI shows after one frame."""

    timestamp_ms: float
    phase: Phase
    rep: int                      # 1-based repetition, 0 during calibration
    repetitions: int
    phase_elapsed_s: float
    phase_remaining_s: float | None   # relax/stretch/calibrate countdown; hold: still time missing
    held_s: float                 # still time this repetition (includes a pending excursion)
    unbroken_s: float
    stillness: Stillness
    ratio: float                  # largest filtered deviation / band (NaN when not judged)
    worst_channel: str | None
    worst_value: float | None
    worst_unit: str | None
    breaks: int                   # breaks so far in this repetition
    message: str


@dataclass
class Break:
    onset_ms: float
    confirmed_ms: float
    end_ms: float | None
    channel: str
    magnitude: float
    unit: str
    band: float
    resumed: str | None = None      # how the hold went on: returned / still at a new position / None

    def to_dict(self) -> dict:
        return {"onset_s": _r(self.onset_ms / 1000), "confirmed_s": _r(self.confirmed_ms / 1000),
                "end_s": None if self.end_ms is None else _r(self.end_ms / 1000),
                "duration_s": None if self.end_ms is None else _r((self.end_ms - self.onset_ms) / 1000),
                "joint": self.channel, "magnitude": _r(self.magnitude, 4), "unit": self.unit,
                "band": _r(self.band, 4), "resumed": self.resumed}


@dataclass
class Repetition:
    index: int
    position_start_ms: float
    hold_start_ms: float
    reference: Reference
    hold_end_ms: float | None = None
    outcome: str = "running"          # completed | timeout | stream_ended
    held_ms: float = 0.0
    longest_unbroken_ms: float = 0.0
    not_visible_ms: float = 0.0
    reanchors: int = 0                      # times the reference moved to where the joints settled
    breaks: list[Break] = field(default_factory=list)
    max_drift: np.ndarray | None = None     # per channel, filtered deviation
    barrier: Barrier | None = None          # the new barrier at the end of this repetition's stretch

    def counted(self, max_breaks: int) -> tuple[bool, str]:
        """Whether this repetition counts, and why not."""
        if self.outcome != "completed":
            return False, {"timeout": "the still time was not reached in time",
                           "stream_ended": "the recording ended during the hold"}.get(self.outcome, self.outcome)
        if len(self.breaks) > max_breaks:
            return False, f"{len(self.breaks)} breaks, more than the {max_breaks} allowed"
        return True, ""

    def summary_row(self, max_breaks: int) -> dict:
        ok, why = self.counted(max_breaks)
        return {"index": self.index, "counted": ok, "why_not": why, "held_still_s": _r(self.held_ms / 1000),
                "longest_still_s": _r(self.longest_unbroken_ms / 1000), "breaks": len(self.breaks),
                "barrier_deg": None if self.barrier is None else _r(self.barrier.angle_deg, 2),
                "barrier_error_deg": None if self.barrier is None else _r(self.barrier.error_deg, 2)}

    def to_dict(self, channels: Channels, band: Band) -> dict:
        dur = (self.hold_end_ms or self.hold_start_ms) - self.hold_start_ms
        measured = self.reference.measured
        drift = {}
        for i, (name, unit) in enumerate(zip(channels.names, channels.units)):
            if not measured[i]:
                drift[name] = {"value": None, "unit": unit, "note": "not measured: not visible at the start"}
                continue
            v = None if self.max_drift is None or not np.isfinite(self.max_drift[i]) else float(self.max_drift[i])
            drift[name] = {"value": _r(v, 4), "unit": unit, "band": _r(band.values[i], 4),
                           "ratio": None if v is None else _r(v / band.values[i], 3)}
        return {
            "index": self.index, "outcome": self.outcome,
            "position_start_s": _r(self.position_start_ms / 1000),
            "hold_start_s": _r(self.hold_start_ms / 1000),
            "hold_end_s": None if self.hold_end_ms is None else _r(self.hold_end_ms / 1000),
            "hold_duration_s": _r(dur / 1000),
            "held_still_s": _r(self.held_ms / 1000),
            "still_fraction": _r(self.held_ms / dur, 4) if dur > 0 else None,
            "longest_unbroken_s": _r(self.longest_unbroken_ms / 1000),
            "not_visible_s": _r(self.not_visible_ms / 1000),
            "reanchors": self.reanchors,
            "breaks": [b.to_dict() for b in self.breaks],
            "max_drift": drift,
            "reference": {"body_scale_px": _r(self.reference.scale, 2),
                          "body_scale_basis": self.reference.scale_basis},
            "barrier_after_stretch": None if self.barrier is None else self.barrier.to_dict(),
        }


@dataclass
class HoldResult:
    protocol: HoldProtocol
    settings: HoldSettings
    band: Band
    repetitions: list[Repetition]
    timeline: list[dict]
    frames: int
    duration_s: float
    final_phase: Phase
    notes: list[str]
    source: str = ""
    first_barrier: Barrier | None = None     # at the start of the first hold
    context: dict = field(default_factory=dict)   # how it was run: safety answers, plan item (CLI, dashboard)

    @property
    def completed(self) -> int:
        return sum(r.outcome == "completed" for r in self.repetitions)

    @property
    def counted(self) -> int:
        return sum(r.counted(self.settings.max_breaks)[0] for r in self.repetitions)

    def barrier_summary(self) -> dict:
        """First barrier, each new barrier, and the range gained over the set (see assessment.barrier)."""
        angle = self.protocol.barrier_angle
        if not angle:
            why = ("a plain isometric has no stretch to a new barrier" if self.protocol.stretch_s == 0 else
                   "this exercise's barrier cannot be measured from the camera (not judged)")
            return {"angle": None, "note": why}
        news = [r.barrier for r in self.repetitions if r.barrier is not None]
        out = {"angle": angle, "label": BARRIER_ANGLES[angle][0],
               "first": None if self.first_barrier is None else self.first_barrier.to_dict(),
               "after_each_stretch": [b.to_dict() for b in news],
               "last": news[-1].to_dict() if news else None, "gain": None}
        if self.first_barrier is not None and news:
            out["gain"] = gain(self.first_barrier, news[-1])
        else:
            out["note"] = "no barrier measured at both the start and the end of a stretch"
        return out

    def to_dict(self) -> dict:
        ch = self.protocol.channels
        return {
            "kind": "isobalance.hold", "version": 1, "source": self.source,
            "exercise": self.protocol.to_dict(), "settings": self.settings.to_dict(),
            "band": self.band.to_dict(ch),
            "summary": {"repetitions_completed": self.completed,
                        "repetitions_planned": self.protocol.repetitions,
                        "repetitions_counted": self.counted,
                        "breaks": sum(len(r.breaks) for r in self.repetitions),
                        "frames": self.frames, "duration_s": _r(self.duration_s),
                        "final_phase": self.final_phase.value,
                        "per_repetition": [r.summary_row(self.settings.max_breaks) for r in self.repetitions]},
            "barrier": self.barrier_summary(),
            "repetitions": [r.to_dict(ch, self.band) for r in self.repetitions],
            "timeline": self.timeline,
            "notes": self.notes,
            "context": self.context,
        }

    def save_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False), encoding="utf-8")
        tmp.replace(path)
        return path


def _r(v: float | None, nd: int = 3) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


class SettleWindow:
    """The frames of the last ``settle_s`` (and one at or before its start), as the settle test needs them.

    The position and hold (re-anchor) phases ask on every frame whether the joints have been still among
    themselves over this window. Re-stacking the whole window (~30 frames of 33 landmarks) and working
    out every frame's body scale again on every frame was ~40 % of the monitor's time; here a frame's
    share is computed once, when it comes in, into running arrays whose live rows are one contiguous
    slice, in frame order: one matrix row per frame (body scale, the watched landmarks' x and y, the
    angles: ``matrix``, one sort gives every median), its scale basis and which watched joints were seen.
    ``frames`` keeps each frame's (t, pixels, visible, angles), for the barrier and the window's start.
    """

    def __init__(self, settle_ms: float, index: np.ndarray, n_angles: int, capacity: int = 64) -> None:
        self.settle_ms = settle_ms
        self._idx = index
        self._n_lm = len(index)
        self.frames: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = []
        self._alloc(capacity, 1 + 2 * self._n_lm + n_angles)

    def _alloc(self, capacity: int, columns: int) -> None:
        self._matrix = np.empty((capacity, columns))
        self._basis = np.empty(capacity, dtype=np.int64)
        self._visible = np.empty((capacity, self._n_lm), dtype=bool)
        self._lo = self._hi = 0

    def clear(self) -> None:
        self.frames = []
        self._lo = self._hi = 0

    def push(self, t: float, px: np.ndarray, vis: np.ndarray, ang: np.ndarray) -> bool:
        """Append; keep one frame at or before t - settle_s. True when the window covers settle_s."""
        frames = self.frames
        frames.append((t, px, vis, ang))
        if self._hi == len(self._basis):
            self._make_room()
        i, row, n2 = self._hi, self._matrix[self._hi], 1 + 2 * self._n_lm
        row[0], self._basis[i] = frame_body_scale(px, vis)
        row[1:n2] = px[self._idx].ravel()
        row[n2:] = ang
        self._visible[i] = vis[self._idx]
        self._hi = i + 1
        start = t - self.settle_ms
        while len(frames) > 1 and frames[1][0] <= start:
            frames.pop(0)
            self._lo += 1
        return frames[0][0] <= start

    def _make_room(self) -> None:
        """Move the live rows to the front (or into arrays twice as large when they fill half)."""
        lo, hi = self._lo, self._hi
        n = hi - lo
        old = (self._matrix, self._basis, self._visible)
        if 2 * n > len(self._basis):
            self._alloc(2 * len(self._basis), self._matrix.shape[1])
        for a, b in zip(old, (self._matrix, self._basis, self._visible)):
            b[:n] = a[lo:hi]
        self._lo, self._hi = 0, n

    @property
    def first_t(self) -> float:
        return self.frames[0][0]

    def matrix(self) -> np.ndarray:
        """(N, 1 + 2 n_landmarks + n_angles): each frame's body scale, x0 y0 x1 y1 ..., angles (a view)."""
        return self._matrix[self._lo:self._hi]

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(N,) body scale, (N,) basis, (N, n_landmarks, 2) pixels, (N, n_landmarks) visible, (N, n_angles)
        angles of the window's frames, in order (views: valid until the next push)."""
        m, n2 = self.matrix(), 1 + 2 * self._n_lm
        s = slice(self._lo, self._hi)
        return m[:, 0], self._basis[s], m[:, 1:n2].reshape(len(m), self._n_lm, 2), self._visible[s], m[:, n2:]


class HoldMonitor:
    """Feed frames in time order with ``update``; read ``result()`` at any time (or after the end)."""

    def __init__(self, protocol: HoldProtocol, frame_size: tuple[int, int],
                 settings: HoldSettings = HoldSettings(), band: Band | None = None,
                 angle_fn: AngleFunction | None = None) -> None:
        self.protocol = protocol
        self.settings = settings
        self.channels = protocol.channels
        self.angle_fn = angle_fn or (angle_function(self.channels.angles) if self.channels.angles else None)
        w, h = frame_size
        if not (w and h):
            raise StillnessError("the frame size is needed to measure in pixels")
        self._wh = np.array([w, h], dtype=np.float64)
        self._n_lm = len(self.channels.landmarks)
        self._no_angles = np.full(len(self.channels.angles), np.nan)
        self._units = self.channels.units
        self.band = band or Band.default(self.channels)
        self._band = np.array(self.band.values)
        self.phase = Phase.CALIBRATE if settings.calibrate_s > 0 and band is None else Phase.POSITION
        self._phase_start: float | None = None
        self._buf: list[tuple] = []              # calibration frames; stretch frames (barrier)
        self._idx = self.channels.index
        self._window = self._new_window()        # position: the settle window before a hold
        self._handlers = {Phase.CALIBRATE: self._calibrate, Phase.POSITION: self._position, Phase.HOLD: self._hold,
                          Phase.RELAX: self._timed, Phase.STRETCH: self._timed, Phase.DONE: self._done}
        self._recent = self._new_window()        # hold: the settle window for a re-anchor
        self.reps: list[Repetition] = []
        self._log: list[tuple[float, str, int, float]] = []   # t, phase, rep, ratio (for the timeline)
        self._first_t: float | None = None
        self._last_t: float | None = None
        self._frames = 0
        self._ever_visible = False
        self._status: HoldStatus | None = None
        self.notes: list[str] = []
        self.first_barrier: Barrier | None = None
        self._shown_held = 0.0
        self._reset_hold_state()

    # ------------------------------------------------------------------ input
    def update(self, frame: PoseFrame) -> HoldStatus:
        return self.update_image(frame.image, frame.timestamp_ms)

    def update_image(self, image: np.ndarray, timestamp_ms: float) -> HoldStatus:
        """One frame: (33,5) normalized landmarks (NaN = nobody) and its presentation time."""
        t = float(timestamp_ms)
        if self._last_t is not None and not t > self._last_t:
            return self._status           # time must increase; a repeated frame changes nothing
        if self._first_t is None:
            self._first_t = t
        self._frames += 1
        px = image[:, :2] * self._wh
        vis = visible_mask(image)
        judged = self.phase in (Phase.CALIBRATE, Phase.POSITION, Phase.HOLD)
        ang = (self.angle_fn(px[None], image[None, :, 3])[0] if self.angle_fn is not None and judged
               else self._no_angles)
        if vis[self._idx].any() or np.isfinite(ang).any():
            self._ever_visible = True
        if self._phase_start is None:
            self._phase_start = t
        handler = self._handlers[self.phase]
        self._status = handler(t, px, vis, ang)
        self._last_t = t
        return self._status

    def run(self, track: LandmarkTrack) -> HoldResult:
        """Feed every frame of a track; same code path as live input."""
        for i in range(len(track)):
            self.update_image(track.image[i], track.timestamp_ms[i])
        return self.result()

    @classmethod
    def for_track(cls, protocol: HoldProtocol, track: LandmarkTrack, **kw: Any) -> "HoldMonitor":
        return cls(protocol, (track.meta.width, track.meta.height), **kw)

    # ------------------------------------------------------------------ phases
    def _enter(self, phase: Phase, t: float) -> None:
        self.phase = phase
        self._phase_start = t
        self._buf = []
        self._window.clear()

    def _new_window(self) -> SettleWindow:
        return SettleWindow(self.settings.settle_s * 1000, self._idx, len(self.channels.angles))

    def _calibrate(self, t, px, vis, ang) -> HoldStatus:
        self._buf.append((t, px, vis, ang))
        elapsed = (t - self._phase_start) / 1000
        if elapsed >= self.settings.calibrate_s:
            ts = np.array([b[0] for b in self._buf])
            self.band = calibrate(np.stack([b[1] for b in self._buf]), np.stack([b[2] for b in self._buf]),
                                  np.stack([b[3] for b in self._buf]), ts, self.channels)
            self._band = np.array(self.band.values)
            self._enter(Phase.POSITION, t)
        return self._make_status(t, remaining=max(0.0, self.settings.calibrate_s - elapsed))

    def _settled(self, window: SettleWindow) -> tuple[Reference | None, float, str | None]:
        """The window's median position, if every frame of it is within the band of it."""
        scale, basis, points, visible, angles = window.rows()
        m = window.matrix()
        b = int(basis[0])
        if b and visible.all() and (basis == b).all() and np.isfinite(m).all():
            # the usual window (one scale basis, every watched joint seen, every value finite):
            # reference_from_rows' medians, each a column's, from one sort of the whole matrix
            med = median_rows(m)
            ref = Reference(med[1:1 + 2 * self._n_lm].reshape(self._n_lm, 2), float(med[0]),
                            SCALE_BASIS_NAMES[b], med[1 + 2 * self._n_lm:])
        else:
            ref = reference_from_rows(scale, basis, points, visible, angles, self.channels)
        if ref is None:
            return None, np.nan, None
        dev = deviations_of_rows(points, visible, angles, ref, self.channels) / self._band
        # NaN replaced first, so the plain maximum is nanmax's
        worst_per_channel = np.where(np.isfinite(dev), dev, -np.inf).max(axis=0)
        measured = ref.measured
        k = int(np.argmax(np.where(measured, worst_per_channel, -np.inf)))
        ratio = float(worst_per_channel[k])
        return (ref if ratio <= 1.0 else None), ratio, self.channels.names[k]

    def _position(self, t, px, vis, ang) -> HoldStatus:
        ratio, worst = np.nan, None
        if self._window.push(t, px, vis, ang):
            ref, ratio, worst = self._settled(self._window)
            if ref is not None:
                self._start_hold(t, ref)
                return self._make_status(t)
        return self._make_status(t, ratio=ratio, worst=worst)

    def _start_hold(self, t: float, ref: Reference) -> None:
        pos_start = self._phase_start
        if not self.reps and self.protocol.barrier_angle:
            self.first_barrier = self._barrier_of(self._window.frames)
        self._enter(Phase.HOLD, t)
        rep = Repetition(len(self.reps) + 1, pos_start, t, ref,
                         max_drift=np.full(len(self.channels.names), np.nan))
        unmeasured = [n for n, m in zip(self.channels.names, ref.measured) if not m]
        if unmeasured:
            self.notes.append(f"repetition {rep.index}: {', '.join(unmeasured)} not visible at the start, "
                              f"not judged")
        self.reps.append(rep)
        self._reset_hold_state()
        self._shown_held = 0.0
        self._prev_hold_t = t
        self._recent.clear()
        self._filter = ChannelFilter(len(self.channels.names), self.settings.smooth_ms, self.settings.dropout_ms)

    def _reset_hold_state(self) -> None:
        self._still = Stillness.STILL
        self._prev_hold_t: float | None = None
        self._unbroken = 0.0
        self._pending = 0.0          # tentatively still time during an excursion / a return
        self._pre_onset = 0.0        # still time already counted between onset and detection
        self._onset = 0.0
        self._return_start = 0.0
        self._break: Break | None = None

    def _hold(self, t, px, vis, ang) -> HoldStatus:
        rep = self.reps[-1]
        s = self.settings
        covered = self._recent.push(t, px, vis, ang)
        if covered and self._still in (Stillness.BROKEN, Stillness.RETURNING):
            ref, _, _ = self._settled(self._recent)
            if ref is not None:
                return self._reanchor(t, ref)
        dev = deviations_of_rows(px[None, self._idx], vis[None, self._idx], ang[None], rep.reference, self.channels)[0]
        filt = self._filter.update(t, dev)
        ratio_v = filt / self._band
        dt = 0.0 if self._prev_hold_t is None else t - self._prev_hold_t
        self._prev_hold_t = t
        fresh = np.isfinite(dev)
        if not fresh.any():
            # a dropout: nothing new to judge. Within the filter's dropout hold a still hold stays
            # still (bridged); otherwise the timer pauses. An excursion is neither confirmed nor cleared.
            if self._still is Stillness.STILL and np.isfinite(filt).any():
                rep.held_ms += dt
                self._unbroken += dt
                rep.longest_unbroken_ms = max(rep.longest_unbroken_ms, self._unbroken)
                return self._make_status(t, ratio=float(np.nanmax(ratio_v)))
            rep.not_visible_ms += dt
            return self._make_status(t, stillness=Stillness.NOT_VISIBLE)
        ratio_v = np.where(fresh, ratio_v, np.nan)     # judge only joints seen in this frame
        with np.errstate(invalid="ignore"):
            rep.max_drift = np.fmax(rep.max_drift, np.where(fresh, filt, np.nan))
        k = int(np.argmax(np.where(np.isnan(ratio_v), -np.inf, ratio_v)))   # nanargmax's own rule, without its checks
        r = float(ratio_v[k])
        moving = r > 1.0
        st = self._still
        if st is Stillness.STILL:
            if moving:
                onset = self._filter.first_time_above(self._band)
                self._onset = onset if np.isfinite(onset) else t
                self._pre_onset = max(0.0, t - dt - self._onset)
                self._pending = dt
                self._still = Stillness.MOVING
                self._track_break_peak(k, r, filt, t, new=True)
            else:
                rep.held_ms += dt
                self._unbroken += dt
        elif st is Stillness.MOVING:
            if moving:
                self._pending += dt
                self._track_break_peak(k, r, filt, t)
                if t - self._onset >= s.grace_ms:
                    rep.held_ms -= self._pre_onset
                    self._unbroken -= self._pre_onset
                    rep.longest_unbroken_ms = max(rep.longest_unbroken_ms, self._unbroken)
                    self._unbroken = 0.0
                    self._pending = 0.0
                    self._break.confirmed_ms = t
                    rep.breaks.append(self._break)
                    self._still = Stillness.BROKEN
            else:
                rep.held_ms += self._pending + dt
                self._unbroken += self._pending + dt
                self._pending = 0.0
                self._break = None
                self._still = Stillness.STILL
        elif st is Stillness.BROKEN:
            if moving:
                self._track_break_peak(k, r, filt, t)
            else:
                self._return_start = t
                self._pending = 0.0
                self._still = Stillness.RETURNING
        elif st is Stillness.RETURNING:
            if moving:
                self._track_break_peak(k, r, filt, t)
                self._pending = 0.0
                self._still = Stillness.BROKEN
            else:
                self._pending += dt
                if t - self._return_start >= s.grace_ms:
                    self._break.end_ms = self._return_start
                    self._break.resumed = "returned to the start position"
                    self._break = None
                    rep.held_ms += self._pending
                    self._unbroken = self._pending
                    self._pending = 0.0
                    self._still = Stillness.STILL
        rep.longest_unbroken_ms = max(rep.longest_unbroken_ms, self._unbroken)
        self._log.append((t, Phase.HOLD.value, rep.index, r))
        if self._still is Stillness.STILL and rep.held_ms >= self.protocol.hold_s * 1000:
            self._end_hold(t, "completed")
        elif t - rep.hold_start_ms >= s.timeout_s(self.protocol.hold_s) * 1000:
            self._end_hold(t, "timeout")
        return self._make_status(t, ratio=r, worst=self.channels.names[k], worst_value=float(filt[k]),
                                 worst_unit=self._units[k])

    def _reanchor(self, t: float, ref: Reference) -> HoldStatus:
        """After a break the joints are still again, at a new place: hold on from there.

        The break ends where the still window began; that window's time counts as held.
        """
        rep = self.reps[-1]
        end = max(self._recent.first_t, self._break.confirmed_ms)
        self._break.end_ms = end
        self._break.resumed = "still at a new position"
        self._break = None
        rep.reference = ref
        rep.reanchors += 1
        credit = t - end
        self._prev_hold_t = t
        rep.held_ms += credit
        self._unbroken = credit
        self._pending = 0.0
        self._still = Stillness.STILL
        self._filter = ChannelFilter(len(self.channels.names), self.settings.smooth_ms, self.settings.dropout_ms)
        rep.longest_unbroken_ms = max(rep.longest_unbroken_ms, self._unbroken)
        self._log.append((t, Phase.HOLD.value, rep.index, 0.0))
        return self._make_status(t, ratio=0.0)

    def _track_break_peak(self, k: int, r: float, filt: np.ndarray, t: float, new: bool = False) -> None:
        """Keep, for the current excursion, the channel with the largest ratio and its deviation."""
        if new or self._break is None:
            self._break = Break(self._onset, t, None, self.channels.names[k], float(filt[k]),
                                self._units[k], float(self._band[k]))
            self._break_ratio = r
        elif r > self._break_ratio:
            self._break.channel = self.channels.names[k]
            self._break.magnitude = float(filt[k])
            self._break.unit = self._units[k]
            self._break.band = float(self._band[k])
            self._break_ratio = r

    def _end_hold(self, t: float, outcome: str) -> None:
        rep = self.reps[-1]
        if self._still is Stillness.MOVING:          # an unconfirmed excursion at the end counts as still
            rep.held_ms += self._pending
            self._unbroken += self._pending
        if self._still is Stillness.RETURNING:
            rep.held_ms += self._pending
            self._unbroken = self._pending
        if self._break is not None and self._still in (Stillness.BROKEN, Stillness.RETURNING):
            self._break.end_ms = self._return_start if self._still is Stillness.RETURNING else t
        rep.longest_unbroken_ms = max(rep.longest_unbroken_ms, self._unbroken)
        rep.hold_end_ms = t
        rep.outcome = outcome
        self._reset_hold_state()
        if outcome == "stream_ended":
            return
        self._enter(Phase.RELAX, t)

    def _barrier_of(self, frames: list) -> Barrier | None:
        """The barrier angle over buffered (t, px, vis, ...) frames."""
        if not frames:
            return None
        return measure_barrier(self.protocol.barrier_angle, np.array([f[0] for f in frames]),
                               np.stack([f[1] for f in frames]), np.stack([f[2] for f in frames]))

    def _timed(self, t, px, vis, ang) -> HoldStatus:
        length = self.protocol.relax_s if self.phase is Phase.RELAX else self.protocol.stretch_s
        elapsed = (t - self._phase_start) / 1000
        if self.phase is Phase.STRETCH and self.protocol.barrier_angle:
            self._buf.append((t, px, vis))
        if elapsed >= length:
            if self.phase is Phase.STRETCH and self.protocol.barrier_angle:
                # the new barrier: where the person rests over the last settle_s of the stretch
                window = [f for f in self._buf if f[0] >= t - self.settings.settle_s * 1000]
                self.reps[-1].barrier = self._barrier_of(window)
            if self.phase is Phase.RELAX and self.protocol.stretch_s > 0:
                self._enter(Phase.STRETCH, t)
            elif len(self.reps) >= self.protocol.repetitions:
                self._enter(Phase.DONE, t)
            else:
                self._enter(Phase.POSITION, t)
            return self._make_status(t)
        return self._make_status(t, remaining=length - elapsed)

    def _done(self, t, px, vis, ang) -> HoldStatus:
        return self._make_status(t)

    # ------------------------------------------------------------------ output
    def _make_status(self, t: float, remaining: float | None = None, stillness: Stillness | None = None,
                     ratio: float = np.nan, worst: str | None = None, worst_value: float | None = None,
                     worst_unit: str | None = None) -> HoldStatus:
        rep = self.reps[-1] if self.reps and self.phase is Phase.HOLD else None
        held = unbroken = 0.0
        if rep is not None:
            # only still time a later-detected movement can no longer take back (see module doc);
            # the running maximum guards the display against any edge case of that bound
            settled = rep.held_ms - min(self._unbroken, self._filter.max_smooth_ms)
            self._shown_held = held = max(self._shown_held, settled)
            unbroken = self._unbroken
            remaining = max(0.0, self.protocol.hold_s - held / 1000)
        rep_no = 0 if self.phase is Phase.CALIBRATE else min(len(self.reps) + (self.phase is Phase.POSITION),
                                                              self.protocol.repetitions)
        msg = INSTRUCTIONS[self.phase]
        st = stillness or (self._still if self.phase is Phase.HOLD else Stillness.NOT_JUDGED)
        if self.phase is Phase.HOLD and st in (Stillness.MOVING, Stillness.BROKEN) and worst:
            msg = f"{worst.replace('_', ' ')} moved"
        elif st is Stillness.NOT_VISIBLE:
            msg = "Joints not visible - step into view"
        return HoldStatus(
            timestamp_ms=t, phase=self.phase, rep=rep_no, repetitions=self.protocol.repetitions,
            phase_elapsed_s=(t - self._phase_start) / 1000 if self._phase_start is not None else 0.0,
            phase_remaining_s=remaining, held_s=held / 1000, unbroken_s=unbroken / 1000, stillness=st,
            ratio=ratio, worst_channel=worst, worst_value=worst_value, worst_unit=worst_unit,
            breaks=len(self.reps[-1].breaks) if rep is not None else 0, message=msg)

    def result(self) -> HoldResult:
        """The result so far; an open hold is closed as ``stream_ended`` (the monitor is not reused)."""
        if self._frames and not self._ever_visible:
            raise NotMeasurableError(
                f"none of the joints exercise {self.protocol.exercise_id!r} watches "
                f"({', '.join(self.channels.names)}) was visible in any of the {self._frames} frames; "
                "film so that they are in view")
        if self._frames == 0:
            raise NotMeasurableError("no frames were given to the hold monitor")
        if self.phase is Phase.HOLD:
            self._end_hold(self._last_t, "stream_ended")
            self.phase = Phase.DONE if len(self.reps) >= self.protocol.repetitions else Phase.POSITION
        notes = list(self.notes)
        if self.phase is Phase.CALIBRATE:
            notes.append("the input ended during calibration; default band used")
        if not self.reps:
            notes.append(f"no hold started: the watched joints were never visible and within the band for "
                         f"{self.settings.settle_s:g} s")
        return HoldResult(self.protocol, self.settings, self.band, list(self.reps), self._timeline(),
                          self._frames, (self._last_t - self._first_t) / 1000, self.phase, notes,
                          first_barrier=self.first_barrier)

    def _timeline(self) -> list[dict]:
        """Second by second during holds: fraction of the judged time that was still, worst ratio."""
        if not self._log:
            return []
        t = np.array([row[0] for row in self._log])
        rep = np.array([row[2] for row in self._log])
        ratio = np.array([row[3] for row in self._log])
        still = np.ones(len(t), dtype=bool)
        for r in self.reps:
            for b in r.breaks:
                end = b.end_ms if b.end_ms is not None else np.inf
                still[(rep == r.index) & (t >= b.onset_ms) & (t < end)] = False
        sec = np.floor((t - self._first_t) / 1000).astype(int)
        rows = []
        for key in sorted(set(zip(rep.tolist(), sec.tolist()))):
            m = (rep == key[0]) & (sec == key[1])
            rows.append({"rep": key[0], "second": key[1], "still_fraction": _r(still[m].mean(), 3),
                         "max_ratio": _r(float(ratio[m].max()), 3), "frames": int(m.sum())})
        return rows


_NO_ANGLES = np.zeros(0)


def check_hold(track: LandmarkTrack, protocol: HoldProtocol, settings: HoldSettings = HoldSettings(),
               band: Band | None = None, angle_fn: AngleFunction | None = None) -> HoldResult:
    """Offline convenience: a fresh monitor fed with the whole track."""
    result = HoldMonitor.for_track(protocol, track, settings=settings, band=band, angle_fn=angle_fn).run(track)
    result.source = track.meta.source
    return result
