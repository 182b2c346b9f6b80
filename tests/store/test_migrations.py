"""Schema migrations on real SQLite and PostgreSQL: the previous revision's data survives the upgrade,
and the ORM models are exactly what the migrations build."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from store import Store, StoreError
from store.db import create_engines, current_revision, head_revision, migrate
from store.documents import assessment_fields, finding_band
from store.models import Base
from tests.store import documents as docs

PATIENT = "a" * 32
SESSIONS = ("b" * 32, "c" * 32)


def rows_at_revision_1(conn: sa.Connection) -> None:
    """Write two sessions the way revision 0001 stored them (only the columns 0001 has)."""
    meta = sa.MetaData()
    meta.reflect(conn)
    t = meta.tables
    assert "ci_low" not in t["findings"].c                      # really the old schema
    conn.execute(sa.insert(t["patients"]).values(id=PATIENT, display_name="Old Patient",
                                                 created_utc="2025-12-01T09:00:00Z", notes="from 0001"))
    for sid, tilt, when in zip(SESSIONS, (8.0, 2.0), ("2026-01-05T10:00:00Z", "2026-02-05T10:00:00Z")):
        f = assessment_fields(docs.report(tilt, created_utc=when))
        conn.execute(sa.insert(t["sessions"]).values(
            id=sid, patient_id=PATIENT, kind=f.kind, recorded_utc=f.recorded_utc, saved_utc=f.recorded_utc,
            source=f.source, source_kind=f.source_kind, views=f.views, model=f.model, settings=f.settings,
            summary=f.summary, document=f.document, notes=""))
        for row in f.findings:
            values = {c.name: getattr(row, c.name) for c in t["findings"].c if c.name not in ("id", "session_id")}
            conn.execute(sa.insert(t["findings"]).values(session_id=sid, **values))
        for row in f.plan:
            values = {c.name: getattr(row, c.name) for c in t["plan_items"].c if c.name not in ("id", "session_id")}
            conn.execute(sa.insert(t["plan_items"]).values(session_id=sid, **values))


def snapshot(conn: sa.Connection, skip_columns: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    meta = sa.MetaData()
    meta.reflect(conn)
    out = {}
    for name, table in meta.tables.items():
        if name == "alembic_version":
            continue
        cols = [c for c in table.c if c.name not in skip_columns]
        out[name] = sorted((tuple(repr(r) for r in row) for row in conn.execute(sa.select(*cols)).all()))
    return out


def test_upgrade_from_revision_1_keeps_every_row_and_fills_the_new_band_columns(store_url, data_dir):
    engines = create_engines(store_url)
    try:
        assert migrate(engines, "0001") == "0001"
        with engines.write.begin() as conn:
            rows_at_revision_1(conn)
        with engines.read.connect() as conn:
            before = snapshot(conn)
    finally:
        engines.dispose()

    with Store.open(store_url, data_dir) as store:                  # opening upgrades to head
        assert current_revision(store.engines.read) == head_revision() == "0003"
        with store.engines.read.connect() as conn:
            after = snapshot(conn, skip_columns=("ci_low", "ci_high", "systematic"))
        new_tables = {"therapy_plans", "therapy_plan_items", "plan_holds"}        # 0003: empty new tables
        assert {k: v for k, v in after.items() if k not in new_tables} == before     # nothing lost or changed
        assert all(after[t] == [] for t in new_tables)
        sessions = store.sessions(PATIENT)
        assert [s["id"] for s in sessions] == list(SESSIONS)
        for s, tilt in zip(sessions, (8.0, 2.0)):
            full = store.session(s["id"])
            assert full["document"] == docs.report(tilt, created_utc=s["recorded_utc"])
            for row, f in zip(full["findings"], full["document"]["findings"]):
                assert (row["ci_low"], row["ci_high"], row["systematic"]) == pytest.approx(
                    finding_band(f["uncertainty"]), nan_ok=True)
            n_band = sum(r["ci_low"] is not None for r in full["findings"])
            assert n_band == sum("ci95" in f["uncertainty"] for f in full["document"]["findings"]) > 0
        # the upgraded store keeps working: progress reads the migrated bands
        from store.progress import metric_history

        shoulder = metric_history(store, PATIENT)["static-shoulder_line_tilt"]
        assert [p.value for p in shoulder.points] == pytest.approx([8.0, 2.0], abs=0.5)


def test_models_match_what_the_migrations_build(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with store.engines.read.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_a_database_from_a_newer_isobalance_is_refused_untouched(store_url, data_dir):
    with Store.open(store_url, data_dir) as store:
        store.add_patient("P")
        version = sa.table("alembic_version", sa.column("version_num", sa.String))
        with store.engines.write.begin() as conn:
            conn.execute(sa.update(version).values(version_num="9999future"))
    with pytest.raises(StoreError, match="9999future"):
        Store.open(store_url, data_dir)
    engines = create_engines(store_url)
    try:
        assert current_revision(engines.read) == "9999future"
    finally:
        engines.dispose()
