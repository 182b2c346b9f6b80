"""Guided exercise page under AppTest: the safety screen comes first (a red flag blocks every exercise of
the visit; therapist-only techniques need the therapist's plan), and with a patient whose therapist
saved a plan the page offers exactly that plan - side and dose included. The plan is built by the
review page's own conversion (``dashboard.plan_table.edited_plan`` -> ``therapy_plan``) from edited
rows, then saved through ``store.plans.save_plan`` as its button does."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from isobalance import paths
from isobalance.config import load_config

EXERCISE = str(Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "exercise.py")
TIMEOUT = 120


@pytest.fixture(autouse=True)
def data(isolated_config) -> Path:
    return isolated_config.parent / "data"


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("subheader", "markdown", "caption", "info", "warning", "error",
                                              "success") for e in getattr(at, kind))


def answer(at: AppTest, yes: tuple[str, ...] = (), pain: int | None = 1) -> AppTest:
    from assessment.safety import load_safety

    for f in load_safety().red_flags:
        at.radio(key=f"red_flag_{f.id}").set_value("Yes" if f.id in yes else "No")
    if pain is not None:
        at.number_input(key="pain_before_input").set_value(pain)
    at.button(key="safety_continue").click()
    return run(at)


def finish_buttons(at: AppTest) -> list:
    return [b for b in at.button if b.label == "Finish and show the summary"]


def test_a_red_flag_blocks_the_exercise_page_for_the_visit():
    at = AppTest.from_file(EXERCISE, default_timeout=TIMEOUT)
    at.query_params["exercise"] = "upper-trapezius-pir"
    at = run(at)
    assert "Before you start: safety questions" in texts(at) and not finish_buttons(at)
    at = answer(at, yes=("numbness_weakness",))
    assert at.error and "see a physiotherapist or doctor" in at.error[0].value
    assert not finish_buttons(at)
    at.query_params["exercise"] = "lower-trapezius-low-row-hold"      # another exercise: still blocked
    at = run(at)
    assert at.error and "see a physiotherapist or doctor" in at.error[0].value and not finish_buttons(at)


def test_unanswered_questions_or_high_pain_do_not_start_the_exercise():
    at = AppTest.from_file(EXERCISE, default_timeout=TIMEOUT)
    at.query_params["exercise"] = "upper-trapezius-pir"
    at = run(at)
    at = answer(at, pain=None)
    assert "Give your pain right now" in texts(at) and not finish_buttons(at)
    at = answer(at, pain=8)
    assert "too much to start" in at.error[0].value and not finish_buttons(at)


def test_no_red_flag_shows_the_blood_pressure_caution_and_the_hold():
    at = AppTest.from_file(EXERCISE, default_timeout=TIMEOUT)
    at.query_params["exercise"] = "upper-trapezius-pir"
    at = answer(run(at))
    assert "never hold your breath" in texts(at) and finish_buttons(at)
    at.query_params["exercise"] = "pectoralis-minor-met"               # therapist-only, no plan
    at = run(at)
    assert "therapist-only technique" in at.error[0].value and not finish_buttons(at)


def test_the_plan_edited_in_review_is_what_the_exercise_page_offers(data):
    from assessment.exercises import load_catalog
    from dashboard.plan_table import edited_plan, plan_rows, row_for, therapy_plan
    from store.plans import save_plan

    catalog = load_catalog()
    scm, trap = catalog.get("sternocleidomastoid-pir"), catalog.get("upper-trapezius-pir")
    # the review rows as a therapist left them: the suggested upper trapezius PIR switched to the left,
    # 5 reps of 8 s; the therapist-only SCM PIR added for the right side
    rows = plan_rows([{"exercise": trap.to_dict(), "side": "right", "why": ["suggested"]}], catalog)
    rows[0].update(side="left", reps=5, hold_s=8.0)
    rows.append(row_for(scm, "right"))
    with paths.open_store(load_config()) as store:
        pid = store.add_patient("Ada")
        save_plan(store, pid, therapy_plan(edited_plan(rows, catalog, {"plan": []}), catalog, pid))
    at = run(AppTest.from_file(EXERCISE, default_timeout=TIMEOUT))
    at.selectbox(key="exercise_patient").set_value(pid)
    at = run(at)
    picker = at.selectbox(key="plan_item")
    assert picker.options == [f"{trap.name} - left side", f"{scm.name} - right side"]
    picker.set_value(0)
    at = answer(run(at))
    body = texts(at)
    assert "for the upper trapezius, on the left side" in body
    assert "for 8 s, relax 3 s, stretch 10 s; 5 repetitions" in body and finish_buttons(at)
    at.selectbox(key="plan_item").set_value(1)                         # therapist-only, but in the plan
    at = run(at)
    assert "for the sternocleidomastoid, on the right side" in texts(at) and finish_buttons(at)
    assert not [e for e in at.error if "therapist-only" in e.value]
