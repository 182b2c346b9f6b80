"""The dashboard pages save into the patient store (real SQLite in a temp data folder), under AppTest.

- Review page: with a patient chosen, the uploaded clip's report is a session of that patient with the
  same findings and the review's own files (sha256); without one, the review is shown and nothing is
  saved; a store that cannot be opened, or fails while saving (a damaged database: its findings table
  dropped), gives one plain error and the review is still shown.
- Guided exercise: a hold driven by the real model on real standing frames, finished -> saved as a hold
  session with the same repetitions as the summary table.
- Self-assessment: the assessed front view is saved as an assessment session.

Clip: ``pose2sim_static_cam02.mp4`` (11 frames, a person in every frame, shared/videos/README).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.live import GuidedCapture, LiveHold, LiveSession
from isobalance.config import load_config
from isobalance import paths
from store import Store
from tests.dashboard.test_live_processors import FakeClock, standing_loop
from tests.dashboard.test_live_processors import run as feed
from vision.pipeline import PipelineSettings

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
REVIEW, EXERCISE, SELF = (str(DASHBOARD / "pages" / p) for p in ("review.py", "exercise.py", "self_assessment.py"))
TIMEOUT = 300
CLIP = "pose2sim_static_cam02.mp4"


@pytest.fixture
def data(isolated_config) -> Path:
    """A config file naming a fresh data folder (the store is SQLite in it), read via ISOBALANCE_CONFIG."""
    return isolated_config.parent / "data"


def open_store() -> Store:
    """The store the pages open (same configuration, same resolution order)."""
    return paths.open_store(load_config())


def add_patient(name: str) -> str:
    with open_store() as store:
        return store.add_patient(name)


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def upload_clip(at: AppTest, sample_clip) -> AppTest:
    clip = Path(sample_clip(CLIP)).read_bytes()
    at.file_uploader(key="review_uploader").set_value([(CLIP, clip, "video/mp4")])
    return run(at)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def upload_folder(data: Path) -> Path:
    [folder] = [p for p in (data / "uploads").iterdir() if p.is_dir()]
    return folder


def texts(at: AppTest, *kinds: str) -> str:
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


# ------------------------------------------------------------------------------------------- review page
def test_review_with_a_patient_chosen_saves_the_report_and_its_files(data, sample_clip):
    other = add_patient("Bea")
    pid = add_patient("Ada")
    at = run(AppTest.from_file(REVIEW, default_timeout=TIMEOUT))
    picker = at.selectbox(key="review_patient")
    assert picker.value is None                        # nobody is preselected on a page that saves
    assert "No patient chosen" in texts(at, "caption")
    picker.set_value(pid)
    at = upload_clip(run(at), sample_clip)
    assert at.header[0].value == CLIP                   # the review is shown
    [saved] = [s.value for s in at.success]
    with open_store() as store:
        [session] = store.sessions(pid)
        assert store.sessions(other) == []
        assert saved == f"Saved to Ada's history (session {session['id'][:8]})."
        stored = store.session(session["id"])
    folder = upload_folder(data)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert session["kind"] == "assessment"
    assert session["source"] == CLIP                    # history names it by the uploaded file, not a storage path
    assert [(f["label"], f["status"]) for f in stored["findings"]] == \
        [(f["label"], f["status"]) for f in report["findings"]]
    assert [f["value"] for f in stored["findings"]] == pytest.approx(
        [f["value"] for f in report["findings"]], nan_ok=True)
    assert stored["document"]["findings"] == report["findings"]
    files = {f["role"]: f for f in stored["files"]}
    assert set(files) == {"track", "video", "report_html"}
    for role, name in (("track", "track.csv"), ("video", "video.mp4"), ("report_html", "report.html")):
        assert files[role]["sha256"] == sha256(folder / name)
        assert sha256(Path(files[role]["path"])) == sha256(folder / name)      # a real copy in the store


def test_review_without_a_patient_shows_results_and_saves_nothing(data, sample_clip):
    add_patient("Ada")                                  # a patient exists but nobody chose them
    at = upload_clip(run(AppTest.from_file(REVIEW, default_timeout=TIMEOUT)), sample_clip)
    assert at.header[0].value == CLIP and at.table, "the review is shown"
    assert not at.success and not at.error
    assert "Not saved to any patient's history" in texts(at, "caption")
    with open_store() as store:
        assert store.sessions() == []


def test_review_with_a_store_that_cannot_be_opened_still_shows_the_results(data, tmp_path, monkeypatch, sample_clip):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    cfg = tmp_path / "unwritable.toml"
    cfg.write_text(f'[dashboard]\ndata_dir = "{data}"\n[store]\ndatabase_url = "sqlite:///{blocker}/isobalance.db"\n',
                   encoding="utf-8")
    monkeypatch.setenv("ISOBALANCE_CONFIG", str(cfg))
    at = run(AppTest.from_file(REVIEW, default_timeout=TIMEOUT))
    [error] = [e.value for e in at.error]
    assert error.startswith(f"The patient store cannot be opened: the SQLite database's folder {blocker} "
                            "cannot be created")
    assert "Traceback" not in error
    at = upload_clip(at, sample_clip)
    assert at.header[0].value == CLIP and at.table, "the review is shown"
    assert [e.value for e in at.error] == [error]       # the same one message, nothing else failed
    assert "Not saved to any patient's history" in texts(at, "caption")


def test_review_whose_save_fails_shows_the_results_and_one_clear_error(data, sample_clip):
    pid = add_patient("Ada")
    at = run(AppTest.from_file(REVIEW, default_timeout=TIMEOUT))
    at.selectbox(key="review_patient").set_value(pid)
    run(at)
    with sqlite3.connect(data / "isobalance.db") as db:   # the database is damaged after the page opened it
        db.execute("DROP TABLE findings")
    at = upload_clip(at, sample_clip)
    assert at.header[0].value == CLIP and at.table, "the review is shown"
    assert not at.success
    [error] = [e.value for e in at.error]
    assert error.startswith("Not saved to Ada's history because of an unexpected problem with the patient store")
    assert "Traceback" not in error
    with sqlite3.connect(data / "isobalance.db") as db:  # the failed save left no session row behind
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,)
    assert not (data / "patients" / pid).exists() or not any((data / "patients" / pid).iterdir())


# ------------------------------------------------------------------------------------------- live pages
@pytest.fixture(scope="module")
def clock():
    return FakeClock()


def test_finished_hold_is_saved_for_the_chosen_patient(data, estimator, squat_frames, clock):
    from assessment.exercises import load_catalog
    from assessment.hold import HoldProtocol, HoldSettings

    pid = add_patient("Ada")
    ex = load_catalog().get("upper-trapezius-pir")     # not therapist-only: no plan needed
    session = LiveSession(estimator, PipelineSettings(),
                          LiveHold(HoldProtocol.from_exercise(ex), HoldSettings(calibrate_s=3.0, settle_s=1.0)),
                          now_ms=clock.new_session())
    loop = standing_loop(squat_frames, 4.0)
    for i in range(8 * 15):                             # 8 s of a person standing still, at 15 fps
        clock.t += 1000.0 / 15
        session.process(loop[(i // 3) % len(loop)])
    assert session.snapshot().hold.held_s > 0
    at = AppTest.from_file(EXERCISE, default_timeout=TIMEOUT)
    at.query_params["exercise"] = ex.id
    at.session_state["exercise_session"] = ((ex.id, 3.0, 1.0), session)
    at.session_state["exercise_safety"] = {"ok": True, "message": "", "pain_before": 0}   # screen answered: no flags
    run(at)
    assert at.selectbox(key="exercise_patient").value is None
    at.selectbox(key="exercise_patient").set_value(pid)
    run(at)
    [finish] = [b for b in at.button if b.label == "Finish and show the summary"]
    finish.click()
    run(at)
    table = at.table[0].value                           # the summary is shown
    with open_store() as store:
        [saved] = store.sessions(pid)
    assert [s.value for s in at.success] == [f"Saved to Ada's history (session {saved['id'][:8]})."]
    assert saved["kind"] == "hold"
    [hold] = saved["holds"]
    assert hold["exercise_id"] == ex.id
    from dashboard.words import OUTCOME_WORDS

    assert [r["held_still_s"] for r in hold["repetitions"]] == pytest.approx(list(table["held still (s)"]), abs=0.05)
    assert [OUTCOME_WORDS[r["outcome"]] for r in hold["repetitions"]] == list(table["outcome"])
    run(at)                                             # a rerun shows the result again, never saves twice
    with open_store() as store:
        assert len(store.sessions(pid)) == 1


def test_assessed_self_assessment_view_is_saved_for_the_chosen_patient(data, estimator, squat_frames, clock):
    pid = add_patient("Ada")
    session = LiveSession(estimator, PipelineSettings(), GuidedCapture(), now_ms=clock.new_session())
    loop = standing_loop(squat_frames, 4.0)
    for i in range(150):
        clock.t += 1000.0 / 15
        session.process(loop[(i // 3) % len(loop)])
        if "front" in session.snapshot().captured:
            break
    assert session.snapshot().captured == ("front",)
    at = AppTest.from_file(SELF, default_timeout=TIMEOUT)
    at.session_state["self_assessment_session"] = session
    run(at)
    at.selectbox(key="self_assessment_patient").set_value(pid)
    run(at)
    [assess] = [b for b in at.button if b.label == "Assess the front view now"]
    assess.click()
    run(at)
    assert "Your assessment" in texts(at, "header")
    with open_store() as store:
        [saved] = store.sessions(pid)
        stored = store.session(saved["id"])
    assert [s.value for s in at.success if "history" in s.value] == \
        [f"Saved to Ada's history (session {saved['id'][:8]})."]
    assert saved["kind"] == "assessment" and saved["source"].startswith("webcam (front view")
    assert {f["role"] for f in stored["files"]} == {"track", "video"}
    assert stored["document"]["track"]["n_frames"] == len(session.captured()["front"].poses)


# ------------------------------------------------------------------------------------------- issue #13 bugs
HISTORY = str(DASHBOARD / "pages" / "history.py")


@pytest.mark.parametrize("page, key", [(REVIEW, "review_patient"), (HISTORY, "history_patient"),
                                       (SELF, "self_assessment_patient"), (EXERCISE, "exercise_patient")])
def test_adding_a_patient_when_one_exists_chooses_them_once(data, page, key):
    """Bug 2: with a patient already in the store, "Add patient" raised
    StreamlitWidgetAlreadyInstantiatedError after creating the patient, so a retry made a duplicate."""
    add_patient("Ada")
    at = AppTest.from_file(page, default_timeout=TIMEOUT)
    if page == EXERCISE:
        at.query_params["exercise"] = "sternocleidomastoid-pir"
    run(at)
    at.text_input(key=f"{key}_new_name").input("Grace")
    at.button(key=f"{key}_add").click()
    run(at)
    with open_store() as store:
        patients = store.patients()
    assert sorted(p["display_name"] for p in patients) == ["Ada", "Grace"]
    grace = next(p["id"] for p in patients if p["display_name"] == "Grace")
    assert at.selectbox(key=key).value == grace               # the new patient is the one chosen
    assert at.text_input(key=f"{key}_new_name").value == ""   # emptied: a second click cannot add her again
    at.button(key=f"{key}_add").click()
    run(at)
    with open_store() as store:
        assert len(store.patients()) == 2
    assert any("The patient was not added: a patient needs a name" in e.value for e in at.error)
    assert at.selectbox(key=key).value == grace


def test_a_hold_that_finishes_on_its_own_shows_its_summary_and_is_saved(data, estimator, squat_frames, clock):
    """Bug 1: when the hold reached "Done" by itself, the page reran forever (the live status asked for
    a rerun before the summary was made) and nothing was saved. Here the hold finishes on its own
    (one 2-s repetition after a 3-s calibration) and the page is run without pressing anything."""
    from assessment.exercises import load_catalog
    from assessment.hold import HoldProtocol, HoldSettings, Phase

    pid = add_patient("Ada")
    ex = load_catalog().get("upper-trapezius-pir")     # not therapist-only: no plan needed
    protocol = HoldProtocol(ex.id, hold_s=2.0, relax_s=0.5, stretch_s=0.0, repetitions=1,
                            still_landmarks=tuple(ex.still_landmarks), name=ex.name)
    session = LiveSession(estimator, PipelineSettings(),
                          LiveHold(protocol, HoldSettings(calibrate_s=3.0, settle_s=1.0)), now_ms=clock.new_session())
    loop = standing_loop(squat_frames, 4.0)
    feed(session, clock, loop, 20 * 15, until=lambda snap: snap.hold_finished)   # at most 20 s standing still
    snap = session.snapshot()
    assert snap.hold_finished and snap.hold.phase is Phase.DONE
    at = AppTest.from_file(EXERCISE, default_timeout=60)
    at.query_params["exercise"] = ex.id
    at.session_state["exercise_session"] = ((ex.id, 3.0, 1.0), session)
    at.session_state["exercise_patient"] = pid
    at.session_state["exercise_safety"] = {"ok": True, "message": "", "pain_before": 0}   # screen answered: no flags
    run(at)
    assert "Summary" in [h.value for h in at.header]
    assert list(at.table[0].value["outcome"]) == ["completed"]
    with open_store() as store:
        [saved] = store.sessions(pid)
    assert saved["kind"] == "hold"
    assert [s.value for s in at.success] == [f"Saved to Ada's history (session {saved['id'][:8]})."]
    # the sidebar picker, drawn before the save, shows the new count (the page ran once more)
    assert [o for o in at.selectbox(key="exercise_patient").options if o.startswith("Ada · ")][0].startswith(
        "Ada · 1 session(s)")
    run(at)                                              # the next poll: shown again, saved once
    assert "Summary" in [h.value for h in at.header]
    with open_store() as store:
        assert len(store.sessions(pid)) == 1
