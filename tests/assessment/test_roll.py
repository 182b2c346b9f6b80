"""Roll-corrected tilts that keep the body's own asymmetry, and rolled or oblique rig cameras that flag
nothing. Ground truth: a synthetic skeleton with a known raised shoulder seen through a camera rolled by
a known angle (its scene drawn with the same roll and measured by vision.scene_roll), and the rig's
calibrated cameras (capture-geometry.md: cam01 rolled -12.6 deg and 31 deg oblique, cam04 rolled
+26.5 deg and 33 deg off a square back view)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assessment.assess import assess
from assessment.gates import ALLOWANCE_DEG, dh_over_d_from_image, fake_tilt_deg, off_square, perspective_gate
from assessment.roll import level_pixels
from bench.validation.run import RIG
from realclips import real_track
from synthetic import Pose, jitter_track, make_track, rotate_track
from vision.scene_roll import estimate_scene_roll, frame_segments, pose_points
from vision.track import LandmarkTrack

TILTS = ("head_tilt", "shoulder_line_tilt", "pelvis_line_tilt", "trunk_lateral_lean")


def rolled_room(roll_deg: float, w: int = 720, h: int = 1280, n: int = 16, seed: int = 3) -> np.ndarray:
    """A grey room whose plumb edges (door frames, shelves) appear turned by ``roll_deg`` (CCW)."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 190, np.uint8)
    a = math.radians(roll_deg)
    up = np.array([-math.sin(a), -math.cos(a)])
    for _ in range(n):
        x, y = rng.uniform(0.03 * w, 0.97 * w), rng.uniform(0.1 * h, 0.9 * h)
        L = rng.uniform(0.1, 0.25) * h
        cv2.line(img, (int(x), int(y)), (int(x + L * up[0]), int(y + L * up[1])), (40, 40, 40), 4, cv2.LINE_AA)
    return img


@pytest.mark.parametrize("roll", [-15.0, 12.0, 25.0])
@pytest.mark.parametrize("view", ["front", "back"])
def test_raised_right_shoulder_seen_through_a_rolled_camera_is_still_flagged_right(roll, view):
    """Right shoulder 8 deg higher (a truly uneven stance), camera rolled: on the image axes the roll
    would hide or reverse it; after the scene's roll it is flagged on the right with its hypothesis."""
    track = jitter_track(rotate_track(make_track([Pose(shoulder_line_tilt=-8.0)] * 60, view), roll), 0.5, seed=2)
    xy, floor_y, hip = pose_points(track.image[0], track.meta.width, track.meta.height)
    scene = estimate_scene_roll([frame_segments(rolled_room(roll), xy, floor_y)], (720, 1280), tuple(hip))
    assert scene is not None and scene.roll_deg == pytest.approx(roll, abs=0.5)
    track = LandmarkTrack(track.frame_index, track.timestamp_ms, track.image, track.world, track.n_people,
                          track.meta.replace(scene_roll=scene.to_dict()))
    report = assess(track)
    f = next(x for x in report.findings if x.metric == "shoulder_line_tilt")
    assert f.status == "flagged" and f.side == "right" and f.value == pytest.approx(-8.0, abs=1.0)
    assert f.details["camera_roll_correction_deg"] == pytest.approx(roll, abs=0.5)
    assert report.camera_roll["corrected"] and report.camera_roll["source"].startswith("scene")
    assert any(h.metric == "shoulder_line_tilt" and h.side == "right" for h in report.hypotheses)
    assert not any(h.side == "left" for h in report.hypotheses)


def test_level_pixels_undoes_a_roll_exactly():
    px = np.random.default_rng(0).uniform(0, 700, (5, 33, 2))
    c = np.array([360.0, 640.0])
    a = math.radians(17.0)
    rolled = np.stack([(px[..., 0] - c[0]) * math.cos(a) + (px[..., 1] - c[1]) * math.sin(a),
                       -(px[..., 0] - c[0]) * math.sin(a) + (px[..., 1] - c[1]) * math.cos(a)], -1) + c
    assert np.allclose(level_pixels(rolled, 17.0, c), px, atol=1e-9)


def test_perspective_gate_follows_the_fake_tilt_formula():
    # capture-geometry.md: hips 5.6 deg at 15 deg off square and 11 deg at 30 deg on this rig
    assert fake_tilt_deg(30.0, 0.37) == pytest.approx(12.0, abs=0.5)
    assert fake_tilt_deg(0.0, 0.5) == 0.0
    assert off_square(-147.0) == pytest.approx(33.0) and off_square(20.0) == 20.0
    assert perspective_gate("shoulder_line_tilt", 5.0, 0.1) == ""               # 0.5 deg: allowed
    reason = perspective_gate("shoulder_line_tilt", 31.0, 0.14)                  # cam01's geometry
    assert "perspective alone would tilt it by about 4.8 deg" in reason and "2.9 deg" in reason
    assert perspective_gate("knee_fppa_left", 45.0, 0.5) == ""                    # not a line tilt
    assert ALLOWANCE_DEG["pelvis_line_tilt"] is None and perspective_gate("pelvis_line_tilt", 40.0, 0.5) == ""
    # a pitched camera: horizon and camera height from the vertical vanishing point
    f = 0.8 * 1920
    pitch = math.radians(22.0)
    vp = (544.0, 960.0 + f / math.tan(pitch), 1.0)
    assert dh_over_d_from_image(960.0, vp, (1088, 1920)) == pytest.approx(math.tan(pitch), rel=1e-6)


@pytest.fixture(scope="module")
def rig_reports(model_path):
    return {c: assess(real_track(str(RIG / f"{c}.mp4"), str(model_path))) for c in ("cam01", "cam04")}


@pytest.mark.parametrize("cam", ["cam01", "cam04"])
def test_rolled_and_oblique_rig_cameras_flag_no_tilt_and_suggest_nothing(rig_reports, cam):
    report = rig_reports[cam]
    assert report.camera_roll["corrected"]
    assert abs(report.camera_roll["angle_deg"] - {"cam01": -12.6, "cam04": 26.5}[cam]) < 2.0
    assert not [f for f in report.findings if f.metric in TILTS and f.status == "flagged"]
    assert not report.hypotheses and not report.plan
