"""Safety before exercise: red flags stop, pain has a stop rule, therapist-only techniques wait for the
therapist, and ``isobalance hold`` refuses to start with one plain message (exit 5, no traceback)."""

from __future__ import annotations

import pytest

from assessment.exercises import load_catalog
from assessment.safety import SafetyStop, load_safety, may_start, pain_after, pain_before, screen
from vision.errors import IsobalanceError

RULES = load_safety()
ALL_NO = {f.id: False for f in RULES.red_flags}


def test_the_screen_asks_the_six_red_flags():
    assert set(RULES.ids) == {"night_pain", "recent_trauma", "numbness_weakness", "dizziness", "bladder_bowel",
                              "weight_loss"}
    assert screen(ALL_NO).ok


@pytest.mark.parametrize("flag", sorted(ALL_NO))
def test_any_yes_stops_and_advises_a_professional(flag):
    d = screen(ALL_NO | {flag: True})
    assert not d.ok and d.reasons == (flag,)
    assert "see a physiotherapist or doctor" in d.message
    with pytest.raises(SafetyStop) as info:
        d.raise_if_stopped()
    assert isinstance(info.value, IsobalanceError) and info.value.exit_code == 5


def test_an_unanswered_question_is_not_a_no():
    answers = dict(ALL_NO)
    answers["dizziness"] = None
    d = screen(answers)
    assert not d.ok and "Answer every safety question" in d.message and "dizziness" in d.message
    assert not screen({k: v for k, v in ALL_NO.items() if k != "weight_loss"}).ok


def test_pain_stop_rule():
    assert pain_before(0).ok and pain_before(6).ok
    assert not pain_before(7).ok and "too much to start" in pain_before(7).message
    assert pain_after(2, 3).ok
    assert not pain_after(2, 4).ok                 # rose by 2
    assert not pain_after(5, 7).ok                 # reached 7
    assert pain_after(5, 4).ok                     # less pain is fine
    for bad in (-1, 11, 3.5, "4", True, None):
        with pytest.raises(SafetyStop, match="whole number from 0"):
            pain_before(bad)


def test_therapist_only_techniques_need_the_therapist():
    catalog = load_catalog()
    only = {e.id for e in catalog if e.therapist_only}
    assert only == {"sternocleidomastoid-pir", "pectoralis-minor-met"}
    for ex in catalog:
        assert may_start(ex, therapist_confirmed=True).ok
        assert may_start(ex, therapist_confirmed=False).ok is (ex.id not in only)


def test_blood_pressure_caution_names_breathing():
    assert "never hold your breath" in RULES.bp_caution and RULES.bp_sources
