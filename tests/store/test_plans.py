"""The therapist's plan in the store (migration 0003): saved per patient, the newest is current, holds
done from it are recorded per item, adherence is done / planned per ISO week, and deleting the patient
removes it all. Real SQLite and PostgreSQL (store fixture)."""

from __future__ import annotations

import sqlalchemy as sa

from assessment.therapy_plan import plan_of
from store.models import PlanHoldRow, TherapyPlanItemRow, TherapyPlanRow
from store.plans import adherence, current_plan, save_plan, save_plan_hold
from tests.store import documents as docs

ITEMS = [{"exercise_id": "upper-trapezius-pir", "side": "right", "hold_s": 6, "relax_s": 2, "stretch_s": 8,
          "repetitions": 4, "per_week": 3},
         {"exercise_id": "lower-trapezius-low-row-hold", "side": "right", "hold_s": 12, "relax_s": 5, "stretch_s": 0,
          "repetitions": 6, "per_week": 5}]


def test_saved_plan_is_the_current_plan_side_and_dose_included(store):
    pid, other = store.add_patient("Ada"), store.add_patient("Bea")
    assert current_plan(store, pid) is None
    save_plan(store, pid, plan_of(ITEMS[:1], note="first"), saved_utc="2026-03-01T09:00:00Z")
    plan_id = save_plan(store, pid, plan_of(ITEMS, note="second"), saved_utc="2026-03-08T09:00:00Z")
    plan = current_plan(store, pid)
    assert plan.plan_id == plan_id and plan.note == "second" and plan.patient_id == pid
    assert [(i.exercise_id, i.side, i.hold_s, i.repetitions, i.per_week) for i in plan.items] == \
        [(d["exercise_id"], d["side"], d["hold_s"], d["repetitions"], d["per_week"]) for d in ITEMS]
    assert current_plan(store, other) is None


def test_holds_from_the_plan_give_adherence_per_week(store):
    pid = store.add_patient("Ada")
    save_plan(store, pid, plan_of(ITEMS), saved_utc="2026-03-01T09:00:00Z")
    plan = current_plan(store, pid)
    trap = plan.item("upper-trapezius-pir", "right")
    for _ in range(2):
        save_plan_hold(store, pid, plan, trap, docs.hold())
    rows = {r["exercise_id"]: r for r in adherence(store, pid)}
    assert rows["upper-trapezius-pir"]["done_this_week"] == 2 and rows["upper-trapezius-pir"]["per_week"] == 3
    assert rows["lower-trapezius-low-row-hold"]["done_this_week"] == 0
    assert [s["kind"] for s in store.sessions(pid)] == ["hold", "hold"]
    # another week: this week's count starts again, the history keeps both weeks
    later = adherence(store, pid, now_utc="2099-01-05T09:00:00Z")
    assert later[0]["done_this_week"] == 0 and sum(later[0]["weeks"].values()) == 2


def test_deleting_the_patient_removes_plans_and_their_holds(store):
    pid, keep = store.add_patient("Ada"), store.add_patient("Bea")
    for p in (pid, keep):
        save_plan(store, p, plan_of(ITEMS))
        plan = current_plan(store, p)
        save_plan_hold(store, p, plan, plan.items[0], docs.hold())
    store.delete_patient(pid)
    with store.reading() as s:
        counts = [s.scalar(sa.select(sa.func.count()).select_from(m)) for m in (TherapyPlanRow, TherapyPlanItemRow,
                                                                                  PlanHoldRow)]
    assert counts == [1, 2, 1]
    assert current_plan(store, keep) is not None
