"""The therapist's plan in the store (migration 0003): saved per patient, the newest is current, holds
done from it are recorded per item, adherence is done / planned per ISO week, and deleting the patient
removes it all. Real SQLite and PostgreSQL (store fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from assessment.therapy_plan import plan_of
from store.models import PlanHoldRow, TherapyPlanItemRow, TherapyPlanRow
from store import ConflictError, RecordError
from store.plans import adherence, current_plan, save_plan, save_plan_hold
from store.record import export_patient, import_patient
from tests.store import documents as docs

ITEMS = docs.PLAN_ITEMS


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
    assert counts == [1, 2, 1] == plan_rows_count(store)          # count_rows counts the plan tables too
    assert current_plan(store, keep) is not None


# ------------------------------------------------------------------------- export / import (store.record)
def plan_rows_count(store) -> list[int]:
    rows = store.count_rows()
    return [rows["therapy_plans"], rows["therapy_plan_items"], rows["plan_holds"]]


@pytest.fixture
def exported(store, tmp_path):
    """A patient with two saved plans and two holds done from the current one's first item, exported then
    deleted."""
    pid = store.add_patient("Ada")
    save_plan(store, pid, plan_of(ITEMS[:1], note="first"), saved_utc="2026-03-01T09:00:00Z")
    save_plan(store, pid, plan_of(ITEMS, note="second"), saved_utc="2026-03-08T09:00:00Z")
    plan = current_plan(store, pid)
    save_plan_hold(store, pid, plan, plan.items[0], docs.hold())
    save_plan_hold(store, pid, plan, plan.items[0], docs.hold(seed=1))
    before = {"plan": current_plan(store, pid), "adherence": adherence(store, pid), "rows": plan_rows_count(store)}
    out = export_patient(store, pid, tmp_path / "export")
    store.delete_patient(pid)
    assert plan_rows_count(store) == [0, 0, 0]
    return pid, out, before


def test_plans_and_their_holds_survive_export_and_import(store, exported, tmp_path):
    pid, out, before = exported
    record = json.loads((out / "record.json").read_text())
    assert [p["note"] for p in record["plans"]] == ["first", "second"]
    assert import_patient(store, out) == pid
    assert current_plan(store, pid) == before["plan"]                      # side and dose included
    assert adherence(store, pid) == before["adherence"]                    # done / planned per week
    assert plan_rows_count(store) == before["rows"]
    again = export_patient(store, pid, tmp_path / "again")
    assert (again / "record.json").read_bytes() == (out / "record.json").read_bytes()


def test_a_record_without_plans_still_imports(store, exported):
    pid, out, _ = exported
    edit(out, lambda r: r.pop("plans"))
    assert import_patient(store, out) == pid and current_plan(store, pid) is None


def edit(out: Path, change) -> None:
    record = json.loads((out / "record.json").read_text())
    change(record)
    (out / "record.json").write_text(json.dumps(record))


HOSTILE_PLANS = [
    ("plans", lambda r: r.update(plans={"a": 1}), "plans must be a list"),
    ("plan id", lambda r: r["plans"][0].update(id="../../victim"), "plan id"),
    ("missing key", lambda r: r["plans"][0].pop("holds"), "plan must be an object"),
    ("twice", lambda r: r["plans"].append(r["plans"][0]), "listed twice"),
    ("saved", lambda r: r["plans"][0].update(saved_utc="yesterday"), "UTC"),
    ("note", lambda r: r["plans"][0].update(note="x" * 100_000), "notes"),
    ("kind", lambda r: r["plans"][1]["document"].update(kind="<script>"), "not an isobalance plan"),
    ("exercise", lambda r: r["plans"][1]["document"]["items"][0].update(exercise_id="../../etc"), "plan item 1"),
    ("side", lambda r: r["plans"][1]["document"]["items"][0].update(side="affected"), "side must be one of"),
    ("dose", lambda r: r["plans"][1]["document"]["items"][0].update(hold_s=float("inf")), "hold_s"),
    ("effort", lambda r: r["plans"][1]["document"]["items"][0].update(effort_pct=[10, 90]), "effort_pct"),
    ("document id", lambda r: r["plans"][1]["document"].update(plan_id=r["plans"][0]["id"]), "does not match"),
    ("item note", lambda r: r["plans"][1]["document"]["items"][0].update(note="y" * 100_000), "notes"),
    ("hold item", lambda r: r["plans"][1]["holds"][0].update(item=7), "not an item of the plan"),
    ("hold session", lambda r: r["plans"][1]["holds"][0].update(session_id="0" * 32), "not a hold session"),
    ("hold twice", lambda r: r["plans"][1]["holds"].append(r["plans"][1]["holds"][0]), "listed twice"),
    ("hold time", lambda r: r["plans"][1]["holds"][0].update(done_utc=None), "UTC"),
    ("hold count", lambda r: r["plans"][1]["holds"][0].update(repetitions_counted=True), "repetitions counted"),
]


def test_every_field_of_an_imported_plan_is_checked_before_anything_is_written(store, exported):
    pid, out, _ = exported
    clean = (out / "record.json").read_text()
    rows = store.count_rows()
    for field, change, message in HOSTILE_PLANS:
        edit(out, change)
        with pytest.raises(RecordError, match=message):
            import_patient(store, out)
        (out / "record.json").write_text(clean)
        assert store.count_rows() == rows and plan_rows_count(store) == [0, 0, 0], field
    assert import_patient(store, out) == pid


def test_a_plan_id_already_in_the_store_is_a_conflict_and_saves_nothing(store, exported):
    pid, out, _ = exported
    other = store.add_patient("Bea")
    taken = save_plan(store, other, plan_of(ITEMS))
    record = json.loads((out / "record.json").read_text())
    record["plans"][0]["id"] = record["plans"][0]["document"]["plan_id"] = taken
    (out / "record.json").write_text(json.dumps(record))
    rows = store.count_rows()
    with pytest.raises(ConflictError, match="already in the store"):
        import_patient(store, out)
    assert store.count_rows() == rows and plan_rows_count(store) == [1, 2, 0]
