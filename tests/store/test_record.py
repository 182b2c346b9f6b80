"""Export one patient's whole record (JSON + CSV + HTML + files) and import it back, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from store import ConflictError, RecordError, StoreError, save_assessment, save_hold
from store.record import export_patient, import_patient
from tests.store import documents as docs


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def patient(store, tmp_path):
    pid = store.add_patient("Round Trip", notes="pseudonym")
    save_assessment(store, pid, docs.report(8.0, created_utc="2026-01-10T09:00:00Z"), docs.some_files(tmp_path / "a", "a"))
    save_assessment(store, pid, docs.report(2.0, created_utc="2026-02-10T09:00:00Z"),
                    {"track": docs.some_files(tmp_path / "b", "b")["track"]})
    save_hold(store, pid, docs.hold(), docs.HOLD_EXERCISE, {"hold_video": docs.some_files(tmp_path / "c", "c")["video"]},
              recorded_utc="2026-02-11T09:00:00Z")
    other = store.add_patient("Someone Else")
    save_assessment(store, other, docs.report(3.0), docs.some_files(tmp_path / "o", "o"))
    return pid


def test_export_writes_json_csv_html_and_files(store, patient, tmp_path):
    out = export_patient(store, patient, tmp_path / "export")
    record = json.loads((out / "record.json").read_text())
    assert record["patient"]["id"] == patient and len(record["sessions"]) == 3
    files = [f for s in record["sessions"] for f in s["files"]]
    assert len(files) == 4
    for f in files:
        assert hashlib.sha256((out / f["path"]).read_bytes()).hexdigest() == f["sha256"]
    with open(out / "metrics.csv") as fh:
        metrics = list(csv.DictReader(fh))
    assert len(metrics) == sum(len(s["document"]["findings"]) for s in record["sessions"] if s["kind"] == "assessment")
    shoulder = [m for m in metrics if m["metric"] == "shoulder_line_tilt"]
    assert [round(float(m["value"])) for m in shoulder] == [8, 2]
    with open(out / "holds.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 2          # one row per repetition
    html = (out / "report.html").read_text()
    assert "Round Trip" in html and "real change" in html and "<svg" in html and "Someone Else" not in html
    assert "http" not in html.split("<body>")[0]           # self-contained head: no external CSS/JS


def test_export_delete_import_gives_back_the_same_record(store, patient, tmp_path):
    counts = store.count_rows(patient)
    first = export_patient(store, patient, tmp_path / "first")
    store.delete_patient(patient)
    assert not (store.root / "patients" / patient).exists()
    assert import_patient(store, first) == patient
    assert store.count_rows(patient) == counts
    assert store.verify_files(patient) == []
    second = export_patient(store, patient, tmp_path / "second")
    a, b = tree(first), tree(second)
    a.pop("report.html"), b.pop("report.html")              # carries its generation time
    assert a == b                                           # record.json, CSVs and files byte-identical


def test_import_refuses_duplicates_and_damaged_records_and_saves_nothing(store, patient, tmp_path):
    out = export_patient(store, patient, tmp_path / "exp")
    with pytest.raises(ConflictError, match="already in the store"):
        import_patient(store, out)
    store.delete_patient(patient)
    before = store.count_rows()
    video = next(out.glob("files/*/video.mp4"))
    video.write_bytes(video.read_bytes() + b"tampered")
    with pytest.raises(StoreError, match="sha256"):
        import_patient(store, out)
    assert store.count_rows() == before and not (store.root / "patients" / patient).exists()
    assert list((store.root / ".journal").iterdir()) == [] and list((store.root / ".staging").iterdir()) == []
    (out / "record.json").write_text("{not json")
    with pytest.raises(RecordError, match="not valid JSON"):
        import_patient(store, out)
    with pytest.raises(RecordError, match="no record.json"):
        import_patient(store, tmp_path)
    with pytest.raises(StoreError, match="not empty"):
        export_patient(store, store.patients()[0]["id"], out)
