"""The therapist's plan reaches the patient (issue #12, "must show"): the plan edited on the review page
with its own widgets (AppTest drives them: a side and a dose changed, a row dropped) and saved for the
patient is exactly what the guided exercise page offers (AppTest) and what ``isobalance hold --patient``
runs as a real process on a real clip, side and dose included; the finished hold is saved to the plan's
history (adherence) with the pain before and after.

The review comes from real landmarks of ``pose2sim_static_cam02.mp4`` with the right shoulder raised by
8 deg (the construction of tests/assessment/test_assess.py), which gives a shoulder hypothesis and a plan
whose first item is the upper trapezius PIR on the right. The hold clip is ``tfjs_pose_squats.mp4``
(65 frames, a person in every frame): long enough for two short holds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from isobalance import paths
from isobalance.config import load_config
from tests.dashboard.test_exercise_safety_plan import answer, run, texts

ROOT = Path(__file__).resolve().parents[2]
REVIEW = str(ROOT / "dashboard" / "pages" / "review.py")
EXERCISE = str(ROOT / "dashboard" / "pages" / "exercise.py")
HISTORY = str(ROOT / "dashboard" / "pages" / "history.py")
TIMEOUT = 300
TRAP = "upper-trapezius-pir"


@pytest.fixture(scope="module")
def raised_shoulder_track(sample_clip, model_path):
    from tests.assessment.test_assess import RAISE_DEG, raise_right_shoulder
    from vision.pipeline import extract_track

    return raise_right_shoulder(extract_track(sample_clip("pose2sim_static_cam02.mp4"), model_path), RAISE_DEG)


@pytest.fixture
def reviewed(isolated_config, sample_clip, raised_shoulder_track):
    """A stored review with a plan, and a patient in the store."""
    from dashboard.review_job import assess_track
    from dashboard.uploads import save_upload

    cfg = load_config()
    clip = Path(sample_clip("pose2sim_static_cam02.mp4"))
    with open(clip, "rb") as fh:
        saved = save_upload("raised shoulder.mp4", fh, clip.stat().st_size, cfg)
    result = assess_track(saved, raised_shoulder_track)
    report = json.loads((saved.folder / "report.json").read_text(encoding="utf-8"))
    assert result.status == "complete" and len(report["plan"]) >= 2, report["plan"]
    assert (report["plan"][0]["exercise"]["id"], report["plan"][0]["side"]) == (TRAP, "right")
    with paths.open_store(cfg) as store:
        pid = store.add_patient("Ada")
    return saved, report, pid


def edit_and_save(saved, report, pid) -> AppTest:
    """The therapist's edits on the review page, through its widgets; then "Save plan for Ada"."""
    at = AppTest.from_file(REVIEW, default_timeout=TIMEOUT)
    at.session_state["review_results"] = [{"name": saved.original_name, "upload_id": saved.id, "error": None}]
    at = run(at)
    assert not [b for b in at.button if b.label.startswith("Save plan")]     # no patient chosen yet
    at.selectbox(key="review_patient").set_value(pid)
    at = run(at)
    key = f"plan_{saved.id}"
    at.radio(key=f"{key}_0_side").set_value("left")                  # the therapist's own test says left
    at.number_input(key=f"{key}_0_hold").set_value(2.0)
    at.number_input(key=f"{key}_0_relax").set_value(1.0)
    at.number_input(key=f"{key}_0_stretch").set_value(2.0)
    at.number_input(key=f"{key}_0_reps").set_value(2)
    at.slider(key=f"{key}_0_effort").set_value((10.0, 15.0))
    at.number_input(key=f"{key}_0_per_week").set_value(3)
    for k in range(1, len(report["plan"])):                          # every other suggestion dropped
        at.checkbox(key=f"{key}_{k}_include").uncheck()
    at = run(at)
    at.button(key=f"save_plan_{saved.id}").click()
    at = run(at)
    assert at.success and "Plan saved for Ada" in at.success[0].value, texts(at)
    return at


def test_the_plan_edited_in_review_is_what_the_exercise_page_and_hold_patient_run(reviewed, sample_clip,
                                                                                 isolated_config, tmp_path):
    from assessment.exercises import load_catalog
    from store.plans import adherence, current_plan

    saved, report, pid = reviewed
    edit_and_save(saved, report, pid)
    with paths.open_store(load_config()) as store:
        plan = current_plan(store, pid)
    [item] = plan.items
    assert (item.exercise_id, item.side, item.hold_s, item.relax_s, item.stretch_s, item.repetitions,
            item.effort_pct, item.per_week) == (TRAP, "left", 2.0, 1.0, 2.0, 2, (10.0, 15.0), 3)

    # the patient's guided exercise page offers exactly that plan, with that side and dose
    trap = load_catalog().get(TRAP)
    at = run(AppTest.from_file(EXERCISE, default_timeout=TIMEOUT))
    at.selectbox(key="exercise_patient").set_value(pid)
    at = run(at)
    picker = at.selectbox(key="plan_item")
    assert picker.options == [f"{trap.name} - left side"]
    picker.set_value(0)
    at = answer(run(at), pain=1)
    body = texts(at)
    assert "for the upper trapezius, on the left side" in body
    assert "for 2 s, relax 1 s, stretch 2 s; 2 repetitions" in body and "10-15% effort" in body
    assert [b for b in at.button if b.label == "Finish and show the summary"]

    # isobalance hold --patient, a real process on a real clip: that item, side and dose; saved to its history
    out = tmp_path / "hold"
    proc = subprocess.run([sys.executable, "-m", "isobalance.cli", "hold", str(sample_clip("tfjs_pose_squats.mp4")),
                           "--patient", pid[:8], "-o", str(out), "--no-red-flags", "--pain-before", "1",
                           "--pain-after", "2", "--no-video", "--settle-s", "0.6", "--no-progress"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"plan item: {TRAP} (left), hold 2 s x 2" in proc.stdout
    assert "Traceback" not in proc.stderr
    doc = json.loads((out / "hold.json").read_text(encoding="utf-8"))
    assert doc["exercise"]["exercise_id"] == TRAP
    assert (doc["exercise"]["hold_s"], doc["exercise"]["relax_s"], doc["exercise"]["stretch_s"],
            doc["exercise"]["repetitions"]) == (2.0, 1.0, 2.0, 2)
    assert doc["context"]["plan_item"] == {"exercise_id": TRAP, "side": "left"}
    with paths.open_store(load_config()) as store:
        [session] = store.sessions(pid)
        stored = store.session(session["id"])["document"]
        [row] = adherence(store, pid)
    assert session["kind"] == "hold" and stored["context"]["plan_item"]["side"] == "left"
    assert stored["context"]["safety"]["pain_before"] == 1 and stored["context"]["safety"]["pain_after"] == 2
    assert (row["exercise_id"], row["side"], row["done_this_week"], row["per_week"]) == (TRAP, "left", 1, 3)


# --------------------------------------------------------------- pain after, adherence and range gained
def barrier(first: float, last: float, error: float = 1.0) -> dict:
    """A hold's barrier section with known ranges (degrees) at the first and the last barrier."""
    def one(v: float) -> dict:
        return {"angle_deg": v, "range_deg": v, "error_deg": error, "frames": 30, "window_s": [0.0, 1.0]}
    return {"angle": "head_side_bend", "first": one(first), "last": one(last)}


def test_pain_after_is_saved_with_the_plan_hold_and_the_history_shows_it_with_adherence(
        isolated_config, estimator, squat_frames):
    """A plan hold finished on the exercise page is saved against its item with the pain before; the pain
    after (1 -> 4: a rise of 3, the stop rule's 2 or more) is saved with it. The history page then shows
    adherence per week and the hold with its side and pain."""
    from assessment.hold import HoldSettings
    from assessment.therapy_plan import plan_of
    from dashboard.live import LiveHold, LiveSession
    from store.plans import current_plan, save_plan
    from tests.dashboard.test_live_processors import FakeClock, standing_loop
    from tests.dashboard.test_live_processors import run as feed
    from vision.pipeline import PipelineSettings

    with paths.open_store(load_config()) as store:
        pid = store.add_patient("Ada")
        save_plan(store, pid, plan_of([{"exercise_id": TRAP, "side": "left", "hold_s": 2, "relax_s": 0.5,
                                        "stretch_s": 0.5, "repetitions": 1, "per_week": 3}]))
        plan = current_plan(store, pid)
    [item] = plan.items
    clock = FakeClock()
    session = LiveSession(estimator, PipelineSettings(), LiveHold(item.protocol(), HoldSettings(calibrate_s=3.0,
                                                                                                settle_s=1.0)),
                          now_ms=clock.new_session())
    loop = standing_loop(squat_frames, 4.0)
    feed(session, clock, loop, 20 * 15, until=lambda snap: snap.hold_finished)   # at most 20 s standing still
    assert session.snapshot().hold_finished
    at = AppTest.from_file(EXERCISE, default_timeout=TIMEOUT)
    at.session_state["exercise_patient"] = pid
    at.session_state["plan_item"] = 0
    at.session_state["exercise_session"] = ((TRAP, 3.0, 1.0, item), session)
    at.session_state["exercise_safety"] = {"ok": True, "message": "", "pain_before": 1}
    at = run(at)
    assert "Done this week: Upper trapezius post-isometric relaxation, left side: 1 of 3" in texts(at)
    at.number_input(key="exercise_pain_after").set_value(4)
    at = run(at)
    assert any("stop the exercises for today" in e.value for e in at.error)
    assert "Pain after (4/10) saved with this exercise in your history." in texts(at)
    with paths.open_store(load_config()) as store:
        [saved] = store.sessions(pid)
        doc = store.session(saved["id"])["document"]
        assert doc["context"]["plan_item"] == {"exercise_id": TRAP, "side": "left"}
        assert (doc["context"]["safety"]["pain_before"], doc["context"]["safety"]["pain_after"],
                doc["context"]["safety"]["stop"]) == (1, 4, True)
    history = run(AppTest.from_file(HISTORY, default_timeout=TIMEOUT))
    history.selectbox(key="history_patient").set_value(pid)
    history = run(history)
    [weeks] = [d.value for d in history.dataframe if "planned a week" in d.value.columns]
    assert list(weeks["exercise"]) == [TRAP] and list(weeks["side"]) == ["left"]
    assert "1 / 3" in list(weeks.iloc[0])                                # the hold's week: 1 done of 3
    [log] = [d.value for d in history.dataframe if "pain after" in d.value.columns]
    assert list(log["pain before"]) == ["1/10"] and list(log["pain after"]) == ["4/10"]
    assert list(log["stop rule"]) == ["stopped"] and list(log["side"]) == ["left"]


def test_the_history_shows_the_range_gained_between_sessions_beyond_noise_only_beyond_the_mdc(isolated_config):
    """Holds of a plan item with constructed barrier ranges: 20 -> 23 deg over two sessions is within noise
    (the 5-deg MDC, larger than the 1.4-deg error of the difference); 20 -> 30 deg over three is beyond."""
    from assessment.therapy_plan import plan_of
    from store.plans import current_plan, save_plan, save_plan_hold
    from tests.store import documents as docs

    with paths.open_store(load_config()) as store:
        pid = store.add_patient("Bea")
        save_plan(store, pid, plan_of([{"exercise_id": TRAP, "side": "right", "hold_s": 5, "relax_s": 1,
                                        "stretch_s": 1, "repetitions": 2, "per_week": 3}]))
        plan = current_plan(store, pid)
        for day, (first, last) in ((5, (20.0, 21.0)), (12, (22.0, 23.0))):
            save_plan_hold(store, pid, plan, plan.items[0], docs.hold() | {"barrier": barrier(first, last)},
                           recorded_utc=f"2026-01-{day:02d}T09:00:00Z")
    history = run(AppTest.from_file(HISTORY, default_timeout=TIMEOUT))
    history.selectbox(key="history_patient").set_value(pid)
    history = run(history)
    gain = [m.value for m in history.markdown if "barrier range" in m.value]
    assert gain == ["- **Upper trapezius post-isometric relaxation (right)**: barrier range 20.0° → 23.0° over 2 "
                    "sessions, +3.0° (within the measurement noise; beyond noise when |gain| > the minimal "
                    "detectable change of a 2-D posture angle [Gallego20] 5 deg (larger than the error of the "
                    "difference, 1.4 deg))."]
    with paths.open_store(load_config()) as store:
        save_plan_hold(store, pid, plan, plan.items[0], docs.hold() | {"barrier": barrier(28.0, 30.0)},
                       recorded_utc="2026-01-19T09:00:00Z")
    history = run(history)
    gain = [m.value for m in history.markdown if "barrier range" in m.value]
    assert len(gain) == 1 and "20.0° → 30.0° over 3 sessions, +10.0° (beyond the measurement noise" in gain[0]
