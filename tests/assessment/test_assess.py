"""End to end: real landmarks with a deliberate, known asymmetry -> finding, side, muscle pair, plan, report.

Construction (documented ground truth): the real MediaPipe track of ``pose2sim_static_cam02.mp4`` (a man
seen from behind in a still T-pose; shoulders within about 2 deg of level) is changed in pixel space so
that the RIGHT shoulder is raised by ``RAISE_DEG`` degrees about the left shoulder: the right shoulder
landmark is rotated up around the left one (shoulder width kept) and the right arm (elbow, wrist, hand)
is moved by the same displacement. The shoulder line tilt must therefore change by exactly -RAISE_DEG
(angle convention: positive = subject's left higher), everything else in the body stays as filmed.
Mirroring the changed track must move the finding and every muscle to the LEFT side.
"""

from __future__ import annotations

import base64
import json
import math
import re

import cv2
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from assessment.angles import compute_angles
from assessment.assess import assess
from assessment.report import validate_report
from isobalance.cli_assess import assess_command
from vision.errors import NoPersonError
from vision.track import LANDMARK_INDEX, LandmarkTrack

RAISE_DEG = 8.0
RIGHT_ARM = ("right_elbow", "right_wrist", "right_pinky", "right_index", "right_thumb")


@pytest.fixture(scope="module")
def clip(sample_clip):
    return sample_clip("pose2sim_static_cam02.mp4")


@pytest.fixture(scope="module")
def real_track(clip, model_path) -> LandmarkTrack:
    from vision.pipeline import extract_track

    return extract_track(clip, model_path)


def raise_right_shoulder(track: LandmarkTrack, degrees: float) -> LandmarkTrack:
    """The construction described in the module docstring."""
    size = np.array([track.meta.width, track.meta.height], dtype=float)
    px = track.image[..., :2] * size
    L, R = px[:, LANDMARK_INDEX["left_shoulder"]], px[:, LANDMARK_INDEX["right_shoulder"]]
    v = R - L
    length = np.hypot(v[:, 0], v[:, 1])
    up = np.degrees(np.arctan2(-v[:, 1], np.abs(v[:, 0])))      # angle of the right end above horizontal
    new = np.radians(up + degrees)
    R_new = np.stack([L[:, 0] + np.sign(v[:, 0]) * length * np.cos(new), L[:, 1] - length * np.sin(new)], axis=1)
    shift = R_new - R
    image = track.image.copy()
    for name in ("right_shoulder",) + RIGHT_ARM:
        image[:, LANDMARK_INDEX[name], :2] += shift / size
    return LandmarkTrack(track.frame_index, track.timestamp_ms, image, track.world, track.n_people,
                         track.meta.replace(notes=track.meta.notes + (f"right shoulder raised {degrees} deg (test)",)))


def test_construction_changes_the_tilt_by_exactly_the_known_angle(real_track):
    before = compute_angles(real_track, ids=("shoulder_line_tilt",))["shoulder_line_tilt"].to_numpy()
    after = compute_angles(raise_right_shoulder(real_track, RAISE_DEG),
                           ids=("shoulder_line_tilt",))["shoulder_line_tilt"].to_numpy()
    assert np.all(np.abs(before) < 2.5)                       # the clip's documented near-level shoulders
    np.testing.assert_allclose(after - before, -RAISE_DEG, atol=1e-6)


def shoulder_result(report):
    [finding] = [f for f in report.findings if f.metric == "shoulder_line_tilt"]
    hyps = [h for h in report.hypotheses if h.metric == "shoulder_line_tilt"]
    return finding, hyps


@pytest.mark.parametrize("mirrored,side", [(False, "right"), (True, "left")])
def test_raised_shoulder_gives_finding_side_and_muscle_pair(real_track, mirrored, side):
    track = raise_right_shoulder(real_track, RAISE_DEG)
    track = track.mirrored() if mirrored else track
    report = assess(track)
    finding, hyps = shoulder_result(report)
    assert finding.status == "flagged", finding
    assert finding.side == side
    expected = -RAISE_DEG if side == "right" else RAISE_DEG
    assert abs(finding.value - expected) < 2.5                # baseline tilt of the clip is within ~2 deg
    [h] = hyps
    assert {(m.muscle, m.side) for m in h.short} == {("upper_trapezius", side), ("levator_scapulae", side)}
    assert {(m.muscle, m.side) for m in h.lengthened} == {("lower_trapezius", side)}
    other = "left" if side == "right" else "right"
    assert not any(m.muscle == "upper_trapezius" and m.side == other for hh in report.hypotheses for m in hh.muscles)
    planned = {(p.exercise.id, p.side) for p in report.plan}
    assert {("upper-trapezius-pir", side), ("levator-scapulae-pir", side),
            ("lower-trapezius-low-row-hold", side)} <= planned
    validate_report(report.to_dict())


def test_unchanged_clip_does_not_flag_the_shoulders(real_track):
    finding, hyps = shoulder_result(assess(real_track))
    assert finding.status != "flagged" and hyps == []


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("assess")(assess_command)
    app.command("noop")(lambda: None)        # keeps "assess" a named subcommand, as when mounted
    return app


def test_cli_on_a_saved_track_with_its_video(real_track, clip, tmp_path):
    track_path = raise_right_shoulder(real_track, RAISE_DEG).save(tmp_path / "raised.csv")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli(), ["assess", str(track_path), "-o", str(out), "--video", str(clip)])
    assert result.exit_code == 0, result.output
    assert "shoulder_line_tilt" in result.output
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    validate_report(data)
    assert data["input"] == {"kind": "track", "path": str(track_path), "name": "raised.csv", "video": str(clip)}
    [h] = [h for h in data["hypotheses"] if h["metric"] == "shoulder_line_tilt"]
    assert {m["label"] for m in h["short"]} == {"right upper trapezius", "right levator scapulae"}
    assert LandmarkTrack.load(out / "track.csv").image.shape == real_track.image.shape
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="finding-static-shoulder_line_tilt"' in html
    jpegs = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', html)
    assert jpegs
    img = cv2.imdecode(np.frombuffer(base64.b64decode(jpegs[0]), np.uint8), cv2.IMREAD_COLOR)
    # a real video frame, not the plain skeleton canvas (value 40 everywhere but the skeleton)
    assert np.mean(np.abs(img.astype(int) - 40) > 30) > 0.3
    assert "skeleton only" not in html


def test_cli_on_the_video_itself(clip, model_path, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli(), ["assess", str(clip), "-o", str(out), "--model", str(model_path),
                                        "--no-progress"])
    assert result.exit_code == 0, result.output
    for name in ("report.json", "report.html", "track.csv"):
        assert (out / name).is_file()
    assert len(LandmarkTrack.load(out / "track.csv")) == 11       # documented frame count


@pytest.mark.parametrize("make,message", [
    (lambda d: d / "missing.mp4", "not found"),
    (lambda d: (d / "bad.csv").write_text("a,b\n1,2\n") and d / "bad.csv", "not an isobalance landmark track"),
])
def test_cli_bad_input_is_one_clear_line(tmp_path, make, message):
    result = CliRunner().invoke(cli(), ["assess", str(make(tmp_path)), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_track_without_anyone_is_a_clear_error(real_track, tmp_path):
    empty = real_track.select(slice(0, 3))
    empty = LandmarkTrack(empty.frame_index, empty.timestamp_ms, np.full_like(empty.image, np.nan),
                          np.full_like(empty.world, np.nan), np.zeros(3), empty.meta)
    with pytest.raises(NoPersonError):
        assess(empty)
    path = empty.save(tmp_path / "empty.csv")
    result = CliRunner().invoke(cli(), ["assess", str(path), "-o", str(tmp_path / "o")])
    assert result.exit_code == NoPersonError.exit_code and "no person" in result.output


def test_squat_clip_report_has_static_and_movement_findings_each_once(sample_clip, model_path, tmp_path):
    """The real front-view squat clip (3 squats): static and movement analyses both report, some metrics
    (knee FPPA) under both kinds; every finding gets its own card, anchor and plot in the HTML."""
    from assessment.report import write_html
    from vision.pipeline import extract_track

    clip = sample_clip("tfjs_pose_squats.mp4")
    report = assess(extract_track(clip, model_path), video_path=clip)
    kinds = {f.kind for f in report.findings}
    assert kinds == {"static", "movement"}
    validate_report(report.to_dict())
    html = write_html(report, tmp_path / "report.html").read_text(encoding="utf-8")
    anchors = re.findall(r'<div class="card finding" id="finding-([^"]+)"', html)
    assert len(anchors) == len(report.findings) == len(set(anchors))
    assert "finding-static-knee_fppa_left" in html and "finding-movement-knee_fppa_left" in html
    assert "not diagnoses" in html


def test_cli_truncated_video_still_writes_the_report_then_fails(sample_clip, model_path, tmp_path):
    """A video cut in half (faststart MP4, bytes truncated): the frames before the break are assessed and
    written, the report says so, and the command exits with the partial-input code and one line."""
    import subprocess

    from vision.pipeline import PartialTrackError

    fs = tmp_path / "fs.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(sample_clip("tfjs_pose_squats.mp4")),
                    "-c", "copy", "-movflags", "+faststart", str(fs)], check=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fs.read_bytes()[: fs.stat().st_size // 2])
    out = tmp_path / "out"
    result = CliRunner().invoke(cli(), ["assess", str(cut), "-o", str(out), "--model", str(model_path),
                                        "--no-progress"])
    assert result.exit_code == PartialTrackError.exit_code
    assert "Traceback" not in result.output and "frames" in result.output
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    validate_report(data)
    n = data["track"]["n_frames"]
    assert 10 < n < 65
    assert any("broke part-way" in w and str(n) in w for w in data["warnings"])
    assert (out / "report.html").is_file() and len(LandmarkTrack.load(out / "track.csv")) == n


def test_errors_exit_non_zero_when_run_like_isobalance_main(tmp_path, capsys):
    """isobalance.cli.main runs typer with standalone_mode=False, where a typer.Exit would become a
    silent return value (status 0); the command must still end the process with status 2."""
    with pytest.raises(SystemExit) as info:
        cli()(args=["assess", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o")], standalone_mode=False)
    assert info.value.code == 2
    assert "input not found" in capsys.readouterr().err
