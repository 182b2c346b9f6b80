"""The exercise plan as rows a therapist edits, and the therapist's edited plan as JSON.

The suggested plan comes from the report (``assessment.exercises.plan_for``); the therapist may
switch rows off, change the exercise, its side and its dose (hold, relax, stretch, repetitions,
effort, sessions a week), or add catalog exercises. A row is a plain dict (``plan_rows``); the review
page edits it with standard widgets (``dashboard.pages.review.plan_editor``). The edited plan keeps
every catalog field of each exercise (steps, effort, safety, sources) so it can be handed to the
patient, and says plainly that a therapist edited it. ``therapy_plan`` turns it into the plan saved for
the patient (``store.plans``): side left/right/both, the edited dose.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from typing import Any, Mapping

from assessment.exercises import Catalog, Exercise
from assessment.therapy_plan import MAX_EFFORT_PCT

MAX_REPS, MAX_HOLD_S, MAX_PHASE_S, MAX_PER_WEEK = 20, 60, 120, 21


def side_options(ex: Exercise) -> tuple[str, ...]:
    """The sides a therapist may choose: an exercise done on both sides stays "both"; one done on the
    affected side must be resolved to left or right (never "affected")."""
    return ("both",) if ex.side == "both" else ("left", "right")


def row_for(ex: Exercise, side: str | None, why: list[str] | None = None, suggested: bool = False,
            hypothesis_ids: list[str] | None = None) -> dict[str, Any]:
    """A plan row with the catalog's dose; ``side`` None = the therapist still has to choose it."""
    if side not in side_options(ex):
        side = "both" if ex.side == "both" else None
    return {"include": True, "exercise_id": ex.id, "side": side, "hold_s": float(ex.hold_s),
            "relax_s": float(ex.relax_s), "stretch_s": float(ex.stretch_s), "reps": int(ex.repetitions),
            "effort_pct": (float(ex.effort_pct[0]), float(ex.effort_pct[1])), "per_week": 7,
            "why": list(why or []), "suggested": suggested, "hypothesis_ids": list(hypothesis_ids or [])}


def plan_rows(plan: list[Mapping[str, Any]], catalog: Catalog) -> list[dict[str, Any]]:
    """One row per suggested exercise, in the plan's order (release short muscles first)."""
    return [row_for(catalog.get(p["exercise"]["id"]), p["side"], list(p.get("why", [])), True,
                    list(p.get("hypothesis_ids", []))) for p in plan]


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v)


def _clamp(v: Any, default: float, low: float, high: float) -> float:
    return float(default) if _blank(v) else float(min(max(float(v), low), high))


def edited_plan(rows: list[Mapping[str, Any]], catalog: Catalog, report: Mapping[str, Any]) -> dict[str, Any]:
    """The plan as the therapist left it: included rows only, edited values, full catalog details.

    Rows without an exercise or a side are skipped and listed in ``skipped`` (the plan cannot be saved
    while one is)."""
    exercises, skipped = [], []
    for i, row in enumerate(rows):
        if not row.get("include"):
            continue
        eid = row.get("exercise_id")
        if _blank(eid) or eid not in catalog.ids:
            skipped.append(f"row {i + 1}: no exercise chosen")
            continue
        exercise = catalog.get(eid)
        ex = exercise.to_dict()
        side = row.get("side")
        if side not in side_options(exercise):
            skipped.append(f"row {i + 1} ({exercise.name}): choose a side")
            continue
        lo, hi = row.get("effort_pct") or exercise.effort_pct
        lo, hi = sorted((_clamp(lo, exercise.effort_pct[0], 0, MAX_EFFORT_PCT),
                         _clamp(hi, exercise.effort_pct[1], 0, MAX_EFFORT_PCT)))
        stretch = 0.0 if exercise.technique == "isometric" else _clamp(row.get("stretch_s"), ex["stretch_s"], 0,
                                                                       MAX_PHASE_S)
        exercises.append({**ex, "side": side,
                          "repetitions": int(_clamp(row.get("reps"), ex["repetitions"], 1, MAX_REPS)),
                          "hold_s": _clamp(row.get("hold_s"), ex["hold_s"], 1, MAX_HOLD_S),
                          "relax_s": _clamp(row.get("relax_s"), ex["relax_s"], 0, MAX_PHASE_S),
                          "stretch_s": stretch, "effort_pct": [lo, hi],
                          "per_week": int(_clamp(row.get("per_week"), 7, 1, MAX_PER_WEEK)),
                          "suggested": bool(row.get("suggested")),
                          "why": list(row.get("why") or []) or ["added by the therapist"],
                          "hypothesis_ids": list(row.get("hypothesis_ids") or [])})
    return {"kind": "isobalance-exercise-plan", "edited_by_therapist": True,
            "edited_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "recording": (report.get("input") or {}).get("name"), "report_created_utc": report.get("created_utc"),
            "exercises": exercises, "skipped": skipped,
            "note": "Start only after a therapist has confirmed the hypotheses; keep holds painless and light."}


def therapy_plan(plan: Mapping[str, Any], catalog: Catalog, patient_id: str = ""):
    """The edited plan as the ``assessment.therapy_plan.TherapyPlan`` saved for the patient."""
    from assessment.therapy_plan import item_for, plan_of

    dose_keys = ("hold_s", "relax_s", "stretch_s", "repetitions", "effort_pct", "per_week")
    items = [item_for(catalog.get(e["id"]), e["side"], {k: e[k] for k in dose_keys if k in e})
             for e in plan["exercises"]]
    return plan_of(items, patient_id=patient_id, note=f"from the review of {plan.get('recording') or 'a recording'}",
                   catalog=catalog)


def plan_download(plan: Mapping[str, Any], catalog: Catalog, patient_id: str = "") -> str:
    """The edited plan as the JSON file ``isobalance hold --plan FILE`` runs: the saved plan's format
    (its ``items`` are what runs), plus the recording, the edit time and each exercise's catalog details
    and reasons (``exercises``) for the therapist's records."""
    doc = therapy_plan(plan, catalog, patient_id).to_dict()
    doc.update({k: plan.get(k) for k in ("recording", "report_created_utc", "edited_utc", "exercises")})
    return json.dumps(doc, indent=2, ensure_ascii=False)
