"""Rules -> muscle-pair hypotheses: right muscles, right SIDE, mirror-safe, honest confidence."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from assessment.findings import Finding
from assessment.hypotheses import RulesError, hypothesize, load_rules
from vision.errors import IsobalanceError


def finding(metric, side, value, threshold, *, view="front", status="flagged", ci=None, source="[Test]"):
    ci = ci if ci is not None else [value - 0.2, value + 0.2]
    return Finding(metric=metric, label=metric.replace("_", " "), view=view, status=status, value=value,
                   unit="deg", threshold=threshold, threshold_source=source,
                   uncertainty={"iqr": [value - 0.1, value + 0.1], "ci95": ci, "n_frames": 30},
                   frames=[3, 7], side=side, direction=f"{side} higher", kind="static")


def muscles(h):
    return ({(m.muscle, m.side) for m in h.short}, {(m.muscle, m.side) for m in h.lengthened})


# Expected muscles written out by hand from clinical-reference §2 (not read back from rules.toml).
CASES = [
    # metric, finding side, value, short {(muscle, side)}, lengthened
    ("shoulder_line_tilt", "right", -4.0,
     {("upper_trapezius", "right"), ("levator_scapulae", "right")}, {("lower_trapezius", "right")}),
    ("shoulder_line_tilt", "left", 4.0,
     {("upper_trapezius", "left"), ("levator_scapulae", "left")}, {("lower_trapezius", "left")}),
    ("pelvis_line_tilt", "right", -3.0,
     {("quadratus_lumborum", "right"), ("hip_adductors", "right")}, {("gluteus_medius", "right")}),
    ("pelvis_line_tilt", "left", 3.0,
     {("quadratus_lumborum", "left"), ("hip_adductors", "left")}, {("gluteus_medius", "left")}),
    # head tilt: side = the higher ear, so the head leans toward the other side, whose SCM is short
    ("head_tilt", "left", 6.0, {("sternocleidomastoid", "right")}, set()),
    ("head_tilt", "right", -6.0, {("sternocleidomastoid", "left")}, set()),
    ("knee_fppa_left", "left", 15.0, {("hip_adductors", "left")}, {("gluteus_medius", "left")}),
    ("knee_fppa_right", "right", 15.0, {("hip_adductors", "right")}, {("gluteus_medius", "right")}),
    # upper crossed: primary short muscles (upper trapezius, levator, pectorals) plus the SCM and
    # suboccipitals some authors add; weak deep neck flexors and lower trapezius (clinical-reference §2)
    ("cva_proxy_left", None, 40.0,
     {("upper_trapezius", "both"), ("levator_scapulae", "both"), ("pectoralis_minor", "both"),
      ("suboccipitals", "both"), ("sternocleidomastoid", "both")},
     {("deep_neck_flexors", "both"), ("lower_trapezius", "both")}),
]


@pytest.mark.parametrize("metric,side,value,short,long", CASES)
def test_rule_names_muscles_and_side(metric, side, value, short, long):
    [h] = hypothesize([finding(metric, side, value, 2.0)])
    assert muscles(h) == (short, long)
    assert h.side == side
    assert "suggests" in h.statement and "diagnos" not in h.statement.lower()
    assert h.tests, "every hypothesis names a manual confirmation test"
    assert h.sources and h.evidence["metric"] == metric


def test_elevated_right_shoulder_statement_names_right_side():
    [h] = hypothesize([finding("shoulder_line_tilt", "right", -4.0, 2.0)])
    assert "right upper trapezius" in h.statement and "left" not in h.statement
    assert any("Levator" in t.name for t in h.tests)


MIRROR = {"left": "right", "right": "left", "both": "both"}


@given(metric=st.sampled_from(["shoulder_line_tilt", "pelvis_line_tilt", "head_tilt", "trunk_lateral_lean",
                               "knee_fppa_left", "cva_proxy_right"]),
       side=st.sampled_from(["left", "right"]), value=st.floats(3.0, 40.0))
def test_mirrored_finding_gives_mirrored_muscles(metric, side, value):
    [h] = [x for x in hypothesize([finding(metric, side, value, 2.0)]) if x.kind == "hypothesis"]
    [m] = [x for x in hypothesize([finding(metric, MIRROR[side], value, 2.0)]) if x.kind == "hypothesis"]
    assert muscles(m) == tuple({(mu, MIRROR[s]) for mu, s in group} for group in muscles(h))


def test_only_flagged_findings_make_hypotheses():
    out = hypothesize([finding("shoulder_line_tilt", "right", 1.0, 2.0, status="within"),
                       finding("pelvis_line_tilt", None, float("nan"), 2.0, status="not_measurable"),
                       finding("body_axis_lean", "left", 9.0, 2.0)])          # no rule for this metric
    assert out == []


def test_varus_fppa_is_not_read_as_weak_abductors():
    assert hypothesize([finding("knee_fppa_left", "left", -15.0, 10.0)]) == []


def test_dict_findings_work_like_objects():
    f = finding("pelvis_line_tilt", "left", 3.0, 2.0)
    assert [h.to_dict() for h in hypothesize([f.to_dict()])] == [h.to_dict() for h in hypothesize([f])]


def test_one_clear_finding_alone_stays_low_and_says_why():
    [h] = hypothesize([finding("cva_proxy_left", None, 38.0, 45.5, view="left_side", ci=[37.5, 38.5])])
    assert h.confidence == "low"
    assert any("no agreeing evidence yet" in r for r in h.confidence_reasons)


def test_moderate_is_reached_with_agreeing_evidence():
    clear = finding("cva_proxy_left", None, 38.0, 45.5, view="left_side", ci=[37.5, 38.5])
    # sourced pattern (forward head): one kind of agreement is enough - an earlier session ...
    [first] = hypothesize([clear])
    [h] = hypothesize([clear], earlier_sessions=[[first.to_dict()]])
    assert h.confidence == "moderate" and "+ the same hypothesis was made in 1 earlier session" in h.confidence_reasons
    # ... or both sides' proxies flagged (merged into one hypothesis with two findings)
    other = finding("cva_proxy_right", None, 39.0, 45.5, view="right_side", ci=[38.5, 39.5])
    [both] = hypothesize([clear, other])
    assert both.confidence == "moderate" and both.metrics == ("cva_proxy_left", "cva_proxy_right")
    assert any(r.startswith("+ 2 findings agree") for r in both.confidence_reasons)


def test_weak_pattern_needs_two_kinds_of_agreement_or_a_positive_test():
    pelvis = finding("pelvis_line_tilt", "left", 9.0, 5.0, ci=[8.8, 9.2])
    lean = finding("trunk_lateral_lean", "left", 8.0, 5.0, ci=[7.8, 8.2])
    [h] = hypothesize([pelvis])
    assert h.confidence == "low"
    agree = hypothesize([pelvis, lean])
    assert [x.confidence for x in agree] == ["low", "low"]          # one kind (two findings) of two needed
    assert any("counts 1 of the 2" in r for r in agree[0].confidence_reasons)
    again = hypothesize([pelvis, lean], earlier_sessions=[[x.to_dict() for x in agree]])
    assert [x.confidence for x in again] == ["moderate", "moderate"]
    [tested] = hypothesize([pelvis], confirmations={"lateral_pelvic_tilt:left": True})
    assert tested.confidence == "moderate" and tested.confirmed is True
    assert "+ the therapist recorded a positive confirmation test" in tested.confidence_reasons
    # the mirror-image test result does not confirm the left side
    [wrong_side] = hypothesize([pelvis], confirmations={"lateral_pelvic_tilt:right": True})
    assert wrong_side.confidence == "low"


def test_a_measurement_problem_or_a_negative_test_keeps_it_low_whatever_agrees():
    near = finding("pelvis_line_tilt", "left", 5.5, 5.0, ci=[5.3, 5.7])
    [h] = hypothesize([near], earlier_sessions=[[{"rule": "lateral_pelvic_tilt", "side": "left"}]] * 2,
                      confirmations={"lateral_pelvic_tilt:left": True})
    assert h.confidence == "low" and any("within" in r for r in h.confidence_reasons)
    [neg] = hypothesize([finding("pelvis_line_tilt", "left", 9.0, 5.0)], confirmations={"lateral_pelvic_tilt:left": False})
    assert neg.confidence == "low" and neg.confirmed is False
    assert any("negative" in r for r in neg.confidence_reasons)


@pytest.mark.parametrize("change,reason_word", [
    (dict(value=44.0, ci=[43.5, 44.5]), "within"),                     # near the 45.5 threshold
    (dict(view="oblique"), "oblique"),                                  # oblique camera
    (dict(source="[Jang20] ⚠ student project"), "weak or unvalidated"),  # weak threshold source
])
def test_confidence_lowered(change, reason_word):
    kw = dict(value=38.0, view="left_side", ci=[37.5, 38.5]) | change
    [h] = hypothesize([finding("cva_proxy_left", None, kw.pop("value"), 45.5, **kw)])
    assert h.confidence == "low"
    assert any(reason_word in r for r in h.confidence_reasons)


def test_weak_pattern_from_one_clear_finding_is_low():
    [h] = hypothesize([finding("shoulder_line_tilt", "right", -9.0, 2.0, view="back", ci=[-9.2, -8.8])])
    assert h.confidence == "low"
    assert any("expert opinion" in r for r in h.confidence_reasons)


def test_to_dict_is_json_ready():
    import json

    [h] = hypothesize([finding("shoulder_line_tilt", "right", -4.0, 2.0)])
    d = json.loads(json.dumps(h.to_dict()))
    assert d["short"][0]["label"] == "right upper trapezius"
    assert d["confirmation_tests"][0]["how"]


@pytest.mark.parametrize("edit,message", [
    (lambda s: s.replace('muscle = "upper_trapezius", side = "same"', 'muscle = "upper_trapz", side = "same"'),
     "unknown muscle 'upper_trapz'"),
    (lambda s: s.replace('tests = ["levator_length"]', 'tests = ["levator_lenght"]'),
     "unknown confirmation test 'levator_lenght'"),
    (lambda s: s.replace('muscle = "lower_trapezius", side = "same"', 'muscle = "lower_trapezius", side = "left"'),
     "side 'left' must be one of"),
    (lambda s: s.replace('sources = ["Song19", "PhysiopediaUCS"]', 'sources = ["Nobody99"]'),
     "unknown source 'Nobody99'"),
    (lambda s: s.replace("schema_version = 1", "schema_version = 7"), "schema_version must be 1"),
    (lambda s: s + "\n[[rule\n", "not valid TOML"),
])
def test_bad_rules_file_is_a_clear_error(tmp_path, edit, message):
    from assessment.hypotheses import RULES_PATH

    bad = tmp_path / "rules.toml"
    text = RULES_PATH.read_text(encoding="utf-8")
    assert edit(text) != text
    bad.write_text(edit(text), encoding="utf-8")
    with pytest.raises(RulesError, match=message) as info:
        load_rules(bad)
    assert isinstance(info.value, IsobalanceError)


def test_every_rule_metric_is_a_measured_metric():
    """A rule keyed on a metric id nobody produces would silently never fire."""
    from assessment.angles import ANGLE_BY_ID

    rules = load_rules()
    assert {m for r in rules.rules for m in r.metrics} <= set(ANGLE_BY_ID)


# ---------------------------------------------------------------------- findings judged together
from assessment.exercises import plan_for  # noqa: E402
from assessment.hypotheses import LARGE_ASYMMETRY_DEG, WHOLE_BODY_ASYMMETRIES  # noqa: E402

SIGN = {"left": 1.0, "right": -1.0}


def test_high_left_hip_with_trunk_lean_right_gives_one_quadratus_lumborum_side():
    pelvis = finding("pelvis_line_tilt", "left", 7.0, 5.0)
    lean = finding("trunk_lateral_lean", "right", -7.0, 5.0)
    hyps = hypothesize([pelvis, lean])
    assert [h.rule for h in hyps] == ["lateral_pelvic_tilt"]
    assert any("carries with it" in n for n in hyps[0].notes)
    ql = {(p.exercise.id, p.side) for p in plan_for(hyps) if p.exercise.target_muscle == "quadratus_lumborum"}
    assert ql == {("quadratus-lumborum-met", "left")}


def test_without_an_explanation_contradictory_sides_are_left_untreated(tmp_path):
    from assessment.hypotheses import RULES_PATH

    path = tmp_path / "rules.toml"
    path.write_text(RULES_PATH.read_text(encoding="utf-8").replace('explained_by = "lateral_pelvic_tilt"\n', ""),
                    encoding="utf-8")
    rules = load_rules(path)
    hyps = hypothesize([finding("pelvis_line_tilt", "left", 7.0, 5.0), finding("trunk_lateral_lean", "right", -7.0, 5.0)],
                       rules)
    assert all(m.muscle != "quadratus_lumborum" for h in hyps for m in h.muscles)
    assert all(h.confidence == "low" and any("contradictory sides" in n for n in h.notes) for h in hyps)
    assert not [p for p in plan_for(hyps) if p.exercise.target_muscle == "quadratus_lumborum"]


@given(picks=st.lists(st.tuples(st.sampled_from(WHOLE_BODY_ASYMMETRIES), st.sampled_from(["left", "right"]),
                                st.floats(5.5, LARGE_ASYMMETRY_DEG - 0.5)), min_size=1, max_size=4,
                      unique_by=lambda t: t[0]))
def test_frontal_findings_never_give_one_exercise_on_both_sides(picks):
    findings = [finding(m, side, SIGN[side] * v, 5.0) for m, side, v in picks]
    sides: dict[str, set[str]] = {}
    for p in plan_for(hypothesize(findings)):
        sides.setdefault(p.exercise.id, set()).add(p.side)
    assert all(not {"left", "right"} <= s for s in sides.values()), sides


@pytest.mark.parametrize("side", ["left", "right"])
def test_shoulder_pelvis_and_trunk_together_give_a_referral_and_no_plan(side):
    s = SIGN[side]
    hyps = hypothesize([finding("shoulder_line_tilt", side, 6.0 * s, 5.0), finding("pelvis_line_tilt", side, 6.0 * s, 5.0),
                        finding("trunk_lateral_lean", side, 6.0 * s, 5.0)])
    assert hyps[0].kind == "referral" and "physiotherapist or doctor" in hyps[0].statement
    assert hyps[0].tests[0].id == "professional_exam"
    assert "shoulder, pelvis and trunk" in hyps[0].statement.lower() and "suggests" in hyps[0].statement
    assert len(hyps[0].supporting) == 2
    assert plan_for(hyps) == []
    # two of the three are not a referral
    assert not [h for h in hypothesize([finding("shoulder_line_tilt", side, 6.0 * s, 5.0),
                                        finding("pelvis_line_tilt", side, 6.0 * s, 5.0)]) if h.kind == "referral"]


def test_a_large_asymmetry_alone_gives_a_referral():
    hyps = hypothesize([finding("shoulder_line_tilt", "right", -(LARGE_ASYMMETRY_DEG + 2), 5.0)])
    assert [h.kind for h in hyps] == ["referral", "hypothesis"] and plan_for(hyps) == []
    assert "large shoulder line tilt (12.0 deg" in hyps[0].statement.lower()
    smaller = hypothesize([finding("shoulder_line_tilt", "right", -(LARGE_ASYMMETRY_DEG - 1), 5.0)])
    assert [h.kind for h in smaller] == ["hypothesis"] and plan_for(smaller)


def test_pectoralis_minor_is_reachable_from_the_forward_head_rule():
    plan = plan_for(hypothesize([finding("forward_head_offset_left", None, 30.0, 20.0, view="left_side")]))
    assert ("pectoralis-minor-met", "both") in {(p.exercise.id, p.side) for p in plan}


def test_negative_confirmation_removes_the_exercises():
    f = finding("shoulder_line_tilt", "right", -7.0, 5.0)
    assert plan_for(hypothesize([f]))
    assert plan_for(hypothesize([f], confirmations={"elevated_shoulder:right": False})) == []
