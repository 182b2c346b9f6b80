"""The ``Finding``: one measured (or not measurable) metric with its evidence.

Everything the assessment says about a body goes through this one record so that the rules, the
report and the dashboard never see a bare number: a value always travels with its threshold, the
source of that threshold, its uncertainty and the frames it was measured on.

Status values:

* ``"flagged"``        — |value| is beyond the threshold AND the measurement's own uncertainty
  (95% CI of the median) lies entirely beyond it too. A flag is a hypothesis, never a diagnosis.
* ``"within"``         — measured, not flagged. This includes metrics with no published cut-off
  (``threshold is None``): they are reported, never flagged.
* ``"not_measurable"`` — the view, visibility or framing does not allow the metric; ``reason`` says why.
  ``value`` may still hold a number when a flag was *suppressed* (e.g. suspected camera roll).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from vision.errors import IsobalanceError

FLAGGED = "flagged"
WITHIN = "within"
NOT_MEASURABLE = "not_measurable"
STATUSES = (FLAGGED, WITHIN, NOT_MEASURABLE)


class AssessmentError(IsobalanceError):
    """Landmarks cannot be assessed (the message says what is wrong and what to do)."""


class TrackInputError(AssessmentError):
    """The landmark input is malformed: wrong shape, missing frame size, unknown columns."""


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become None, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class Finding:
    metric: str            # angle/metric id from the table, e.g. "shoulder_line_tilt"
    label: str             # plain words, e.g. "Shoulder line tilt"
    view: str              # view it was measured in
    status: str            # "flagged" | "within" | "not_measurable"
    value: float | None    # median, degrees (or unit)
    unit: str
    threshold: float | None
    threshold_source: str  # e.g. "[Gallego20] MDC 5.0 deg; no published cut-off (conservative)"
    uncertainty: dict = field(default_factory=dict)  # {"iqr": [q1, q3], "ci95": [lo, hi], "n_frames": int}
    frames: list[int] = field(default_factory=list)  # key frame indices (evidence)
    side: str | None = None  # "left"|"right"|None: which side is higher/affected, subject's side
    direction: str = ""      # plain words, e.g. "right shoulder higher by 4.2 deg"
    reason: str = ""         # why not measurable / why suppressed (camera roll)
    kind: str = "static"     # "static" | "movement"
    details: dict = field(default_factory=dict)  # extra per-metric evidence (e.g. per-rep values)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown finding status {self.status!r}; expected one of {STATUSES}")

    @property
    def flagged(self) -> bool:
        return self.status == FLAGGED

    @property
    def measurable(self) -> bool:
        return self.status != NOT_MEASURABLE

    def to_dict(self) -> dict:
        return _clean(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> "Finding":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


REPORTED = "reported (no cut-off)"


def status_text(finding: "Finding | dict") -> str:
    """A finding's status as the reports and the dashboard print it.

    A metric with no published cut-off is measured and reported but never judged, so it must not read
    as "within" a threshold it does not have: it prints as "reported (no cut-off)".
    """
    get = finding.get if isinstance(finding, dict) else lambda k, d=None: getattr(finding, k, d)
    status = get("status")
    if status == WITHIN and get("threshold") is None:
        return REPORTED
    return {FLAGGED: "flagged", WITHIN: "within", NOT_MEASURABLE: "not measurable"}.get(status, str(status))
