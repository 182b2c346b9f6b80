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
        row.items = _item_rows(plan)
        s.add(row)
    return plan_id


def _item_rows(plan: Any) -> list[TherapyPlanItemRow]:
    return [TherapyPlanItemRow(position=k, exercise_id=i.exercise_id, side=i.side, hold_s=i.hold_s,
                               relax_s=i.relax_s, stretch_s=i.stretch_s, repetitions=i.repetitions,
                               per_week=i.per_week, note=i.note) for k, i in enumerate(plan.items)]


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
                   files: Mapping[str, Any] | None = None, *, recorded_utc: str | None = None) -> str:
    """Save a finished hold as a session and record it against its plan item; the session id. The hold's
    document names the item (``context.plan_item``) whoever ran it."""
    context = dict(hold_result.get("context") or {}) | {"plan_item": {"exercise_id": item.exercise_id,
                                                                      "side": item.side}}
    sid = save_hold(store, patient_id, dict(hold_result) | {"context": context}, item.exercise_id, files,
                    recorded_utc=recorded_utc, notes=f"plan {plan.plan_id}: {item.exercise_id} ({item.side})")
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


def record_pain_after(store: Store, session_id: str, pain_after: int) -> dict[str, Any]:
    """Pain after a hold already saved (the dashboard saves the hold as it ends, then asks): kept in the
    hold's document (``context.safety``) with the stop rule's answer; returns that record."""
    from assessment.safety import pain_record

    sid = store.resolve_session(session_id)
    with store.writing() as s:
        row = s.get(Session, sid)
        if row is None or row.kind != "hold":
            raise NotFoundError(f"no hold session {session_id}")
        doc = dict(row.document)
        context = dict(doc.get("context") or {})
        before = (context.get("safety") or {}).get("pain_before")
        if before is None:
            raise NotFoundError(f"hold session {session_id} has no pain before the exercise to compare with")
        context["safety"] = pain_record(before, pain_after)
        row.document = doc | {"context": context}        # a new dict: the JSON column sees the change
    return context["safety"]


def hold_log(store: Store, patient_id: str) -> list[dict[str, Any]]:
    """Every hold of the patient (oldest first) as the therapist reads it: exercise, side (from the
    plan), repetitions counted, pain before and after with the stop rule's answer, barrier range."""
    from assessment.exercises import load_catalog

    names = {e.id: e.name for e in load_catalog()}
    pid = store.resolve_patient(patient_id)
    out = []
    for s in store.sessions(pid):
        if s["kind"] != "hold":
            continue
        doc = store.session(s["id"])["document"]
        context, summary = doc.get("context") or {}, doc.get("summary") or {}
        safety, barrier = context.get("safety") or {}, doc.get("barrier") or {}
        out.append({"session_id": s["id"], "recorded_utc": s["recorded_utc"],
                    "exercise_id": s["holds"][0]["exercise_id"],
                    "exercise_name": names.get(s["holds"][0]["exercise_id"], s["holds"][0]["exercise_name"]),
                    "side": (context.get("plan_item") or {}).get("side", ""),
                    "counted": summary.get("repetitions_counted"), "planned": summary.get("repetitions_planned"),
                    "pain_before": safety.get("pain_before"), "pain_after": safety.get("pain_after"),
                    "pain_stop": safety.get("stop"), "barrier": barrier, "document": doc})
    return out


def barrier_gains(store: Store, patient_id: str) -> list[dict[str, Any]]:
    """Per exercise and side: the range gained at the barrier from the first measured hold to the latest
    (``assessment.barrier.gain_over_sessions``: beyond noise only beyond the error of the difference and
    the 5 deg MDC). Only exercises with a measured barrier in at least two holds."""
    from assessment.barrier import gain_over_sessions

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    names: dict[str, str] = {}
    for h in hold_log(store, patient_id):
        groups.setdefault((h["exercise_id"], h["side"]), []).append(h["document"])
        names[h["exercise_id"]] = h["exercise_name"] or h["exercise_id"]
    out = []
    for (eid, side), docs in groups.items():
        g = gain_over_sessions(docs)
        if g is not None:
            out.append({"exercise_id": eid, "exercise_name": names[eid], "side": side} | g)
    return out


# ---------------------------------------------------------------------------------------- export / import
MAX_PLANS = 10_000
PLAN_KEYS = ("id", "saved_utc", "note", "document", "holds")
PLAN_HOLD_KEYS = ("item", "session_id", "done_utc", "repetitions_counted")


def plan_records(store: Store, patient_id: str) -> list[dict[str, Any]]:
    """Every plan saved for the patient (oldest first) with the holds done from each item: what a
    patient record (``store.record``) carries, so adherence survives export and import."""
    pid = store.resolve_patient(patient_id)
    out = []
    with store.reading() as s:
        rows = s.scalars(sa.select(TherapyPlanRow).where(TherapyPlanRow.patient_id == pid)
                         .order_by(TherapyPlanRow.saved_utc, TherapyPlanRow.id)).all()
        for row in rows:
            holds = [{"item": item.position, "session_id": h.session_id, "done_utc": h.done_utc,
                      "repetitions_counted": h.repetitions_counted}
                     for item in row.items for h in item.holds]
            out.append({"id": row.id, "saved_utc": row.saved_utc, "note": row.note, "document": dict(row.document),
                        "holds": sorted(holds, key=lambda h: (h["done_utc"], h["session_id"]))})
    return out


def check_plans(plans: Any, session_kinds: Mapping[str, str], patient_id: str) -> None:
    """A record's plans by the rules of saving one (``assessment.therapy_plan``: catalog exercises, sides,
    doses) and the store's (ids, times, notes); every hold names a hold session of the same record.
    ``RecordError`` names the first problem."""
    from assessment.therapy_plan import plan_from_dict
    from store.documents import check_notes
    from store.errors import RecordError
    from store.paths import check_id, shown
    from vision.errors import IsobalanceError

    def need(ok: bool, message: str) -> None:
        if not ok:
            raise RecordError(message)

    need(isinstance(plans, list) and len(plans) <= MAX_PLANS, "plans must be a list")
    seen: set[str] = set()
    for p in plans:
        need(isinstance(p, dict) and all(k in p for k in PLAN_KEYS), f"a plan must be an object with "
                                                                   f"{', '.join(PLAN_KEYS)}")
        plan_id = check_id(p["id"], "plan id")
        need(plan_id not in seen, f"plan {plan_id} is listed twice")
        seen.add(plan_id)
        check_utc(p["saved_utc"]), check_notes(p["note"])
        doc = p["document"]
        need(isinstance(doc, dict), f"plan {plan_id}: its document must be an object")
        try:
            plan = plan_from_dict(doc)
        except IsobalanceError as exc:
            raise RecordError(f"plan {plan_id}: {exc}") from None
        need((plan.plan_id, plan.saved_utc, plan.patient_id, plan.note) == (plan_id, p["saved_utc"], patient_id,
                                                                             p["note"]),
             f"plan {plan_id}: its document does not match the record (edited by hand?)")
        for item in plan.items:
            check_notes(item.note)
        need(isinstance(p["holds"], list), f"plan {plan_id}: holds must be a list")
        done: set[str] = set()
        for h in p["holds"]:
            need(isinstance(h, dict) and all(k in h for k in PLAN_HOLD_KEYS),
                 f"plan {plan_id}: a hold must be an object with {', '.join(PLAN_HOLD_KEYS)}")
            k = h["item"]
            need(type(k) is int and 0 <= k < len(plan.items), f"plan {plan_id}: hold item {shown(k)} is not an "
                                                              "item of the plan")
            sid = check_id(h["session_id"], "session id")
            need(session_kinds.get(sid) == "hold" and sid not in done,
                 f"plan {plan_id}: hold {sid} is not a hold session of this record (or is listed twice)")
            done.add(sid)
            check_utc(h["done_utc"])
            n = h["repetitions_counted"]
            need(type(n) is int and 0 <= n <= 10_000, f"plan {plan_id}: repetitions counted {shown(n)} is not valid")


def imported_plans(record: Mapping[str, Any]) -> list[TherapyPlanRow]:
    """The ORM rows of a record's plans (checked by ``check_plans``), saved with its sessions."""
    from assessment.therapy_plan import plan_from_dict

    rows = []
    for p in record.get("plans", []):
        plan = plan_from_dict(p["document"])
        row = TherapyPlanRow(id=p["id"], patient_id=record["patient"]["id"], saved_utc=p["saved_utc"], note=p["note"],
                             document=p["document"])
        row.items = _item_rows(plan)
        for h in p["holds"]:
            row.items[h["item"]].holds.append(PlanHoldRow(session_id=h["session_id"], done_utc=h["done_utc"],
                                                          repetitions_counted=h["repetitions_counted"]))
        rows.append(row)
    return rows
