"""Report: JSON validates against its schema version; HTML is self-contained and shows every finding."""

from __future__ import annotations

import base64
import json
import re

import cv2
import numpy as np
import pytest

from assessment.assess import metric_series, track_info
from assessment.exercises import plan_for
from assessment.findings import Finding
from assessment.hypotheses import hypothesize, load_rules
from assessment.report import (REPORT_SCHEMA_VERSION, Report, ReportError, render_html, report_json, validate_report,
                               write_html, write_json, write_reports)
from tests.assessment.synthetic import Pose, make_track

SHOULDER_TILT = -4.0   # right shoulder higher (angle convention: + = subject's left higher)


@pytest.fixture(scope="module")
def track():
    poses = [Pose(shoulder_line_tilt=SHOULDER_TILT + 0.1 * np.sin(i), pelvis_line_tilt=0.5) for i in range(20)]
    return make_track(poses, view="front")


def findings():
    def f(metric, status, value, threshold, side, frames, direction="", reason=""):
        return Finding(metric=metric, label=metric.replace("_", " ").capitalize(), view="front", status=status,
                       value=value, unit="deg", threshold=threshold, threshold_source="[Ferreira11] no cut-off ⚠",
                       uncertainty={"iqr": [value - 0.1, value + 0.1] if value is not None else None,
                                    "ci95": [value - 0.05, value + 0.05] if value is not None else None,
                                    "n_frames": 20},
                       frames=frames, side=side, direction=direction, reason=reason)
    return [
        f("shoulder_line_tilt", "flagged", SHOULDER_TILT, 2.0, "right", [3, 11], "right shoulder higher by 4.0 deg"),
        f("pelvis_line_tilt", "within", 0.5, 2.0, "left", [5]),
        f("cva_proxy_left", "not_measurable", None, 45.5, None, [], reason="needs a side view; this is a front view"),
    ]


@pytest.fixture(scope="module")
def report(track):
    fs = findings()
    rules = load_rules()
    hyps = hypothesize(fs, rules)
    return Report(input={"kind": "memory", "path": None, "name": "synthetic"}, track_info=track_info(track),
                  views={"dominant": "front"}, framing={"full_body": True}, camera_roll={"estimate_deg": 0.0},
                  findings=fs, hypotheses=hyps, plan=plan_for(hyps), series=metric_series(track, fs),
                  references=rules.references, track=track)


def test_json_validates_and_round_trips(report, tmp_path):
    path = write_json(report, tmp_path / "out" / "report.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    validate_report(data)
    assert data["schema_version"] == REPORT_SCHEMA_VERSION
    assert [f["metric"] for f in data["findings"]] == ["shoulder_line_tilt", "pelvis_line_tilt", "cva_proxy_left"]
    assert data["findings"][2]["value"] is None and "side view" in data["findings"][2]["reason"]
    [h] = data["hypotheses"]
    assert {m["label"] for m in h["short"]} == {"right upper trapezius", "right levator scapulae"}
    assert h["evidence"]["metric"] == "shoulder_line_tilt"
    assert [p["exercise"]["id"] for p in data["plan"]] == ["upper-trapezius-pir", "levator-scapulae-pir",
                                                            "lower-trapezius-low-row-hold"]
    assert all(p["side"] == "right" for p in data["plan"])
    series = data["series"]["shoulder_line_tilt"]
    assert len(series["values"]) == 20 and abs(np.median(series["values"]) - SHOULDER_TILT) < 0.2
    assert "Ferreira11" in data["references"] and "Gibbons-HK" in data["references"]
    assert any("not diagnoses" in s for s in data["summary"])
    assert not list(tmp_path.rglob("*.partial"))


def test_write_reports_writes_what_each_writer_writes_and_nothing_when_invalid(report, tmp_path):
    json_path, html_path = write_reports(report, tmp_path / "a" / "report.json", tmp_path / "a" / "report.html")
    assert json_path.read_text(encoding="utf-8") == write_json(report, tmp_path / "b.json").read_text(encoding="utf-8")
    assert html_path.read_text(encoding="utf-8") == render_html(report)
    # the one validation still guards both files: a broken report writes neither
    broken = Report(**{**report.__dict__, "warnings": [{"not": "a sentence"}]})
    with pytest.raises(ReportError, match="warnings/0"):
        write_reports(broken, tmp_path / "c" / "report.json", tmp_path / "c" / "report.html")
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())


@pytest.mark.parametrize("mutate,where", [
    (lambda d: d.update(schema_version=2), "schema_version"),
    (lambda d: d["findings"][0].update(status="maybe"), "findings/0/status"),
    (lambda d: d["findings"][1].pop("threshold"), "findings/1"),
    (lambda d: d["hypotheses"][0].update(statement="right trapezius is short"), "hypotheses/0/statement"),
    (lambda d: d["plan"][0].update(side="upper"), "plan/0/side"),
    (lambda d: d.update(extra=1), "top level"),
])
def test_schema_rejects_broken_reports(report, mutate, where):
    data = json.loads(report_json(report))
    mutate(data)
    with pytest.raises(ReportError, match=where):
        validate_report(data)


def test_series_arrays_checked_apart_are_the_schemas_item_types():
    """validate_report checks the series' per-frame arrays outside jsonschema (speed): with the item types
    the schema itself gives them."""
    from assessment.report import SERIES_ARRAYS, load_schema

    import jsonschema

    schema = load_schema()
    jsonschema.validators.validator_for(schema).check_schema(schema)   # validate_report does not re-check it
    defs = schema["$defs"]
    props = defs["series"]["properties"]
    assert set(props) == set(SERIES_ARRAYS)
    for key, types in SERIES_ARRAYS.items():
        item = props[key]["items"]
        item = defs[item["$ref"].rsplit("/", 1)[1]] if "$ref" in item else item
        assert tuple(item["type"] if isinstance(item["type"], list) else [item["type"]]) == types


def _series_mutations():
    def on_series(fn):
        def mutate(d):
            fn(next(iter(d["series"].values())))
        return mutate

    return [
        on_series(lambda s: s["values"].__setitem__(3, "1.0")),
        on_series(lambda s: s["values"].__setitem__(0, None)),
        on_series(lambda s: s["values"].__setitem__(5, True)),
        on_series(lambda s: s["t_s"].__setitem__(7, [1.0])),
        on_series(lambda s: s["frames"].__setitem__(2, 1.5)),
        on_series(lambda s: s["frames"].__setitem__(2, 2.0)),
        on_series(lambda s: s["frames"].__setitem__(2, False)),
        on_series(lambda s: s["frames"].__setitem__(2, None)),
        on_series(lambda s: s.update(values="12")),
        on_series(lambda s: s.update(t_s=(1.0, 2.0))),
        on_series(lambda s: s.pop("values")),
        on_series(lambda s: s["values"].clear()),
        lambda d: d["series"].update(extra=[1, 2]),
        lambda d: d.update(series=[]),
        lambda d: d["findings"][0].update(status="maybe"),
    ]


@pytest.mark.parametrize("mutate", _series_mutations())
def test_validate_report_accepts_and_rejects_what_jsonschema_does(report, mutate):
    """Equivalence with the plain ``jsonschema.validate`` of the whole record, per-frame items included."""
    import jsonschema

    from assessment.report import load_schema

    data = json.loads(report_json(report))
    jsonschema.validate(data, load_schema())
    validate_report(data)                       # the valid record passes both
    mutate(data)
    try:
        jsonschema.validate(data, load_schema())
        plain_ok = True
    except jsonschema.ValidationError:
        plain_ok = False
    if plain_ok:
        validate_report(data)
    else:
        with pytest.raises(ReportError, match="report does not match schema"):
            validate_report(data)


def test_a_bad_per_frame_value_is_named(report):
    data = json.loads(report_json(report))
    metric = next(iter(data["series"]))
    data["series"][metric]["values"][4] = "n/a"
    with pytest.raises(ReportError, match=f"series/{metric}/values/4"):
        validate_report(data)


def test_html_contains_every_finding_hypothesis_and_exercise(report, tmp_path):
    html = write_html(report, tmp_path / "report.html").read_text(encoding="utf-8")
    for f in report.findings:
        assert f'id="finding-{f.kind}-{f.metric}"' in html and f.label in html
    assert "needs a side view; this is a front view" in html
    for h in report.hypotheses:
        assert h.statement in html
        assert all(t.name in html for t in h.tests)
    for p in report.plan:
        assert p.exercise.name in html
    assert "Hypotheses, not diagnoses" in html
    # self-contained: no external scripts, styles or images
    assert not re.search(r'<(script|link|img)[^>]*(src|href)="(https?:)?//', html)
    assert "<svg" in html and "plot-thr" in html
    # key frames 3 and 11 (shoulder) and 5 (pelvis) drawn as JPEGs
    jpegs = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', html)
    assert len(jpegs) == 3
    img = cv2.imdecode(np.frombuffer(base64.b64decode(jpegs[0]), np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and img.shape[0] == 360 and img.std() > 5   # skeleton lines on the canvas
    assert "skeleton only" in html


def test_html_escapes_text(report):
    fs = findings()
    fs[1].reason = "<script>alert(1)</script>"
    evil = Report(**{**report.__dict__, "findings": fs})
    html = render_html(evil)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_failed_write_keeps_the_old_file(report, tmp_path):
    path = tmp_path / "report.json"
    path.write_text("old", encoding="utf-8")
    broken = Report(**{**report.__dict__, "findings": [{"metric": "x"}]})
    with pytest.raises(ReportError):
        write_json(broken, path)
    assert path.read_text(encoding="utf-8") == "old"
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(ReportError, match="cannot write"):
        write_json(report, blocker / "report.json")


def test_every_threshold_source_key_resolves_to_a_reference():
    from assessment.hypotheses import load_references
    from assessment.thresholds import MOVEMENT_FPPA, MOVEMENT_ROM_DIFF, STATIC_THRESHOLDS

    refs = load_references()
    texts = [t.source for t in STATIC_THRESHOLDS.values()] + [MOVEMENT_FPPA.source, MOVEMENT_ROM_DIFF.source]
    keys = {k for text in texts for k in re.findall(r"\[([A-Za-z][\w-]*\d\d|[A-Z][\w-]+)\]", text)}
    assert keys and not keys - set(refs), sorted(keys - set(refs))


def test_a_metric_without_a_cut_off_reads_as_reported_not_within(report, tmp_path):
    """A metric with no published cut-off is never judged, so no output may call it "within"."""
    from assessment.report_pdf import write_pdf
    from dashboard.pages.review import findings_table
    from tests.assessment.test_report_pdf import pdf_text

    fs = findings()
    fs[1].threshold = None                    # pelvis line tilt: measured, reported, no cut-off
    r = Report(**{**report.__dict__, "findings": fs})
    data = json.loads(report_json(r))
    html = render_html(r)
    card = html[html.index('id="finding-static-pelvis_line_tilt"'):]
    card = card[:card.index("</h3>")]
    assert "reported (no cut-off)" in card and ">within<" not in card
    calm = findings()
    calm[0].status, calm[1].threshold = "within", None
    summary = json.loads(report_json(Report(**{**report.__dict__, "findings": calm})))["summary"]
    assert any("1 within thresholds; 1 reported without a published cut-off" in s for s in summary), summary
    table = findings_table(data["findings"]).set_index("Metric")
    assert table.loc["Pelvis line tilt", "Status"] == "reported (no cut-off)"
    assert table.loc["Shoulder line tilt", "Status"] == "flagged"
    _, text = pdf_text(write_pdf(r, tmp_path / "report.pdf"))
    assert "Pelvis line tilt — reported (no cut-off)" in " ".join(text.split())


@pytest.mark.parametrize("name,wanted", [("tfjs_pose_1.mp4", [0, 1, 17, 63, 119]), ("tfjs_pose.jpg", [0])])
def test_key_frame_pictures_are_the_sources_frames(sample_clip, name, wanted):
    """Only the wanted frames are converted to RGB; they are the frames (index, pixels, rotation) that
    iterating ``open_source`` gives."""
    from assessment.report import key_frame_pictures
    from vision.sources import open_source

    path = sample_clip(name)
    with open_source(str(path)) as src:
        expected = {f.index: f.rgb.copy() for f in src if f.index in wanted}
    assert sorted(expected) == wanted
    got = key_frame_pictures(path, wanted)
    assert sorted(got) == wanted
    for i in wanted:
        assert np.array_equal(got[i], expected[i]), i
        assert got[i].flags.writeable          # key_frame_images draws the skeleton on it


def test_key_frame_pictures_of_an_unreadable_video_are_none(tmp_path):
    from assessment.report import key_frame_pictures

    bad = tmp_path / "clip.mp4"
    bad.write_text("not a video", encoding="utf-8")
    assert key_frame_pictures(bad, [0, 3]) == {}


def _json_safe_item_by_item(value):
    """json_safe as it was before its numeric-array shortcut: every item walked."""
    import math
    from collections.abc import Mapping
    from pathlib import Path

    if isinstance(value, Mapping):
        return {str(k): _json_safe_item_by_item(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _json_safe_item_by_item(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_json_safe_item_by_item(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@pytest.mark.parametrize("array", [
    np.arange(5), np.arange(6, dtype=np.uint8).reshape(2, 3), np.array([True, False]),
    np.linspace(0, 1, 7), np.array([1.5, np.nan, np.inf, -np.inf, 2.0]), np.array([[1.0, np.nan], [3.0, 4.0]]),
    np.array([1.0, 2.0], dtype=np.float32), np.array([], dtype=float), np.array(["a", "b"]),
    np.array([1, None, 2.5], dtype=object),
])
def test_json_safe_arrays_are_what_walking_each_item_gives(array):
    from assessment.report import json_safe

    got, want = json_safe({"a": array}), _json_safe_item_by_item({"a": array})
    assert got == want
    assert json.dumps(got) == json.dumps(want)
    assert [type(v) for v in np.ravel(np.array(got["a"], dtype=object))] == \
        [type(v) for v in np.ravel(np.array(want["a"], dtype=object))]
