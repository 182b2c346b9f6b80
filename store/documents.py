"""Turn a saved document (assessment report dict, hold result dict) into session fields and rows.

Pure functions, no database: the same code serves saving, importing and the migration test, so an
imported record is rebuilt row for row from the documents it carries.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Mapping

from store.errors import StoreError
from store.models import FindingRow, Hold, HoldRepetition, PlanItem, Session

ASSESSMENT = "assessment"
HOLD = "hold"
HOLD_DOCUMENT_KIND = "isobalance.hold"
UTC_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_utc(value: str) -> str:
    try:
        if not UTC_TEXT.fullmatch(value):
            raise ValueError(value)
        _dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        raise StoreError(f"time {value!r} must look like 2026-05-20T09:15:00Z (UTC)") from None
    return value


MAX_NAME = 200          # patients.display_name is String(200)
MAX_NOTES = 10_000


def check_patient(display_name: Any, notes: Any = "") -> tuple[str, str]:
    """A patient's (name, notes) as stored, or a ``StoreError``: the one rule for adding and importing."""
    name = display_name.strip() if isinstance(display_name, str) else ""
    if not name:
        raise StoreError("a patient needs a name (a pseudonym or initials will do)")
    if len(name) > MAX_NAME:
        raise StoreError(f"a patient name must be at most {MAX_NAME} characters")
    if any(unicodedata.category(c)[0] == "C" for c in name):
        raise StoreError("a patient name must not contain control characters")
    return name, check_notes(notes)


def check_notes(notes: Any) -> str:
    if not isinstance(notes, str) or len(notes) > MAX_NOTES or "\0" in notes:
        raise StoreError(f"notes must be text of at most {MAX_NOTES} characters")
    return notes


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def finding_band(uncertainty: Mapping[str, Any] | None) -> tuple[float | None, float | None, float | None]:
    """(low, high, systematic): the 95% CI widened by the model error allowance, the interval the flag
    rule in assessment/static.py uses. (None, None, systematic) when the finding has no CI."""
    u = uncertainty if isinstance(uncertainty, Mapping) else {}
    sys_err = _num(u.get("systematic"))
    ci = u.get("ci95")
    if not (isinstance(ci, (list, tuple)) and len(ci) == 2 and all(_num(v) is not None for v in ci)):
        return None, None, sys_err
    widen = sys_err or 0.0
    return float(ci[0]) - widen, float(ci[1]) + widen, sys_err


@dataclass
class SessionFields:
    """Everything a session row holds except ids and files."""

    kind: str
    recorded_utc: str
    source: str
    source_kind: str
    views: dict
    model: str
    settings: dict
    summary: list
    document: dict
    notes: str = ""
    findings: list[FindingRow] = field(default_factory=list)
    plan: list[PlanItem] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)

    def to_row(self, session_id: str, patient_id: str, saved_utc: str) -> Session:
        return Session(id=session_id, patient_id=patient_id, kind=self.kind, recorded_utc=self.recorded_utc,
                       saved_utc=saved_utc, source=self.source, source_kind=self.source_kind,
                       views=self.views, model=self.model, settings=self.settings, summary=self.summary,
                       document=self.document, notes=self.notes,
                       findings=self.findings, plan=self.plan, holds=self.holds)


def _source_kind(source: str, fallback: str) -> str:
    return "webcam" if source.startswith("webcam") else fallback


def assessment_fields(report: Mapping[str, Any], recorded_utc: str | None = None, notes: str = "") -> SessionFields:
    """From an assessment report dict (``Report.to_dict()``, validated against its schema)."""
    from assessment.report import finding_key, validate_report

    if not isinstance(report, Mapping):
        raise StoreError("an assessment must be saved as its report dict (Report.to_dict())")
    validate_report(report)                       # ReportError names the first broken place
    meta = report["track"].get("meta") or {}
    source = str(meta.get("source") or report["input"].get("path") or "")
    settings = {k: meta.get(k) for k in ("fps", "width", "height", "rotation", "smoothing", "subject")}
    settings["generator"] = report["generator"]
    findings = []
    for i, f in enumerate(report["findings"]):
        lo, hi, sys_err = finding_band(f.get("uncertainty"))
        findings.append(FindingRow(
            position=i, key=finding_key(f), metric=f["metric"], kind=f["kind"], label=f["label"], view=f["view"],
            status=f["status"], value=_num(f["value"]), unit=f["unit"], threshold=_num(f["threshold"]),
            threshold_source=f["threshold_source"], uncertainty=dict(f.get("uncertainty") or {}),
            direction=f.get("direction") or "", side=f.get("side"), ci_low=lo, ci_high=hi, systematic=sys_err))
    plan = [PlanItem(position=i, exercise_id=p["exercise"]["id"], name=p["exercise"]["name"],
                     technique=p["exercise"]["technique"], side=p["side"], why=list(p["why"]),
                     hypothesis_ids=list(p["hypothesis_ids"]))
            for i, p in enumerate(report["plan"])]
    return SessionFields(kind=ASSESSMENT, recorded_utc=check_utc(recorded_utc or report["created_utc"]),
                         source=source, source_kind=_source_kind(source, report["input"]["kind"]),
                         views=dict(report["views"]), model=str(meta.get("model") or ""), settings=settings,
                         summary=list(report["summary"]), document=dict(report), notes=notes,
                         findings=findings, plan=plan)


def hold_summary(h: Hold) -> str:
    held = sum(r.held_still_s or 0.0 for r in h.repetitions)
    name = h.exercise_name or h.exercise_id
    return (f"{name}: {h.repetitions_completed} of {h.repetitions_planned} repetitions completed, "
            f"{held:.1f} s held still in total, {h.breaks} break{'s' if h.breaks != 1 else ''}.")


def hold_fields(result: Mapping[str, Any], exercise_id: str, recorded_utc: str | None = None,
                notes: str = "") -> SessionFields:
    """From a hold result dict (``HoldResult.to_dict()``)."""
    if not isinstance(result, Mapping) or result.get("kind") != HOLD_DOCUMENT_KIND:
        raise StoreError("a hold must be saved as its result dict (HoldResult.to_dict(), kind 'isobalance.hold')")
    exercise = result.get("exercise") or {}
    if exercise.get("exercise_id") not in (None, exercise_id):
        raise StoreError(f"the hold result is for exercise {exercise.get('exercise_id')!r}, not {exercise_id!r}")
    try:
        summary = result["summary"]
        reps = [HoldRepetition(index=int(r["index"]), outcome=str(r["outcome"]),
                               hold_duration_s=_num(r.get("hold_duration_s")), held_still_s=_num(r.get("held_still_s")),
                               still_fraction=_num(r.get("still_fraction")),
                               longest_unbroken_s=_num(r.get("longest_unbroken_s")),
                               not_visible_s=_num(r.get("not_visible_s")), breaks=len(r.get("breaks") or []))
                for r in result["repetitions"]]
        hold = Hold(exercise_id=exercise_id, exercise_name=str(exercise.get("name") or ""),
                    technique=str(exercise.get("technique") or ""),
                    repetitions_planned=int(summary["repetitions_planned"]),
                    repetitions_completed=int(summary["repetitions_completed"]), breaks=int(summary["breaks"]),
                    duration_s=_num(summary.get("duration_s")), final_phase=str(summary["final_phase"]),
                    repetitions=reps)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"the hold result is incomplete or malformed ({type(exc).__name__}: {exc})") from None
    source = str(result.get("source") or "")
    return SessionFields(kind=HOLD, recorded_utc=check_utc(recorded_utc or utc_now()), source=source,
                         source_kind=_source_kind(source, "video" if source else "memory"), views={},
                         model=str(result.get("model") or ""), settings=dict(result.get("settings") or {}),
                         summary=[hold_summary(hold)], document=dict(result), notes=notes, holds=[hold])
