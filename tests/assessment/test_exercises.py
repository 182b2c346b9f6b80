"""Exercise catalog: schema validation catches each kind of bad entry; plans follow the hypotheses' sides."""

from __future__ import annotations

import json
import tomllib

import pytest

from assessment.exercises import (CATALOG_PATH, EXERCISE_KEYS, JOINT_LANDMARKS, MUSCLE_JOINTS, TECHNIQUES_FOR_ROLE,
                                  CatalogError, load_catalog, plan_for)
from assessment.findings import Finding
from assessment.hypotheses import hypothesize, load_rules
from vision.errors import IsobalanceError
from vision.track import LANDMARK_NAMES


def real_doc() -> dict:
    with open(CATALOG_PATH, "rb") as fh:
        return tomllib.load(fh)


def write_toml(path, doc) -> None:
    """Tiny TOML writer for the catalog's shape (JSON scalars and arrays are valid TOML)."""
    lines = [f"schema_version = {json.dumps(doc['schema_version'])}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in doc.items() if k not in ("schema_version", "exercise")]
    for ex in doc["exercise"]:
        lines.append("\n[[exercise]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in ex.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_real_catalog_loads_with_exact_schema():
    catalog = load_catalog()
    assert len(catalog) >= 9
    for ex in catalog:
        assert tuple(ex.to_dict()) == EXERCISE_KEYS
        assert set(ex.still_landmarks) <= set(LANDMARK_NAMES)
        assert 0 <= ex.effort_pct[0] <= ex.effort_pct[1] <= 100
        assert (ex.stretch_s == 0) == (ex.technique == "isometric")


def test_every_exercise_watches_every_joint_its_muscle_crosses():
    """Read straight from the data (not through the loader): the watched set covers each crossed joint."""
    for ex in real_doc()["exercise"]:
        joints = MUSCLE_JOINTS[ex["target_muscle"]]
        assert set(joints) <= set(ex["crosses"]), ex["id"]
        for joint in ex["crosses"]:
            assert set(JOINT_LANDMARKS[joint]) <= set(ex["still_landmarks"]), (ex["id"], joint)
    neck = {ex["id"] for ex in real_doc()["exercise"] if "head_neck" in ex["crosses"]}
    assert neck == {"upper-trapezius-pir", "levator-scapulae-pir", "sternocleidomastoid-pir", "suboccipitals-pir",
                    "deep-neck-flexors-hold"}


@pytest.mark.parametrize("index", range(len(real_doc()["exercise"])))
def test_loader_rejects_an_exercise_that_stops_watching_its_joint(tmp_path, index):
    """For every exercise: dropping any landmark of a crossed joint, or the joint itself, fails to load."""
    ex = real_doc()["exercise"][index]
    path = tmp_path / "exercises.toml"
    for joint in MUSCLE_JOINTS[ex["target_muscle"]]:
        for name in JOINT_LANDMARKS[joint]:
            doc = real_doc()
            doc["exercise"][index]["still_landmarks"].remove(name)
            write_toml(path, doc)
            with pytest.raises(CatalogError, match=f"{ex['id']}.*must watch the {joint} joint.*add {name}"):
                load_catalog(path)
        doc = real_doc()
        rest = [j for j in doc["exercise"][index]["crosses"] if j != joint]
        doc["exercise"][index]["crosses"] = rest or ["knee" if joint != "knee" else "hip"]   # a wrong joint
        write_toml(path, doc)
        with pytest.raises(CatalogError, match=f"crosses must include {joint}"):
            load_catalog(path)


def test_round_trip_writer_is_faithful(tmp_path):
    """The bad-file tests below rely on this writer; an unmodified copy must load identically."""
    path = tmp_path / "copy.toml"
    write_toml(path, real_doc())
    assert load_catalog(path).exercises == load_catalog().exercises


def test_every_muscle_the_rules_name_has_an_exercise_of_the_right_kind():
    rules, catalog = load_rules(), load_catalog()
    named = rules.named_muscles()
    assert {"upper_trapezius", "levator_scapulae", "lower_trapezius", "sternocleidomastoid", "suboccipitals",
            "deep_neck_flexors", "quadratus_lumborum", "gluteus_medius", "hip_adductors"} <= set(named)
    for muscle, roles in named.items():
        for role in roles:
            found = catalog.for_muscle(muscle, role)
            assert found, (muscle, role)
            assert all(e.technique in TECHNIQUES_FOR_ROLE[role] for e in found)


def _edit(doc, index, **changes):
    doc["exercise"][index].update(changes)
    return doc


def _drop_key(doc, index, key):
    del doc["exercise"][index][key]
    return doc


def _remove_muscle(doc, muscle):
    doc["exercise"] = [e for e in doc["exercise"] if e["target_muscle"] != muscle]
    return doc


BAD = [
    ("unknown key", lambda d: _edit(d, 0, holds_s=10), "unknown key\\(s\\) holds_s"),
    ("missing key", lambda d: _drop_key(d, 1, "hold_s"), "missing key\\(s\\) hold_s"),
    ("bad landmark", lambda d: _edit(d, 0, still_landmarks=["left_shoulder", "left_sholder"]),
     "'left_sholder' are not BlazePose landmark names"),
    ("landmark index not name", lambda d: _edit(d, 0, still_landmarks=["11"]), "not BlazePose landmark names"),
    ("effort above 100", lambda d: _edit(d, 2, effort_pct=[20, 120]), "effort_pct \\[20, 120\\]"),
    ("effort reversed", lambda d: _edit(d, 2, effort_pct=[40, 10]), "low <= high"),
    ("effort negative", lambda d: _edit(d, 2, effort_pct=[-5, 10]), "within 0-100"),
    ("technique", lambda d: _edit(d, 0, technique="stretch"), "technique 'stretch' must be one of"),
    ("side", lambda d: _edit(d, 0, side="upper"), "side 'upper' must be one of"),
    ("camera view", lambda d: _edit(d, 0, camera_view="top"), "camera_view 'top'"),
    ("unknown muscle", lambda d: _edit(d, 0, target_muscle="trapezius"), "target_muscle 'trapezius'"),
    ("bad slug", lambda d: _edit(d, 0, id="Upper Trap"), "lowercase slug"),
    ("zero reps", lambda d: _edit(d, 0, repetitions=0), "repetitions must be"),
    ("zero hold", lambda d: _edit(d, 0, hold_s=0), "hold_s must be a positive"),
    ("stretch in isometric", lambda d: _edit(d, -1, stretch_s=10), "stretch_s must be 0 for a plain isometric"),
    ("no stretch in PIR", lambda d: _edit(d, 0, stretch_s=0), "stretch_s must be > 0 for PIR"),
    ("unknown joint", lambda d: _edit(d, 0, crosses=["neck", "shoulder_girdle"]), "'neck' are not joints"),
    ("no joints", lambda d: _edit(d, 0, crosses=[]), "crosses must be a non-empty list"),
    ("empty steps", lambda d: _edit(d, 0, steps=[]), "steps must be a non-empty list"),
    ("unknown source", lambda d: _edit(d, 0, sources=["Gibbons-HK", "Wikipedia"]), "'Wikipedia' are not keys"),
    ("unknown angle", lambda d: _edit(d, 0, still_angles=["neck_twist"]), "'neck_twist' are not angle ids"),
    ("duplicate id", lambda d: _edit(d, 1, id=d["exercise"][0]["id"]), "duplicate exercise id"),
    ("uncovered muscle", lambda d: _remove_muscle(d, "gluteus_medius"),
     "no isometric exercise for 'gluteus_medius'"),
    ("wrong kind only", lambda d: _edit(d, [e["target_muscle"] for e in d["exercise"]].index("lower_trapezius"),
                                        technique="PIR", stretch_s=5),
     "no isometric exercise for 'lower_trapezius'"),
    ("schema version", lambda d: d | {"schema_version": 2}, "schema_version must be 1"),
    ("stray top-level key", lambda d: d | {"exercises": 1}, "unknown top-level key"),
]


@pytest.mark.parametrize("what,edit,message", BAD, ids=[b[0] for b in BAD])
def test_bad_catalog_is_one_clear_error(tmp_path, what, edit, message):
    path = tmp_path / "exercises.toml"
    write_toml(path, edit(real_doc()))
    with pytest.raises(CatalogError, match=message) as info:
        load_catalog(path)
    assert isinstance(info.value, IsobalanceError)
    assert str(path) in str(info.value)


def test_several_problems_reported_at_once(tmp_path):
    path = tmp_path / "exercises.toml"
    doc = _edit(_edit(real_doc(), 0, technique="yoga"), 1, effort_pct=[0, 101])
    write_toml(path, doc)
    with pytest.raises(CatalogError, match="2 problem") as info:
        load_catalog(path)
    assert "yoga" in str(info.value) and "101" in str(info.value)


def test_unreadable_catalog_files(tmp_path):
    with pytest.raises(CatalogError, match="not found"):
        load_catalog(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[exercise]\nid = ", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid TOML"):
        load_catalog(broken)


def test_get_unknown_id_lists_valid_ids():
    catalog = load_catalog()
    assert catalog.get("upper-trapezius-pir").target_muscle == "upper_trapezius"
    with pytest.raises(CatalogError, match="valid ids: .*upper-trapezius-pir"):
        catalog.get("upper-trap")


def flagged(metric, side, value):
    return Finding(metric=metric, label=metric, view="front", status="flagged", value=value, unit="deg",
                   threshold=2.0, threshold_source="[Test]", uncertainty={"iqr": [value, value], "ci95": [value, value],
                                                                        "n_frames": 10},
                   frames=[0], side=side, direction="", kind="static")


def plan_of(*findings):
    return [(p.exercise.id, p.side) for p in plan_for(hypothesize(findings))]


def test_plan_follows_the_side_and_mirror():
    right = plan_of(flagged("shoulder_line_tilt", "right", -5.0))
    assert right == [("upper-trapezius-pir", "right"), ("levator-scapulae-pir", "right"),
                     ("lower-trapezius-low-row-hold", "right")]
    left = plan_of(flagged("shoulder_line_tilt", "left", 5.0))
    assert left == [(eid, "left") for eid, _ in right]


def test_plan_releases_short_muscles_before_holding_long_ones():
    plan = plan_for(hypothesize([flagged("pelvis_line_tilt", "left", 4.0),
                                 flagged("shoulder_line_tilt", "right", -4.0)]))
    techniques = [p.exercise.technique for p in plan]
    first_iso = techniques.index("isometric")
    assert all(t == "isometric" for t in techniques[first_iso:])
    assert ("quadratus-lumborum-met", "left") in [(p.exercise.id, p.side) for p in plan]


def test_plan_merges_repeated_requests_and_keeps_both_sides():
    plan = plan_for(hypothesize([flagged("pelvis_line_tilt", "right", -4.0), flagged("knee_fppa_right", "right", 15.0),
                                 flagged("knee_fppa_left", "left", 15.0)]))
    keyed = {(p.exercise.id, p.side): p for p in plan}
    assert len(keyed) == len(plan)
    gmed_right = keyed[("gluteus-medius-wall-hold", "right")]
    assert len(gmed_right.why) == 2 and len(gmed_right.hypothesis_ids) == 2
    assert ("gluteus-medius-wall-hold", "left") in keyed
    assert all("suggests" in w for p in plan for w in p.why)


def test_bilateral_hypothesis_plans_both_sides():
    plan = plan_of(flagged("cva_proxy_right", None, 30.0))
    assert plan == [("upper-trapezius-pir", "both"), ("levator-scapulae-pir", "both"), ("pectoralis-minor-met", "both"),
                    ("suboccipitals-pir", "both"), ("sternocleidomastoid-pir", "both"),
                    ("deep-neck-flexors-hold", "both"), ("lower-trapezius-low-row-hold", "both")]


def test_an_exercise_planned_for_both_sides_absorbs_its_one_side_entries():
    plan = plan_for(hypothesize([flagged("cva_proxy_right", None, 30.0), flagged("shoulder_line_tilt", "right", -6.0)]))
    keyed = {(p.exercise.id, p.side): p for p in plan}
    assert ("upper-trapezius-pir", "right") not in keyed
    assert len(keyed[("upper-trapezius-pir", "both")].why) == 2
