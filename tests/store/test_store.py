"""Saving, reading and deleting on real SQLite and real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from assessment.therapy_plan import plan_of
from store import ConflictError, NotFoundError, Store, StoreError, save_assessment, save_hold
from store.files import sha256_file
from store.plans import current_plan, save_plan, save_plan_hold
from tests.store import documents as docs
from vision.errors import IsobalanceError


def folder_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_assessment_round_trip_keeps_document_findings_plan_and_files(store, tmp_path):
    pid = store.add_patient("Patient A")
    report = docs.report(8.0, created_utc="2026-03-01T10:00:00Z")
    files = docs.some_files(tmp_path / "in")
    sid = save_assessment(store, pid, report, files)

    got = store.session(sid)
    assert got["document"] == report                       # the exact document comes back
    assert got["recorded_utc"] == "2026-03-01T10:00:00Z"
    assert got["kind"] == "assessment" and got["source_kind"] == "memory"
    assert [f["key"] for f in got["findings"]] == [f"{f['kind']}-{f['metric']}" for f in report["findings"]]
    shoulder = next(f for f in got["findings"] if f["metric"] == "shoulder_line_tilt")
    want = next(f for f in report["findings"] if f["metric"] == "shoulder_line_tilt")
    assert shoulder["status"] == "flagged" and shoulder["value"] == pytest.approx(want["value"])
    u = want["uncertainty"]
    assert shoulder["ci_low"] == pytest.approx(u["ci95"][0] - u["systematic"])
    assert shoulder["ci_high"] == pytest.approx(u["ci95"][1] + u["systematic"])
    assert [p["exercise_id"] for p in got["plan"]] == [p["exercise"]["id"] for p in report["plan"]]
    assert len(got["plan"]) >= 1
    # files: copied, named by role, sha256 of the original
    by_role = {f["role"]: f for f in got["files"]}
    assert set(by_role) == {"track", "video"}
    for role, src in files.items():
        stored = Path(by_role[role]["path"])
        assert stored.parent == store.root / "patients" / pid / sid
        assert by_role[role]["sha256"] == sha256_file(src) == sha256_file(stored)
        assert by_role[role]["size_bytes"] == src.stat().st_size
    assert store.verify_files() == []
    assert [s["id"] for s in store.sessions(pid)] == [sid]


def test_hold_round_trip_keeps_each_repetition(store):
    pid = store.add_patient("Patient H")
    result = docs.hold()
    sid = save_hold(store, pid, result, docs.HOLD_EXERCISE, recorded_utc="2026-03-02T08:00:00Z")
    got = store.session(sid)
    assert got["kind"] == "hold" and got["document"] == result
    (hold,) = got["holds"]
    assert hold["exercise_id"] == docs.HOLD_EXERCISE
    assert hold["repetitions_planned"] == 2
    assert hold["repetitions_completed"] == result["summary"]["repetitions_completed"]
    assert [r["index"] for r in hold["repetitions"]] == [r["index"] for r in result["repetitions"]]
    assert [r["held_still_s"] for r in hold["repetitions"]] == [r["held_still_s"] for r in result["repetitions"]]
    assert "repetitions completed" in got["summary"][0]


def test_bad_documents_and_files_are_clear_errors_and_save_nothing(store, tmp_path):
    pid = store.add_patient("P")
    broken = docs.report()
    del broken["findings"][0]["threshold"]
    with pytest.raises(IsobalanceError, match="schema"):
        save_assessment(store, pid, broken)
    with pytest.raises(StoreError, match="not found"):
        save_assessment(store, pid, docs.report(), {"track": tmp_path / "missing.csv"})
    with pytest.raises(StoreError, match="HoldResult.to_dict"):
        save_hold(store, pid, docs.report(), docs.HOLD_EXERCISE)
    with pytest.raises(StoreError, match="not 'other-exercise'"):
        save_hold(store, pid, docs.hold(), "other-exercise")
    with pytest.raises(NotFoundError):
        save_assessment(store, "feedbeef", docs.report())
    with pytest.raises(StoreError, match="name"):
        store.add_patient("   ")
    with pytest.raises(StoreError, match="2026-05-20T09:15:00Z"):
        save_assessment(store, pid, docs.report(), recorded_utc="yesterday")
    assert store.count_rows() == {"patients": 1, "sessions": 0, "findings": 0, "plan_items": 0, "holds": 0,
                                  "hold_repetitions": 0, "files": 0, "therapy_plans": 0, "therapy_plan_items": 0,
                                  "plan_holds": 0}
    assert folder_files(store.root / "patients") == []
    assert folder_files(store.root / ".staging") == [] and folder_files(store.root / ".journal") == []


def test_ids_resolve_from_unique_prefixes_only(store):
    a = store.add_patient("A", patient_id="abcd0000" + "0" * 24)
    store.add_patient("B", patient_id="abcd1111" + "0" * 24)
    assert store.resolve_patient("abcd0") == a
    with pytest.raises(StoreError, match="several"):
        store.resolve_patient("abcd")
    with pytest.raises(NotFoundError):
        store.resolve_patient("ab")
    with pytest.raises(ConflictError):
        store.add_patient("again", patient_id=a)


def test_deleting_a_patient_removes_every_row_and_file_and_nothing_else(store, tmp_path):
    keep = store.add_patient("Keep")
    gone = store.add_patient("Gone")
    for pid, tag in ((keep, "k"), (gone, "g")):
        save_assessment(store, pid, docs.report(8.0), docs.some_files(tmp_path / tag, tag))
        save_assessment(store, pid, docs.report(3.0), {"track": docs.some_files(tmp_path / tag, tag + "2")["track"]})
        save_hold(store, pid, docs.hold(), docs.HOLD_EXERCISE, {"hold_video": docs.some_files(tmp_path / tag, tag + "3")["video"]})
        save_plan(store, pid, plan_of(docs.PLAN_ITEMS))                    # the therapist's plan and a hold done from it
        plan = current_plan(store, pid)
        save_plan_hold(store, pid, plan, plan.items[0], docs.hold())
    before_keep = store.count_rows(keep)
    keep_files = folder_files(store.root / "patients" / keep)
    assert store.count_rows(gone) == before_keep and all(v > 0 for v in before_keep.values())

    removed = store.delete_patient(gone)
    assert removed == before_keep
    assert all(v == 0 for v in store.count_rows(gone).values())
    assert not (store.root / "patients" / gone).exists()
    assert store.count_rows(keep) == before_keep
    assert folder_files(store.root / "patients" / keep) == keep_files
    assert store.verify_files() == []
    # no row anywhere mentions the deleted patient (checked table by table, straight from the database)
    with store.engines.read.connect() as conn:
        meta = sa.MetaData()
        meta.reflect(conn)
        for table in meta.sorted_tables:
            for row in conn.execute(sa.select(table)).all():
                assert gone not in json.dumps([str(v) for v in row]), f"{table.name} still mentions the patient"
    with pytest.raises(NotFoundError):
        store.patient(gone)


def test_deleting_a_session_removes_its_rows_and_folder_only(store, tmp_path):
    pid = store.add_patient("P")
    s1 = save_assessment(store, pid, docs.report(8.0), docs.some_files(tmp_path / "1", "1"))
    s2 = save_hold(store, pid, docs.hold(), docs.HOLD_EXERCISE, {"hold_video": docs.some_files(tmp_path / "2", "2")["video"]})
    store.delete_session(s2)
    assert [s["id"] for s in store.sessions(pid)] == [s1]
    assert store.count_rows(pid)["holds"] == 0 and store.count_rows(pid)["hold_repetitions"] == 0
    assert not (store.root / "patients" / pid / s2).exists()
    assert (store.root / "patients" / pid / s1).is_dir() and store.verify_files() == []


def test_store_reopens_with_the_same_data(store_url, data_dir, tmp_path):
    with Store.open(store_url, data_dir) as s:
        pid = s.add_patient("P")
        sid = save_assessment(s, pid, docs.report(), docs.some_files(tmp_path / "in"))
    with Store.open(store_url, data_dir) as s:
        assert s.session(sid)["patient_id"] == pid and s.verify_files() == []


def test_unreachable_or_unsupported_databases_are_clear_errors(tmp_path, postgres_url):
    from sqlalchemy.engine import make_url

    missing = make_url(postgres_url()).set(username="nobody", database="no_such_db")
    with pytest.raises(StoreError, match="cannot connect"):
        Store.open(missing.render_as_string(hide_password=False), tmp_path)
    with pytest.raises(StoreError, match="not supported"):
        Store.open("mysql://x@localhost/db", tmp_path)
    with pytest.raises(StoreError, match="in-memory"):
        Store.open("sqlite://", tmp_path)
    blocker = tmp_path / "a-file"                      # where the database's folder would have to be
    blocker.write_text("x")
    with pytest.raises(StoreError, match="folder .*a-file cannot be created"):
        Store.open(f"sqlite:///{blocker}/isobalance.db", tmp_path)
