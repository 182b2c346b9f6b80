"""View classification, gating, framing and camera roll — synthetic ground truth and real clips."""

from __future__ import annotations

import numpy as np
import pytest

from assessment.angles import ANGLE_BY_ID
from assessment.static import assess_static
from assessment.roll import body_lines_agree, combine_roll
from assessment.views import check_framing, classify_views, summarize_views, view_gate, visibility_gate
from realclips import real_track
from synthetic import Pose, jitter_track, make_track, rotate_track, with_visibility
from vision.track import LandmarkTrack

# small natural asymmetries
FRONTAL_POSE = Pose(shoulder_line_tilt=0.4, pelvis_line_tilt=-0.3, trunk_lateral_lean=0.2)


@pytest.mark.parametrize("plane,view,want", [
    ("frontal", "front", "front"), ("frontal", "back", "back"),
    ("sagittal", "left_side", "left_side"), ("sagittal", "right_side", "right_side"),
    ("frontal", 45.0, "oblique"), ("frontal", -135.0, "oblique"),
])
def test_views_from_world_and_from_2d_only(plane, view, want):
    track = make_track([Pose(plane=plane)] * 3, view)
    assert set(classify_views(track)) == {want}
    flat = make_track([Pose(plane=plane)] * 3, view)
    flat.world[:] = np.nan                      # no depth: the 2-D fallback must agree
    assert set(classify_views(flat)) == {want}


def test_mirrored_side_view_becomes_the_other_side():
    track = make_track([Pose(plane="sagittal")] * 3, "left_side")
    assert summarize_views(track.mirrored()).dominant == "right_side"
    assert summarize_views(make_track(Pose(), "back").mirrored()).dominant == "back"


def test_view_gate_reason_in_plain_words():
    summary = summarize_views(make_track([Pose()] * 3, "front"))
    assert view_gate(ANGLE_BY_ID["cva_proxy_left"], summary) == "needs a left side view; this clip is front view"
    assert view_gate(ANGLE_BY_ID["trunk_flexion"], summary) == "needs a side view; this clip is front view"
    assert view_gate(ANGLE_BY_ID["shoulder_line_tilt"], summary) == ""
    side = summarize_views(make_track([Pose(plane="sagittal")] * 3, "right_side"))
    assert view_gate(ANGLE_BY_ID["pelvis_line_tilt"], side) == "needs a front or back view; this clip is right side view"


def test_visibility_gate_names_the_landmark_and_fraction():
    track = with_visibility(make_track([Pose()] * 10), ["left_ankle"], 0.1, frames=slice(0, 8))
    reason = visibility_gate(ANGLE_BY_ID["body_axis_lean"], track, np.arange(10))
    assert reason == "left ankle not visible in 80% of frames"
    assert visibility_gate(ANGLE_BY_ID["shoulder_line_tilt"], track, np.arange(10)) == ""


def test_framing_reports_cut_off_landmarks():
    track = make_track([Pose()] * 5)
    assert check_framing(track).ok
    track.image[:, :, 1] += 0.3                 # body shifted down: ankles leave the frame
    report = check_framing(track)
    assert not report.ok and report.cut_off["left_ankle"] == 1.0
    assert "left ankle outside in 100% of frames" in report.message


TILTS = ("shoulder_line_tilt", "pelvis_line_tilt", "trunk_lateral_lean", "head_tilt")
# What vision.scene_roll reports for a level camera whose scene has plumb verticals (tested on drawn
# and real scenes in tests/vision/test_scene_roll.py); rotate_track turns it with the camera.
LEVEL_SCENE = {"roll_deg": 0.0, "uncertainty_deg": 0.5, "n_segments": 40, "n_frames": 4,
               "point": [360.0, 704.0], "vp": [0.0, 1.0, 0.0]}


@pytest.mark.parametrize("k", [-9.0, -4.0, 6.0, 12.0])
@pytest.mark.parametrize("view", ["front", "back"])
def test_without_scene_lines_a_rolled_camera_gates_tilts_instead_of_flags(k, view):
    """No scene: the body alone cannot tell roll from lean, so lines that all turn alike gate the tilts."""
    still = jitter_track(make_track([FRONTAL_POSE] * 60, view), sigma_px=0.5, seed=1)
    base = assess_static(still)
    assert not base.camera_roll.suspected and not base.flagged and base.camera_roll.source == "assumed level"
    rolled = assess_static(rotate_track(still, k))
    assert rolled.camera_roll.suspected and not rolled.camera_roll.corrected
    assert rolled.camera_roll.angle_deg == pytest.approx(k, abs=1.0)
    assert not rolled.flagged
    for m in TILTS:
        f = rolled.finding(m)
        assert f.status == "not_measurable" and "camera roll" in f.reason


@pytest.mark.parametrize("k", [-25.0, -9.0, 6.0, 12.0])
@pytest.mark.parametrize("view", ["front", "back"])
def test_with_scene_lines_a_rolled_camera_is_levelled(k, view):
    """With the scene's roll in the track's metadata the tilts are measured relative to gravity."""
    still = jitter_track(make_track([FRONTAL_POSE] * 60, view), sigma_px=0.5, seed=1)
    still = LandmarkTrack(still.frame_index, still.timestamp_ms, still.image, still.world, still.n_people,
                          still.meta.replace(scene_roll=LEVEL_SCENE))
    base = assess_static(still)
    rolled = assess_static(rotate_track(still, k))
    roll = rolled.camera_roll
    assert roll.corrected and not roll.suspected and roll.source in ("scene", "scene+body")
    assert roll.angle_deg == pytest.approx(k, abs=0.3)
    assert not rolled.flagged
    for m in TILTS:
        f, f0 = rolled.finding(m), base.finding(m)
        assert f.status == "within" and f.value == pytest.approx(f0.value, abs=0.3)
        assert f.details["camera_roll_correction_deg"] == roll.angle_deg     # the correction is evidence


def test_a_leaning_body_is_not_called_camera_roll():
    # shoulders and pelvis turned opposite ways: a body, not a camera
    assert not body_lines_agree({"shoulder_line": 4.0, "pelvis_line": -4.0, "body_axis": 0.0})
    assert body_lines_agree({"shoulder_line": 4.0, "pelvis_line": 4.3, "body_axis": 4.2})
    assert not body_lines_agree({"shoulder_line": 1.0, "pelvis_line": 1.2, "body_axis": 1.1})   # too small
    # a plumb scene outweighs a leaning body
    scene = {"roll_deg": 0.0, "uncertainty_deg": 0.5}
    agree = combine_roll(scene, {"roll_deg": 4.0, "uncertainty_deg": 2.0})
    assert agree.source == "scene+body" and abs(agree.roll_deg) < 0.5 and agree.uncertainty_deg < 0.5
    lean = combine_roll(scene, {"roll_deg": 9.0, "uncertainty_deg": 2.0})
    assert lean.source == "scene" and lean.roll_deg == 0.0 and "a real lean" in lean.message
    nothing = combine_roll({}, {})
    assert not nothing.known and nothing.roll_deg is None and "unknown" in nothing.message


# ---------------------------------------------------------------------- real clips
@pytest.fixture(scope="module")
def pose2sim(model_path, sample_clip) -> LandmarkTrack:
    return real_track(str(sample_clip("pose2sim_static_cam02.mp4")), str(model_path))


def test_real_back_view_is_recognised(pose2sim):
    s = summarize_views(pose2sim)
    assert s.dominant == "back" and s.fractions["back"] == 1.0
    assert check_framing(pose2sim).ok


@pytest.mark.parametrize("k", [-8.0, 8.0])
def test_real_clip_rotated_is_levelled(pose2sim, k):
    base = assess_static(pose2sim)
    assert base.camera_roll.corrected and not base.camera_roll.suspected
    assert base.camera_roll.angle_deg == pytest.approx(2.1, abs=1.5)      # calibration: +2.1 deg (note)
    rolled = assess_static(rotate_track(pose2sim, k))       # landmarks and the scene's estimate rotated
    assert rolled.camera_roll.corrected
    assert rolled.camera_roll.angle_deg == pytest.approx(k + base.camera_roll.angle_deg, abs=0.5)
    assert not rolled.flagged
    for m in TILTS:
        assert rolled.finding(m).value == pytest.approx(base.finding(m).value, abs=0.5)
