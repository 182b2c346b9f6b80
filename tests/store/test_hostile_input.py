"""Issue #11 items 1 and 2, reproduced: hostile patient records and poisoned journals, on SQLite and
PostgreSQL. Every attack is refused and nothing outside the store's folders changes, which is checked by
listing the whole surrounding folder (names and contents) before and after."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest

from store import ConflictError, RecordError, Store, StoreError, save_assessment, save_hold
from store.paths import PathEscapeError, inside
from store.record import export_patient, import_patient
from tests.store import documents as docs

DEPTH = ("a", "b")          # data folder = tmp/a/b/data, so ../../../../victim from patients/ is tmp/victim


def listing(root: Path, skip: tuple[str, ...] = ("db",)) -> dict[str, str]:
    """Every folder and file under ``root`` (files with their sha256), except the SQLite database folder."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] in skip:
            continue
        out[str(rel)] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def world(store_url, tmp_path):
    """A store with one patient exported, a victim folder beside it, and a second patient who must survive."""
    data = tmp_path.joinpath(*DEPTH, "data")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("do not touch")
    store = Store.open(store_url, data)
    pid = store.add_patient("Exported")
    save_assessment(store, pid, docs.report(8.0, created_utc="2026-01-10T09:00:00Z"), docs.some_files(tmp_path / "in" / "a", "a"))
    save_hold(store, pid, docs.hold(), docs.HOLD_EXERCISE, recorded_utc="2026-01-11T09:00:00Z")
    other = store.add_patient("Bystander")
    save_assessment(store, other, docs.report(3.0), docs.some_files(tmp_path / "in" / "o", "o"))
    export = export_patient(store, pid, tmp_path / "export")
    store.delete_patient(pid)
    yield store, export, tmp_path, other
    store.close()


def edit(export: Path, change) -> None:
    record = json.loads((export / "record.json").read_text())
    change(record)
    (export / "record.json").write_text(json.dumps(record))


def set_patient_id(value):
    def change(record):
        record["patient"]["id"] = value
    return change


def test_hostile_patient_ids_are_refused_and_nothing_outside_changes(world):
    store, export, tmp, other = world
    video = next(export.glob("files/*/video.mp4"))
    video.write_bytes(video.read_bytes() + b"tampered")          # bad sha256 too: the cleanup path runs
    before, rows = listing(tmp), store.count_rows()
    for bad_id in ("../../../../victim", "../../victim", str(tmp / "victim"), "", "x" * 5000, "A" * 32,
                   "0123456789abcdef0123456789abcde\n", None, 12):
        edit(export, set_patient_id(bad_id))
        with pytest.raises(RecordError, match="patient id"):
            import_patient(store, export)
        before["export/record.json"] = listing(tmp)["export/record.json"]
        assert listing(tmp) == before and store.count_rows() == rows
    assert (tmp / "victim" / "precious.txt").read_text() == "do not touch"
    assert store.verify_files(other) == [] and len(store.sessions(other)) == 1
    # the store still opens and works (no journal entry left behind to brick it)
    with Store.open(store.url, store.root) as again:
        assert [p["display_name"] for p in again.patients()] == ["Bystander"]
    assert list((store.root / ".journal").glob("*.json")) == []


def test_deleting_or_resolving_a_hostile_id_touches_nothing(world):
    store, _export, tmp, _other = world
    before = listing(tmp)
    for bad in ("../../../../victim", str(tmp / "victim"), "", "x" * 5000, "%", "ab_d"):
        with pytest.raises(StoreError):
            store.delete_patient(bad)
        with pytest.raises(StoreError):
            store.delete_session(bad)
    assert listing(tmp) == before


HOSTILE_FIELDS = [
    ("name", lambda r: r["patient"].update(display_name=""), "needs a name"),
    ("long name", lambda r: r["patient"].update(display_name="n" * 201), "at most 200"),
    ("escape codes", lambda r: r["patient"].update(display_name="\x1b[2J\x1b[31mEvil"), "control characters"),
    ("created", lambda r: r["patient"].update(created_utc="yesterday"), "UTC"),
    ("notes", lambda r: r["patient"].update(notes=["not", "text"]), "notes"),
    ("session id", lambda r: r["sessions"][0].update(id="../../victim"), "session id"),
    ("recorded", lambda r: r["sessions"][0].update(recorded_utc="2026-1-1T1:1:1Z"), "UTC"),
    ("kind", lambda r: r["sessions"][0].update(kind="<script>"), "unknown kind"),
    ("file path", lambda r: r["sessions"][0]["files"][0].update(path="../../victim/precious.txt"), "file path"),
    ("file name", lambda r: r["sessions"][0]["files"][0].update(name="../x.csv"), "file name"),
    ("sha256", lambda r: r["sessions"][0]["files"][0].update(sha256="0" * 63), "sha256"),
    ("version", lambda r: r.update(version=True), "version"),
    ("sessions", lambda r: r.update(sessions={"a": 1}), "list"),
    ("missing key", lambda r: r["sessions"][0].pop("saved_utc"), "lacks saved_utc"),
    ("twice", lambda r: r["sessions"].append(r["sessions"][0]), "twice"),
    ("exercise", lambda r: r["sessions"][1].update(exercise_ids=["../x"]), "exactly one exercise"),
]


def test_every_field_of_an_import_is_checked_before_anything_is_written(world):
    store, export, tmp, _other = world
    clean = (export / "record.json").read_text()
    before, rows = listing(tmp), store.count_rows()
    for field, change, message in HOSTILE_FIELDS:
        edit(export, change)
        with pytest.raises(RecordError, match=message):
            import_patient(store, export)
        (export / "record.json").write_text(clean)
        assert listing(tmp) == before and store.count_rows() == rows, field
    pid = import_patient(store, export)                   # the untouched record still imports
    assert len(store.sessions(pid)) == 2 and store.verify_files(pid) == []


def test_a_session_id_already_in_the_store_is_a_conflict_and_saves_nothing(world):
    store, export, tmp, other = world
    taken = store.sessions(other)[0]["id"]
    edit(export, lambda r: r["sessions"][1].update(id=taken))           # the hold session: no files to move
    before, rows = listing(tmp), store.count_rows()
    with pytest.raises(ConflictError, match="already in the store") as err:
        import_patient(store, export)
    assert err.value.exit_code == 2
    assert listing(tmp) == before and store.count_rows() == rows
    edit(export, lambda r: r["sessions"][1].update(id=r["sessions"][0]["id"]))
    with pytest.raises(RecordError, match="twice"):
        import_patient(store, export)




def test_paths_are_only_built_inside_their_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    assert inside(root, "patients", "ab") == root / "patients" / "ab"
    for parts in (("..",), ("a/../../x",), ("/etc",), ("",), ("x" * 256,), ("a\0b",), ("link", "victim"), (".",)):
        with pytest.raises(PathEscapeError):
            inside(root, *parts)


# ------------------------------------------------------------------------------- item 2: poisoned journal
POISON = {
    "5000-char id": {"op": "save", "patient_id": "x" * 5000, "session_ids": ["0" * 32]},
    "escaping id": {"op": "delete_patient", "patient_id": "../../../../victim", "session_ids": []},
    "absolute id": {"op": "delete_sessions", "patient_id": "/", "session_ids": ["../victim"]},
    "not an object": [1, 2, 3],
    "unknown op": {"op": "rm -rf", "patient_id": "0" * 32, "session_ids": []},
}


def test_a_poisoned_journal_is_quarantined_with_a_warning_and_the_store_opens(world, caplog):
    store, _export, tmp, other = world
    journal = store.root / ".journal"
    names = []
    for i, entry in enumerate(POISON.values()):
        (journal / f"{i:032x}.json").write_text(json.dumps(entry))
        names.append(f"{i:032x}.json")
    (journal / ("f" * 32 + ".json")).write_text('{"op": "save", "patient_id": ')       # torn write
    (journal / ("e" * 32 + ".json")).write_bytes(b"\xff\xfe\x00garbage")
    names += ["f" * 32 + ".json", "e" * 32 + ".json"]
    outside = listing(tmp, skip=("db", *DEPTH[:1]))
    with caplog.at_level(logging.WARNING, logger="isobalance.store"):
        with Store.open(store.url, store.root) as again:
            assert [p["display_name"] for p in again.patients()] == ["Bystander"]
            assert again.verify_files(other) == []
    assert sorted(p.name for p in (journal / "quarantine").iterdir()) == sorted(names)
    assert list(journal.glob("*.json")) == []
    assert sum("could not be replayed" in r.getMessage() for r in caplog.records) == len(names)
    assert listing(tmp, skip=("db", *DEPTH[:1])) == outside
    assert (tmp / "victim" / "precious.txt").read_text() == "do not touch"
    with Store.open(store.url, store.root) as third:                       # and it stays open-able
        assert len(third.patients()) == 1


def test_a_long_id_import_used_to_brick_the_store_now_it_opens_every_time(world):
    """The exact sequence of the issue: a 5000-character id, then every command must still work."""
    store, export, _tmp, _other = world
    edit(export, set_patient_id("7" * 5000))
    with pytest.raises(RecordError):
        import_patient(store, export)
    for _ in range(2):
        with Store.open(store.url, store.root) as again:
            assert len(again.patients()) == 1
