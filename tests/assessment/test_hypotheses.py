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
    ("cva_proxy_left", None, 40.0,
     {("suboccipitals", "both"), ("sternocleidomastoid", "both")}, {("deep_neck_flexors", "both")}),
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
    [h] = hypothesize([finding(metric, side, value, 2.0)])
    [m] = hypothesize([finding(metric, MIRROR[side], value, 2.0)])
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


def test_confidence_moderate_only_when_clear():
    clear = finding("cva_proxy_left", None, 38.0, 45.5, view="left_side", ci=[37.5, 38.5])
    [h] = hypothesize([clear])
    assert h.confidence == "moderate" and h.confidence_reasons == ()


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


def test_weak_pattern_is_always_low():
    [h] = hypothesize([finding("shoulder_line_tilt", "right", -12.0, 2.0, view="back", ci=[-12.2, -11.8])])
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
