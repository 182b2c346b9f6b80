"""Fuzzing ``sessions import``: a real exported record with any one value replaced (by any JSON value) or
removed either imports whole or is refused with a store error, and in both cases nothing outside the
data folder changes and no journal or staging entry is left behind (SQLite; the PostgreSQL path is the
same code, exercised by tests/store/test_hostile_input.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store import Store, save_assessment, save_hold
from store.record import export_patient, import_patient
from tests.fuzzing import budget
from tests.store import documents as docs
from vision.errors import IsobalanceError

JSON = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=40)
                    | st.sampled_from(["../../../../victim", "", "x" * 5000, "0" * 32, "2026-01-10T09:00:00Z"]),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=8)


def paths(node, prefix=()):
    """Every place in a JSON tree (as key/index tuples), documents included."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, (*prefix, i))


def listing(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if str(p.relative_to(root)) not in ("data", "export/record.json")
            and p.relative_to(root).parts[0] != "data"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-record")
    store = Store.open(f"sqlite:///{root / 'data' / 'isobalance.db'}", root / "data")
    pid = store.add_patient("Fuzz")
    save_assessment(store, pid, docs.report(8.0, created_utc="2026-01-10T09:00:00Z"), docs.some_files(root / "in", "a"))
    save_hold(store, pid, docs.hold(), docs.HOLD_EXERCISE, recorded_utc="2026-01-11T09:00:00Z")
    export = export_patient(store, pid, root / "export")
    store.delete_patient(pid)
    record = json.loads((export / "record.json").read_text())
    yield store, export, record, sorted(paths(record), key=repr)
    store.close()


@budget(25)
@given(data=st.data())
def test_any_one_change_to_a_record_imports_whole_or_is_refused_cleanly(world, data):
    store, export, record, places = world
    place = data.draw(st.sampled_from(places[1:]))
    mutated = json.loads(json.dumps(record))
    parent = mutated
    for key in place[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()):
        parent[place[-1]] = data.draw(JSON)
    elif isinstance(parent, dict):
        del parent[place[-1]]
    else:
        parent.pop(place[-1])
    (export / "record.json").write_text(json.dumps(mutated))
    before, rows = listing(export.parent), store.count_rows()
    try:
        pid = import_patient(store, export)
    except IsobalanceError as exc:
        assert str(exc)
        assert store.count_rows() == rows
    else:
        assert store.verify_files(pid) == []
        store.delete_patient(pid)
    finally:
        (export / "record.json").write_text(json.dumps(record))
    assert listing(export.parent) == before
    assert list((store.root / ".journal").glob("*.json")) == [] and list((store.root / ".staging").iterdir()) == []
    assert not list(store.root.glob("patients/*")) or store.count_rows()["patients"] > 0
