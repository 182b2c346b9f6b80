"""Therapy plans in the store: the therapist saves a plan for a patient; the exercise page and
``isobalance hold --patient`` read the current one (the newest saved); each finished hold is recorded
against its plan item, which gives adherence (holds done / planned, per ISO week).

Plain functions over a ``Store`` (tables from migration 0003, ``store.models.TherapyPlanRow`` ...).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Mapping

import sqlalchemy as sa

from store.documents import check_utc, utc_now
from store.errors import NotFoundError
from store.models import PlanHoldRow, Session, TherapyPlanItemRow, TherapyPlanRow
from store.paths import new_id
from store.save import save_hold
from store.store import Store


def save_plan(store: Store, patient_id: str, plan: Any, *, saved_utc: str | None = None) -> str:
    """Save ``plan`` (an ``assessment.therapy_plan.TherapyPlan``) as the patient's current plan; its id."""
    pid = store.resolve_patient(patient_id)
    plan_id = new_id()
    when = check_utc(saved_utc or utc_now())
    doc = plan.to_dict() | {"patient_id": pid, "plan_id": plan_id, "saved_utc": when}
    with store.writing() as s:
        row = TherapyPlanRow(id=plan_id, patient_id=pid, saved_utc=when, note=plan.note, document=doc)
        row.items = [TherapyPlanItemRow(position=k, exercise_id=i.exercise_id, side=i.side, hold_s=i.hold_s,
                                        relax_s=i.relax_s, stretch_s=i.stretch_s, repetitions=i.repetitions,
                                        per_week=i.per_week, note=i.note) for k, i in enumerate(plan.items)]
        s.add(row)
    return plan_id


def current_plan(store: Store, patient_id: str) -> Any | None:
    """The newest plan saved for the patient (a ``TherapyPlan``), or None."""
    from assessment.therapy_plan import plan_from_dict

    pid = store.resolve_patient(patient_id)
    with store.reading() as s:
        row = s.scalars(sa.select(TherapyPlanRow).where(TherapyPlanRow.patient_id == pid)
                        .order_by(TherapyPlanRow.saved_utc.desc(), TherapyPlanRow.id.desc()).limit(1)).first()
        doc = None if row is None else dict(row.document)
    return None if doc is None else plan_from_dict(doc)


def _item_row(s, plan_id: str, exercise_id: str, side: str) -> TherapyPlanItemRow:
    row = s.scalars(sa.select(TherapyPlanItemRow).where(TherapyPlanItemRow.plan_id == plan_id,
                                                        TherapyPlanItemRow.exercise_id == exercise_id,
                                                        TherapyPlanItemRow.side == side)).first()
    if row is None:
        raise NotFoundError(f"plan {plan_id} has no item {exercise_id} ({side})")
    return row


def save_plan_hold(store: Store, patient_id: str, plan: Any, item: Any, hold_result: Mapping[str, Any],
                   files: Mapping[str, Any] | None = None) -> str:
    """Save a finished hold as a session and record it against its plan item; the session id."""
    sid = save_hold(store, patient_id, hold_result, item.exercise_id, files,
                    notes=f"plan {plan.plan_id}: {item.exercise_id} ({item.side})")
    counted = int((hold_result.get("summary") or {}).get("repetitions_counted") or 0)
    with store.writing() as s:
        row = _item_row(s, plan.plan_id, item.exercise_id, item.side)
        done = s.get(Session, sid).recorded_utc
        s.add(PlanHoldRow(item_id=row.id, session_id=sid, done_utc=done, repetitions_counted=counted))
    return sid


def _week(utc: str) -> str:
    d = _dt.datetime.strptime(utc, "%Y-%m-%dT%H:%M:%SZ").date().isocalendar()
    return f"{d[0]}-W{d[1]:02d}"


def adherence(store: Store, patient_id: str, now_utc: str | None = None) -> list[dict[str, Any]]:
    """Per item of the current plan: holds done this ISO week / planned per week, and every week so far."""
    plan = current_plan(store, patient_id)
    if plan is None:
        return []
    this_week = _week(check_utc(now_utc or utc_now()))
    out = []
    with store.reading() as s:
        for item in plan.items:
            row = _item_row(s, plan.plan_id, item.exercise_id, item.side)
            weeks: dict[str, int] = {}
            for h in row.holds:
                weeks[_week(h.done_utc)] = weeks.get(_week(h.done_utc), 0) + 1
            out.append({"exercise_id": item.exercise_id, "side": item.side, "per_week": item.per_week,
                        "done_this_week": weeks.get(this_week, 0), "week": this_week, "weeks": weeks})
    return out
