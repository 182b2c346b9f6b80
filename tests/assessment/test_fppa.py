"""Yaw-corrected knee FPPA (assessment/fppa.py): proof by construction, and the real squat sample.

Construction: a 3-D squat skeleton whose knees' frontal-plane projection angle is built in (thigh and
shank directions in the frontal plane, plus the knee's forward reach in depth), filmed by a pinhole
camera at 3 m, at hip height or 0.3 m above it (pitched down 5.7 deg to the hips), with the body turned 0, +-15
and +-30 deg. The world landmarks are the camera-aligned 3-D points relative to mid-hip, as MediaPipe's
are. Truth is the construction's own parameter, checked once through the plain 2-D formula on a
square-on orthographic view.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from assessment.angles import compute_angles
from assessment.fppa import FPPA_UNCERTAINTY_ALLOWANCE_DEG, MODEL_SIGMA_DEG, YAW_SIGMA_FLOOR_DEG, corrected_fppa
from assessment.movement import assess_movement
from synthetic import Pose, body_points
from vision.track import LANDMARK_INDEX, N_LANDMARKS, LandmarkTrack, TrackMeta

THIGH, SHANK = 0.43, 0.42                     # m, constant in 3-D whatever the depth
THIGH_FRONTAL_BOTTOM = 0.15                   # m: the thigh's frontal projection at the bottom of a deep squat
ANKLE_REACH = 0.05                            # m forward of the hips (depth)
# Tolerance (deg): exact with an unpitched camera. The correction turns about the camera's vertical
# (MediaPipe's world axes follow the camera), so a pitched camera mixes the knee's forward reach into
# its height: measured 1.2-2.0 deg at 0.3 m above the hips (pitch 5.7 deg), 8.9-17.4 deg at 0.8 m
# (pitch 15 deg; not corrected, README "Validation").
TOL_LEVEL, TOL_PITCHED = 0.01, 2.5


def squat_points(valgus_left: float, valgus_right: float, depth: float = 1.0) -> np.ndarray:
    """(33,3) body frame (X left, Y up, Z forward), legs built from their frontal-plane angles.
    ``depth`` 0 = standing straight, 1 = the bottom (thigh 70 deg forward); FPPA (+ = medial) scales with
    it. The thigh leans forward by depth x 70 deg, the ankle stays ANKLE_REACH forward of the hips, and
    the frontal projections of thigh and shank turn medially / laterally by half the FPPA each."""
    pts = body_points(Pose())
    flex = depth * math.acos(THIGH_FRONTAL_BOTTOM / THIGH)
    reach = THIGH * math.sin(flex)
    thigh_f = THIGH * math.cos(flex)
    shank_f = math.sqrt(SHANK ** 2 - (reach - ANKLE_REACH) ** 2)
    for side, sgn, fppa in (("left", 1.0, valgus_left), ("right", -1.0, valgus_right)):
        a = math.radians(0.5 * fppa * depth)
        hip = np.array([sgn * 0.09, 0.0, 0.0])
        knee = hip + np.array([-sgn * thigh_f * math.sin(a), -thigh_f * math.cos(a), reach])
        ankle = knee + np.array([sgn * shank_f * math.sin(a), -shank_f * math.cos(a), ANKLE_REACH - reach])
        for name, p in ((f"{side}_hip", hip), (f"{side}_knee", knee), (f"{side}_ankle", ankle),
                        (f"{side}_heel", ankle + [0.0, -0.04, -0.05]), (f"{side}_foot_index", ankle + [0.0, -0.03, 0.14])):
            pts[LANDMARK_INDEX[name]] = p
    return pts


def filmed(frames: list[np.ndarray], yaw: float, camera_above_hips: float = 0.0, distance: float = 3.0,
           focal_px: float = 1300.0, size: tuple[int, int] = (720, 1280)) -> LandmarkTrack:
    """Pinhole camera ``distance`` m in front of the hips (body turned by ``yaw``, + = left side toward
    the camera), ``camera_above_hips`` m higher, looking at the hips."""
    w, h = size
    t = math.radians(yaw)
    pitch = math.atan2(camera_above_hips, distance)
    image = np.zeros((len(frames), N_LANDMARKS, 5))
    world = np.zeros((len(frames), N_LANDMARKS, 3))
    for k, body in enumerate(frames):
        X, Y, Z = body[:, 0], body[:, 1], body[:, 2]
        right, up, toward = X * math.cos(t) - Z * math.sin(t), Y, X * math.sin(t) + Z * math.cos(t)
        # camera axes: x right, y down, z away; pitched down by ``pitch`` about x
        yc = -(up * math.cos(pitch) + toward * math.sin(pitch))
        zc = -toward * math.cos(pitch) + up * math.sin(pitch)
        cam = np.stack([right, yc, zc + distance / math.cos(pitch)], axis=1)
        mid = 0.5 * (cam[LANDMARK_INDEX["left_hip"]] + cam[LANDMARK_INDEX["right_hip"]])
        image[k, :, 0] = (w / 2 + focal_px * cam[:, 0] / cam[:, 2]) / w
        image[k, :, 1] = (0.55 * h + focal_px * cam[:, 1] / cam[:, 2]) / h
        world[k] = cam - mid
    image[..., 3:] = 1.0
    meta = TrackMeta(source="synthetic", fps=30.0, width=w, height=h, model="synthetic")
    n = len(frames)
    return LandmarkTrack(np.arange(n), np.arange(n) * 1000.0 / 30.0, image, world, np.ones(n, dtype=np.int64), meta)


def test_construction_is_the_2d_formula_square_on():
    """The built-in FPPA is what the project's own 2-D formula reads on a square-on orthographic view."""
    pts = squat_points(12.0, -7.0)[None]
    px = np.stack([pts[..., 0], -pts[..., 1]], axis=-1)       # front view: subject's left on image +x, y down
    got = compute_angles(px, visibility=np.ones((1, N_LANDMARKS)), ids=("knee_fppa_left", "knee_fppa_right"))
    assert got.to_numpy()[0] == pytest.approx([12.0, -7.0], abs=1e-9)


@pytest.mark.parametrize("above", [0.0, 0.3])
@pytest.mark.parametrize("yaw", [0.0, 15.0, -15.0, 30.0, -30.0])
@pytest.mark.parametrize("left,right", [(12.0, -7.0), (-9.0, 15.0)])
def test_corrected_fppa_recovers_the_built_in_angle_and_side(yaw, above, left, right):
    track = filmed([squat_points(left, right)], yaw, above)
    raw = compute_angles(track, ids=("knee_fppa_left", "knee_fppa_right")).to_numpy()[0]
    got = corrected_fppa(track, np.array([0]))
    tol = TOL_LEVEL if above == 0.0 else TOL_PITCHED
    assert got.value[0] == pytest.approx([left, right], abs=tol)
    assert np.sign(got.value[0]).tolist() == [np.sign(left), np.sign(right)]   # valgus stays valgus, on its side
    assert got.yaw[0] == pytest.approx(yaw, abs=0.01 if above == 0.0 else 1.0)
    if abs(yaw) >= 15.0:
        # without the correction the turned view projects knee flexion sideways (the failure fixed here)
        assert np.abs(raw - [left, right]).max() > 10.0
    # uncertainty: sensitivity to the turn times the yaw floor, with the model's share; the deep knee
    # moves several deg per deg of turn
    assert np.all(np.abs(got.sensitivity[0]) > 1.0)
    assert got.sigma_turn[0] == pytest.approx(np.abs(got.sensitivity[0]) * YAW_SIGMA_FLOOR_DEG)
    assert got.sigma[0] == pytest.approx(np.hypot(got.sigma_turn[0], MODEL_SIGMA_DEG))


def test_sensitivity_is_small_for_a_straight_leg_and_mirror_exact():
    track = filmed([squat_points(6.0, 6.0, depth=0.0), squat_points(6.0, 6.0, depth=1.0)], 30.0)
    got = corrected_fppa(track, np.array([0, 1]))
    assert np.all(np.abs(got.sensitivity[0]) < 0.2) and np.all(np.abs(got.sensitivity[1]) > 1.0)
    m = corrected_fppa(track.mirrored(), np.array([0, 1]))
    np.testing.assert_allclose(m.value, got.value[:, ::-1], atol=1e-9)
    np.testing.assert_allclose(m.yaw, -got.yaw, atol=1e-9)


def _squats(left: float, right: float, yaw: float, depth: float = 1.0) -> LandmarkTrack:
    frames = []
    for _ in range(3):
        frames += [squat_points(left, right, 0.0)] * 12
        frames += [squat_points(left, right, depth * d) for d in np.sin(np.linspace(0, np.pi, 31))]
    return filmed(frames + [squat_points(left, right, 0.0)] * 12, yaw)


def test_turned_deep_squat_is_measured_but_not_reported_beyond_its_uncertainty():
    """Body turned 20 deg (the knees' travel reads 25: still a front view): the corrected values are
    right (details), but the turn's uncertainty (sensitivity x the rig's yaw error) is past the allowance,
    so the finding says why instead."""
    res = assess_movement(_squats(12.0, -7.0, 20.0))
    assert res.n_reps == 3
    for side, truth in (("left", 12.0), ("right", -7.0)):
        f = res.finding(f"knee_fppa_{side}")
        assert f.status == "not_measurable" and f.value is None
        assert "turned about 20 deg" in f.reason and f"{FPPA_UNCERTAINTY_ALLOWANCE_DEG:g} deg" in f.reason
        assert np.allclose(f.details["values_deg"], truth, atol=TOL_LEVEL)
        assert min(f.details["sigma_deg"]) > FPPA_UNCERTAINTY_ALLOWANCE_DEG


@pytest.mark.parametrize("yaw", [30.0, -30.0])
def test_turned_shallow_squat_within_the_allowance_only_with_exact_landmarks(yaw):
    """A shallow squat (thigh 17 deg forward at the bottom) turned 30 deg: the knee sits little forward of
    the hip-ankle line, so the turn's share of the uncertainty stays within the allowance (3.2 deg), and
    the corrected value is exact and mirrors exactly. With MediaPipe's measured 3-D error (MODEL_SIGMA_DEG,
    rig) it is still past the allowance, so ``assess_movement`` refuses it and says so."""
    track = _squats(8.0, -5.0, yaw, depth=0.25)          # built-in FPPA at the bottom: 2.0 / -1.25 deg
    bottom = np.arange(12 + 15, len(track), 43)[:3]        # the deepest frame of each rep
    exact = corrected_fppa(track, bottom, model_sigma=0.0)
    np.testing.assert_allclose(exact.value, [[2.0, -1.25]] * 3, atol=TOL_LEVEL)
    assert np.all(exact.sigma <= FPPA_UNCERTAINTY_ALLOWANCE_DEG) and np.all(exact.sigma > 0.0)
    mirrored = corrected_fppa(track.mirrored(), bottom, model_sigma=0.0)
    np.testing.assert_allclose(mirrored.value, exact.value[:, ::-1], atol=1e-9)
    res = assess_movement(track)
    for side in ("left", "right"):
        f = res.finding(f"knee_fppa_{side}")
        assert f.status == "not_measurable" and f"+-{MODEL_SIGMA_DEG:g} from the model" in f.reason


def test_square_on_squat_keeps_the_2d_fppa():
    """Square-on, the clinical 2-D FPPA is measured as before, and perspective is its own limit: at 3 m
    the knee, 0.40 m nearer than the hips at the bottom, is magnified ~15 %, so both knees read more
    lateral (measured: 5.2 deg for the built-in 12, -15.6 for -7; the orthographic construction is exact)."""
    res = assess_movement(_squats(12.0, -7.0, 0.0))
    left, right = res.finding("knee_fppa_left"), res.finding("knee_fppa_right")
    assert left.details["method"] == right.details["method"] == "2-D image"
    assert left.status == right.status == "within"
    assert 5.0 < 12.0 - left.value < 10.0 and 5.0 < -7.0 - right.value < 10.0
