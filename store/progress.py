"""A patient's progress: each metric over sessions with its uncertainty band and threshold, holds per
exercise, and a plain-language "what changed since last time".

A change is called real only when it is larger than what the measurement itself can produce: the two
sessions' bands (95% CI of the median widened by the model error allowance, the interval the flag rule
uses) must not overlap, and where a published minimal detectable change (MDC) exists the difference
must exceed it too. Anything smaller is reported as "no change beyond the measurement uncertainty".
Sources (clinical-reference.md): "flag change only beyond published MDC (CVA ~5 deg, FPPA ~5-10 deg)"
[Gallego20] [Ceballos23].
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from assessment.thresholds import POSTURE_ANGLE_MDC_DEG, static_threshold

# metric -> (MDC, source). FPPA: upper end of the app MDC range, so a change is never overcalled.
FRONTAL_TILTS = ("head_tilt", "shoulder_line_tilt", "pelvis_line_tilt", "trunk_lateral_lean")
MDC: dict[str, tuple[float, str]] = {
    **{m: (POSTURE_ANGLE_MDC_DEG, "[Gallego20] smallest published MDC of a 2-D posture-app angle")
       for m in FRONTAL_TILTS},
    "cva_proxy_left": (5.0, "[Gallego20] CVA app MDC 5.0 deg"),
    "cva_proxy_right": (5.0, "[Gallego20] CVA app MDC 5.0 deg"),
    "knee_fppa_left": (9.7, "[Ceballos23] FPPA app MDC 4.7-9.7 deg (upper end)"),
    "knee_fppa_right": (9.7, "[Ceballos23] FPPA app MDC 4.7-9.7 deg (upper end)"),
}


@dataclass(frozen=True)
class MetricPoint:
    session_id: str
    recorded_utc: str
    status: str
    value: float | None
    low: float | None          # band: 95% CI widened by the model error allowance
    high: float | None
    direction: str             # plain words from the finding, e.g. "right shoulder higher by 4.2 deg"

    @property
    def measured(self) -> bool:
        return self.status != "not_measurable" and self.value is not None


@dataclass(frozen=True)
class MetricSeries:
    key: str                   # kind-metric, as in the report
    metric: str
    kind: str
    label: str
    unit: str
    threshold: float | None
    threshold_direction: str   # "abs" | "below" | "above"
    threshold_source: str
    mdc: float | None
    mdc_source: str
    points: tuple[MetricPoint, ...]


@dataclass(frozen=True)
class HoldPoint:
    session_id: str
    recorded_utc: str
    exercise_id: str
    exercise_name: str
    repetitions_completed: int
    repetitions_planned: int
    held_still_s: float        # summed over repetitions
    breaks: int


@dataclass(frozen=True)
class Change:
    key: str
    label: str
    real: bool
    delta: float | None
    sentence: str


@dataclass
class Progress:
    patient_id: str
    metrics: dict[str, MetricSeries]
    holds: dict[str, list[HoldPoint]]
    changes: list[Change] = field(default_factory=list)
    hold_changes: list[str] = field(default_factory=list)
    n_assessments: int = 0


def threshold_direction(metric: str, kind: str) -> str:
    if kind == "static":
        thr = static_threshold(metric)
        if thr is not None:
            return thr.direction
    if metric.startswith("knee_fppa"):
        return "above"
    return "abs"


def _series_from_sessions(sessions: Iterable[dict[str, Any]]) -> dict[str, MetricSeries]:
    points: dict[str, list[MetricPoint]] = defaultdict(list)
    latest: dict[str, dict[str, Any]] = {}
    for s in sessions:
        if s["kind"] != "assessment":
            continue
        for f in s["findings"]:
            points[f["key"]].append(MetricPoint(s["id"], s["recorded_utc"], f["status"], f["value"],
                                                f["ci_low"], f["ci_high"], f["direction"] or ""))
            latest[f["key"]] = f
    out = {}
    for key, pts in points.items():
        f = latest[key]
        mdc, mdc_source = MDC.get(f["metric"], (None, ""))
        out[key] = MetricSeries(key=key, metric=f["metric"], kind=f["kind"], label=f["label"], unit=f["unit"],
                                threshold=f["threshold"], threshold_direction=threshold_direction(f["metric"], f["kind"]),
                                threshold_source=f["threshold_source"], mdc=mdc, mdc_source=mdc_source,
                                points=tuple(pts))
    return out


def metric_history(store, patient_id: str) -> dict[str, MetricSeries]:
    """Every metric the patient's assessments reported, oldest session first."""
    return _series_from_sessions(store.sessions(patient_id))


def hold_history(store, patient_id: str) -> dict[str, list[HoldPoint]]:
    """exercise id -> its holds over sessions (oldest first)."""
    return _holds_from_sessions(store.sessions(patient_id))


def _holds_from_sessions(sessions: Iterable[dict[str, Any]]) -> dict[str, list[HoldPoint]]:
    out: dict[str, list[HoldPoint]] = defaultdict(list)
    for s in sessions:
        for h in s["holds"]:
            out[h["exercise_id"]].append(HoldPoint(
                s["id"], s["recorded_utc"], h["exercise_id"], h["exercise_name"] or h["exercise_id"],
                h["repetitions_completed"], h["repetitions_planned"],
                float(sum(r["held_still_s"] or 0.0 for r in h["repetitions"])), h["breaks"]))
    return dict(out)


def _num(v: float, unit: str) -> str:
    return f"{v:.1f}°" if unit in ("deg", "°") else f"{v:.1f} {unit}".rstrip()


def _band(p: MetricPoint, unit: str) -> str:
    return f"{_num(p.low, unit)} to {_num(p.high, unit)}"


def _which_way(prev: float, cur: float, direction: str) -> str:
    if direction == "below":      # e.g. CVA: higher is toward the normal range
        return "higher (toward the normal range)" if cur > prev else "lower (away from the normal range)"
    if direction == "above":
        return "lower (toward the normal range)" if cur < prev else "higher (away from the normal range)"
    if prev * cur < 0 and abs(cur) > 0 and abs(prev) > 0:
        return "with the other side now higher"
    return "closer to level" if abs(cur) < abs(prev) else "further from level"


def compare(series: MetricSeries, prev: MetricPoint, cur: MetricPoint) -> Change:
    """Is the difference between two sessions larger than the measurement uncertainty? In plain words."""
    label, unit = series.label, series.unit
    if not prev.measured or not cur.measured:
        which = "this time" if not cur.measured else "last time"
        return Change(series.key, label, False, None, f"{label}: not measurable {which}, so it cannot be compared.")
    delta = cur.value - prev.value
    head = f"{label}: {_num(prev.value, unit)} → {_num(cur.value, unit)}"
    if None in (prev.low, prev.high, cur.low, cur.high):
        return Change(series.key, label, False, delta,
                      f"{head}; the uncertainty of one session is unknown (too few frames), so no change is claimed.")
    overlap = prev.low <= cur.high and cur.low <= prev.high
    beyond_mdc = series.mdc is None or abs(delta) > series.mdc
    if not overlap and beyond_mdc:
        why = f"the two sessions' ranges ({_band(prev, unit)} and {_band(cur, unit)}) do not overlap"
        if series.mdc is not None:
            why += f" and the difference exceeds the smallest detectable change ({_num(series.mdc, unit)}, {series.mdc_source})"
        sentence = (f"{head}, {_which_way(prev.value, cur.value, series.threshold_direction)} by "
                    f"{_num(abs(delta), unit)}. This is a real change: {why}.")
        return Change(series.key, label, True, delta, sentence)
    if overlap:
        why = f"the ranges {_band(prev, unit)} and {_band(cur, unit)} overlap"
    else:
        why = (f"the difference ({_num(abs(delta), unit)}) is not above the smallest detectable change "
               f"({_num(series.mdc, unit)}, {series.mdc_source})")
    sentence = f"{head}: no change beyond the measurement uncertainty ({why})."
    if prev.status != cur.status:
        sentence += f" It was {prev.status.replace('_', ' ')} and is now {cur.status.replace('_', ' ')}, " \
                    "but that difference is within what the measurement itself varies."
    return Change(series.key, label, False, delta, sentence)


def what_changed(sessions: list[dict[str, Any]]) -> tuple[list[Change], list[str]]:
    """Metric changes between the last two assessments, and hold results vs the previous hold of the
    same exercise. ``sessions`` as ``Store.sessions(patient)`` returns them (oldest first)."""
    assessments = [s for s in sessions if s["kind"] == "assessment"]
    changes: list[Change] = []
    if len(assessments) >= 2:
        series = _series_from_sessions(assessments[-2:])
        prev_id, cur_id = assessments[-2]["id"], assessments[-1]["id"]
        for key, s in series.items():
            by_session = {p.session_id: p for p in s.points}
            if prev_id in by_session and cur_id in by_session:
                changes.append(compare(s, by_session[prev_id], by_session[cur_id]))
        changes.sort(key=lambda c: (not c.real, c.label))
    hold_lines = []
    for ex, pts in sorted(_holds_from_sessions(sessions).items()):
        cur = pts[-1]
        line = (f"{cur.exercise_name}: {cur.repetitions_completed} of {cur.repetitions_planned} repetitions "
                f"completed, {cur.held_still_s:.1f} s held still")
        if len(pts) >= 2:
            prev = pts[-2]
            line += (f" (last time {prev.repetitions_completed} of {prev.repetitions_planned}, "
                     f"{prev.held_still_s:.1f} s)")
        hold_lines.append(line + ".")
    return changes, hold_lines


def progress(store, patient_id: str) -> Progress:
    """Everything the history page and the exported report show for one patient."""
    pid = store.resolve_patient(patient_id)
    sessions = store.sessions(pid)
    changes, hold_lines = what_changed(sessions)
    return Progress(patient_id=pid, metrics=_series_from_sessions(sessions), holds=_holds_from_sessions(sessions),
                    changes=changes, hold_changes=hold_lines,
                    n_assessments=sum(s["kind"] == "assessment" for s in sessions))
