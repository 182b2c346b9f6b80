"""Copy check: every patient-facing page, rendered by AppTest in each of its states, speaks plain words -
no citation keys ([Roggio24]), no raw floats with more than two decimals, no snake_case identifiers, no
internal status words, no symmetry indices or biomechanics jargon (issue #13).

Patient-facing pages: the self-assessment (waiting for the camera; a real front-view assessment with
nothing flagged; a real assessment with a finding and a plan) and the guided exercise (the instructions of
every catalog exercise; the live hold; the summary). Therapist pages (Review, History) keep their sources
and numbers on purpose and are not checked here.

States come from real data: the front-view capture and the hold are real frames through the real model
(the sessions of tests/dashboard/test_app_live.py); the assessment with a plan is the real pose2sim track
with the right shoulder raised by a known 8 deg (tests/assessment/test_assess.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.test_app_live import (EXERCISE, SELF, TIMEOUT, front_captured_session,  # noqa: F401 (fixtures)
                                           no_exception, report_with_a_plan, settings_env, static_track)

RULES = {
    "citation key": re.compile(r"\[[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*\]"),
    "float with more than two decimals": re.compile(r"\d\.\d{3,}"),
    "snake_case identifier": re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b"),
    "internal status word": re.compile(r"\b(?:stream_ended|not_measurable|not_judged|not_visible|flagged)\b|\bstatus\b"),
    "symmetry index or jargon": re.compile(r"\bSI\b|symmetry index|frontal-plane|varus|valgus|FPPA|\bmedian\b|"
                                           r"\bIQR\b|\bCI\b|hypothes[ie]s", re.IGNORECASE),
}
ICONS = re.compile(r":material/[a-z_]+:|:(?:red|green|orange|gray|blue|violet|rainbow)\[|\]")


def page_text(at: AppTest) -> str:
    """Everything the page shows as text, icons (":material/...:" shortcodes) removed."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [t.value.to_string() for t in at.table]
    parts += [b.label for b in at.button] + [e.label for e in at.expander]
    for sb in at.selectbox:
        parts += [sb.label] + [str(o) for o in sb.options]
    return "\n".join(ICONS.sub(" ", p) for p in parts)


def problems(text: str) -> list[str]:
    return [f"{rule}: {m.group(0)!r} in …{text[max(0, m.start() - 60):m.end() + 60]!r}…"
            for rule, rx in RULES.items() for m in rx.finditer(text)]


def test_the_rules_catch_what_the_patient_was_shown_before():
    """The check can fail: the sentences of issue #13 are caught, plain ones pass."""
    bad = ["Left knee frontal-plane projection angle (varus/valgus): left knee projects 3.2 deg laterally (varus)",
           "median SI −133.6 % over 2 reps", "past the threshold of 5 ° ([Roggio24] [Ferreira11])",
           "yaw median: -28.1829", "outcome: stream_ended", "left_shoulder not visible"]
    for line in bad:
        assert problems(line), line
    good = ["Your right shoulder sits higher than the other, by about 11°.", "Held still 7.5 s of 10 s",
            "Push as if you were holding a full cup of tea steady."]
    assert not any(problems(line) for line in good)


def check(at: AppTest, where: str) -> None:
    no_exception(at)
    found = problems(page_text(at))
    assert not found, f"{where}:\n" + "\n".join(found)


def test_self_assessment_copy_waiting_and_assessed(front_captured_session, report_with_a_plan):
    at = AppTest.from_file(str(SELF), default_timeout=TIMEOUT).run()
    check(at, "self-assessment, waiting")
    at = AppTest.from_file(str(SELF), default_timeout=TIMEOUT)
    at.session_state["self_assessment_session"] = front_captured_session
    at.run()
    check(at, "self-assessment, front captured")
    [assess] = [b for b in at.button if b.label == "Assess the front view now"]
    assess.click().run()
    assert "Your assessment" in [h.value for h in at.header]
    check(at, "self-assessment, front view assessed")
    at = AppTest.from_file(str(SELF), default_timeout=TIMEOUT)
    at.session_state["self_assessment_reports"] = {"front": (report_with_a_plan, {})}
    at.run()
    text = page_text(at)
    assert "Your right shoulder sits higher than the other, by about" in text
    assert report_with_a_plan.plan[0].exercise.name in text
    check(at, "self-assessment with a finding and a plan")


def test_exercise_copy_after_a_self_assessment_that_suggested_nothing():
    at = AppTest.from_file(str(EXERCISE), default_timeout=TIMEOUT)
    at.session_state["plan"] = []                  # what the self-assessment publishes when it suggested nothing
    at.run()
    assert "it suggested no exercise" in page_text(at)
    check(at, "exercise page after a self-assessment that suggested nothing")


def test_exercise_copy_for_every_catalog_exercise():
    from assessment.exercises import load_catalog

    for ex in load_catalog():
        at = AppTest.from_file(str(EXERCISE), default_timeout=TIMEOUT)
        at.query_params["exercise"] = ex.id
        at.run()
        assert ex.name in [h.value for h in at.subheader]
        check(at, f"exercise page, {ex.id}")


def test_exercise_copy_during_the_hold_and_in_the_summary(estimator, squat_frames):
    from assessment.exercises import load_catalog
    from assessment.hold import HoldProtocol, HoldSettings
    from dashboard.live import LiveHold, LiveSession
    from tests.dashboard.test_live_processors import FakeClock, standing_loop
    from vision.pipeline import PipelineSettings

    ex = load_catalog().get("upper-trapezius-pir")     # not therapist-only: no plan needed
    clock = FakeClock()
    clock.t = 2 * 10 ** 9                                      # after every other session of this module
    session = LiveSession(estimator, PipelineSettings(),
                          LiveHold(HoldProtocol.from_exercise(ex), HoldSettings(calibrate_s=3.0, settle_s=1.0)),
                          now_ms=clock)
    loop = standing_loop(squat_frames, 4.0)
    for i in range(8 * 15):
        clock.t += 1000.0 / 15
        session.process(loop[(i // 3) % len(loop)])
    at = AppTest.from_file(str(EXERCISE), default_timeout=TIMEOUT)
    at.query_params["exercise"] = ex.id
    at.session_state["exercise_session"] = ((ex.id, 3.0, 1.0), session)
    at.session_state["exercise_safety"] = {"ok": True, "message": "", "pain_before": 0}   # screen answered: no flags
    at.run()
    assert "Held still" in [m.label for m in at.metric]
    check(at, "exercise page, live hold")
    [finish] = [b for b in at.button if b.label == "Finish and show the summary"]
    finish.click().run()
    assert "Summary" in [h.value for h in at.header]
    check(at, "exercise page, summary")
