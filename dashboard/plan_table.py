"""The exercise plan as an editable table, and the therapist's edited plan as JSON.

The suggested plan comes from the report (``assessment.exercises.plan_for``); the therapist may
switch rows off, change side, repetitions and hold time, or add catalog exercises. The edited plan
keeps every catalog field of each exercise (steps, effort, safety, sources) so it can be handed to
the patient or to the hold checker, and says plainly that a therapist edited it. ``therapy_plan`` turns
it into the plan saved for the patient (``store.plans``): side left/right/both, the edited dose.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Mapping

import pandas as pd

from assessment.exercises import Catalog

SIDES = ("left", "right", "both")
COLUMNS = ("include", "exercise", "side", "reps", "hold_s", "technique", "why")
MAX_REPS, MAX_HOLD_S = 20, 60


def plan_rows(plan: list[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per suggested exercise, in the plan's order (release short muscles first)."""
    rows = [{"include": True, "exercise": p["exercise"]["name"], "side": p["side"],
             "reps": int(p["exercise"]["repetitions"]), "hold_s": float(p["exercise"]["hold_s"]),
             "technique": p["exercise"]["technique"], "why": "; ".join(p.get("why", []))} for p in plan]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype({"include": bool, "exercise": object, "side": object, "reps": "Int64",
                         "hold_s": float, "technique": object, "why": object})


def _blank(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v)


def edited_plan(edited: pd.DataFrame, catalog: Catalog, report: Mapping[str, Any]) -> dict[str, Any]:
    """The plan as the therapist left it: included rows only, edited values, full catalog details.

    Rows without an exercise are skipped and listed in ``skipped`` (a half-filled added row)."""
    by_name = {e.name: e for e in catalog}
    suggested = {(p["exercise"]["name"], p["side"]): p for p in report.get("plan", [])}
    exercises, skipped = [], []
    for i, row in enumerate(edited.to_dict("records")):
        if _blank(row.get("include")) or not bool(row["include"]):
            continue
        name = row.get("exercise")
        if _blank(name) or name not in by_name:
            skipped.append(f"row {i + 1}: no exercise chosen")
            continue
        ex = by_name[name].to_dict()
        side = row.get("side") if row.get("side") in SIDES else ("both" if ex["side"] == "both" else None)
        if side is None:
            skipped.append(f"row {i + 1} ({name}): choose a side")
            continue
        reps = ex["repetitions"] if _blank(row.get("reps")) else int(min(max(int(row["reps"]), 1), MAX_REPS))
        hold = ex["hold_s"] if _blank(row.get("hold_s")) else float(min(max(float(row["hold_s"]), 1.0), MAX_HOLD_S))
        source = suggested.get((name, side))
        exercises.append({**ex, "side": side, "repetitions": reps, "hold_s": hold,
                          "suggested": source is not None,
                          "why": list(source.get("why", [])) if source else ["added by the therapist"],
                          "hypothesis_ids": list(source.get("hypothesis_ids", [])) if source else []})
    return {"kind": "isobalance-exercise-plan", "edited_by_therapist": True,
            "edited_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "recording": (report.get("input") or {}).get("name"), "report_created_utc": report.get("created_utc"),
            "exercises": exercises, "skipped": skipped,
            "note": "Start only after a therapist has confirmed the hypotheses; keep holds painless and light."}


def therapy_plan(plan: Mapping[str, Any], catalog: Catalog, patient_id: str = ""):
    """The edited plan as the ``assessment.therapy_plan.TherapyPlan`` saved for the patient."""
    from assessment.therapy_plan import item_for, plan_of

    items = [item_for(catalog.get(e["id"]), e["side"], {"hold_s": e["hold_s"], "repetitions": e["repetitions"]})
             for e in plan["exercises"]]
    return plan_of(items, patient_id=patient_id, note=f"from the review of {plan.get('recording') or 'a recording'}",
                   catalog=catalog)
