"""The therapist's plan: sides resolved (never "affected"), doses checked, one plan item chosen, and the
hold protocol carries the therapist's dose with the catalog's watched joints."""

from __future__ import annotations

import json

import pytest

from assessment.exercises import load_catalog
from assessment.therapy_plan import PlanError, load_plan, plan_of

TRAP = {"exercise_id": "upper-trapezius-pir", "side": "left", "hold_s": 6, "relax_s": 2, "stretch_s": 8, "repetitions": 4}


def test_plan_item_protocol_is_the_therapists_dose():
    plan = plan_of([TRAP])
    p = plan.items[0].protocol()
    ex = load_catalog().get("upper-trapezius-pir")
    assert (p.hold_s, p.relax_s, p.stretch_s, p.repetitions) == (6, 2, 8, 4)
    assert p.still_landmarks == ex.still_landmarks and p.barrier_angle == ex.barrier_angle
    assert "(left)" in p.name


@pytest.mark.parametrize("change,message", [
    ({"side": "affected"}, "side must be one of left, right, both"),
    ({"side": None}, "side must be one of"),
    ({"exercise_id": "nope"}, "no exercise 'nope'"),
    ({"hold_s": 0}, "hold_s must be a number >= 1"),
    ({"repetitions": 2.5}, "repetitions must be a whole number"),
])
def test_bad_items_are_clear_errors(change, message):
    with pytest.raises(PlanError, match=message):
        plan_of([TRAP | change])


def test_bilateral_exercise_must_be_both_sides_and_isometric_has_no_stretch():
    with pytest.raises(PlanError, match="side must be 'both'"):
        plan_of([{"exercise_id": "suboccipitals-pir", "side": "left", "hold_s": 5, "relax_s": 3, "stretch_s": 10,
                  "repetitions": 4}])
    with pytest.raises(PlanError, match="no stretch phase"):
        plan_of([{"exercise_id": "lower-trapezius-low-row-hold", "side": "left", "hold_s": 5, "relax_s": 3,
                  "stretch_s": 10, "repetitions": 4}])


def test_choosing_an_item(tmp_path):
    plan = plan_of([TRAP, TRAP | {"side": "right"}])
    assert plan.item("upper-trapezius-pir", "right").side == "right"
    with pytest.raises(PlanError, match="2 matching items"):
        plan.item("upper-trapezius-pir")
    with pytest.raises(PlanError, match="no item"):
        plan.item("levator-scapulae-pir")
    path = plan.save_json(tmp_path / "plan.json")
    assert load_plan(path) == plan
    (tmp_path / "bad.json").write_text(json.dumps({"items": []}))
    with pytest.raises(PlanError, match="not an isobalance plan"):
        load_plan(tmp_path / "bad.json")
    with pytest.raises(PlanError, match="not found"):
        load_plan(tmp_path / "missing.json")
