"""The history page under Streamlit's AppTest, on real stores: empty store, adding a patient, a patient
with a known real change (shoulder tilt 8 deg -> 2 deg by construction) and a hold, export, and the
error paths (bad database URL, bad config, empty name) as one plain message each."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.patients import export_zip
from isobalance.config import load_config
from isobalance.paths import open_store
from store import save_assessment, save_hold
from tests.store import documents as docs

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "history.py")


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("ISOBALANCE_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("ISOBALANCE_DATABASE_URL", raising=False)
    monkeypatch.delenv("ISOBALANCE_CONFIG", raising=False)
    return tmp_path


def run_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    return "\n".join(e.value for kind in ("markdown", "info", "success", "error", "caption")
                     for e in getattr(at, kind))


def test_empty_store_says_what_to_do(env):
    at = run_page()
    assert "No patients yet" in at.info[0].value
    assert not at.get("plotly_chart") and not at.error


def test_adding_a_patient_selects_them(env):
    at = run_page()
    at.text_input(key="history_patient_new_name").input("Ada")
    at.button(key="history_patient_add").click()
    at.run()
    assert not at.exception
    assert at.selectbox(key="history_patient").value is not None
    assert "Ada" in at.selectbox(key="history_patient").format_func(at.selectbox(key="history_patient").value)
    assert "No sessions for this patient yet" in texts(at)
    with open_store(load_config()) as store:
        assert [p["display_name"] for p in store.patients()] == ["Ada"]


def test_empty_name_is_one_error_and_adds_nobody(env):
    at = run_page()
    at.button(key="history_patient_add").click()
    at.run()
    assert not at.exception and "needs a name" in at.error[0].value
    with open_store(load_config()) as store:
        assert store.patients() == []


def test_patient_history_shows_real_change_charts_holds_and_exports(env, store_url, monkeypatch):
    monkeypatch.setenv("ISOBALANCE_DATABASE_URL", store_url)
    with open_store(load_config()) as store:
        other = store.add_patient("Other", created_utc="2025-12-01T00:00:00Z")
        pid = store.add_patient("Ada")
        save_assessment(store, pid, docs.report(8.0, created_utc="2026-01-10T09:00:00Z"), docs.some_files(env / "a"))
        save_assessment(store, pid, docs.report(2.0, created_utc="2026-02-10T09:00:00Z"))
        save_hold(store, pid, docs.hold(), docs.HOLD_EXERCISE, recorded_utc="2026-02-11T09:00:00Z")
    at = run_page()
    assert at.selectbox(key="history_patient").value == pid          # most recent activity first
    bold = [m.value for m in at.markdown if m.value.startswith("- **")]
    assert len(bold) == 1 and "Shoulder line tilt" in bold[0] and "real change" in bold[0]
    charts = at.get("plotly_chart")
    figs = [json.loads(c.proto.spec) for c in charts]
    titles = [f["layout"]["title"]["text"] for f in figs]
    assert any(t.startswith("Shoulder line tilt") for t in titles)
    assert any("time held still" in t for t in titles)
    shoulder = next(f for f in figs if f["layout"]["title"]["text"].startswith("Shoulder line tilt"))
    assert [round(v) for v in shoulder["data"][0]["y"]] == [8, 2]
    assert {s["y0"] for s in shoulder["layout"]["shapes"]} == {5.0, -5.0}     # threshold lines
    assert all(v > 0 for v in shoulder["data"][0]["error_y"]["array"])        # uncertainty bands drawn
    [sessions] = [d.value for d in at.dataframe if "kind" in d.value.columns]
    assert len(sessions) == 3

    at.button(key="history_prepare_export").click()
    at.run()
    assert not at.exception
    assert len(at.get("download_button")) == 1
    assert "Other" not in texts(at)
    assert other != pid


def test_export_zip_is_the_patient_record(env):
    with open_store(load_config()) as store:
        pid = store.add_patient("Ada")
        save_assessment(store, pid, docs.report(8.0), docs.some_files(env / "a"))
        blob = export_zip(store, pid)          # what the page's download button offers
    names = zipfile.ZipFile(io.BytesIO(blob)).namelist()
    assert "record.json" in names and "report.html" in names and "metrics.csv" in names
    assert any(n.endswith("/video.mp4") for n in names)
    record = json.loads(zipfile.ZipFile(io.BytesIO(blob)).read("record.json"))
    assert record["patient"]["id"] == pid


def test_unreachable_database_is_one_plain_error(env, monkeypatch):
    monkeypatch.setenv("ISOBALANCE_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    at = run_page()
    assert len(at.error) == 1 and "cannot be opened: cannot connect to the database" in at.error[0].value


def test_bad_config_is_one_plain_error(env, monkeypatch):
    bad = env / "bad.toml"
    bad.write_text("[dashboard\n")
    monkeypatch.setenv("ISOBALANCE_CONFIG", str(bad))
    at = run_page()
    assert len(at.error) == 1 and "not valid TOML" in at.error[0].value
