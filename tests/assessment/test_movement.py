"""Repeated movements: rep segmentation, left/right ROM, SI and timing — synthetic truth and real squats."""

from __future__ import annotations

import numpy as np
import pytest

from assessment.angles import compute_angles
from assessment.findings import TrackInputError
from assessment.fppa import FPPA_UNCERTAINTY_ALLOWANCE_DEG
from assessment.movement import assess_movement, segment_reps
from assessment.views import view_of_yaw
from realclips import real_track
from synthetic import Pose, jitter_track, make_track, squat_poses, still_then_moving
from vision.track import LandmarkTrack, TrackMeta


@pytest.mark.parametrize("view", ["left_side", "right_side"])
@pytest.mark.parametrize("source", ["world", "image"])
def test_synthetic_squats_reps_rom_and_timing(view, source):
    # left knee bends 70 deg, right 95 deg; the right reaches its bottom 3 frames (0.1 s) later
    track = make_track(squat_poses(3, left_depth=70.0, depth=95.0, right_lag_frames=3), view, fps=30.0)
    res = assess_movement(track, angle_source=source)
    assert res.n_reps == 3 and res.direction == "down" and res.angle_source == source
    knee = res.finding("knee_rom_difference")
    assert knee.value == pytest.approx(70.0 - 95.0, abs=0.5)
    assert knee.status == "flagged" and knee.side == "left"
    si = (70.0 - 95.0) / (0.5 * (70.0 + 95.0)) * 100.0
    assert knee.details["symmetry_index_median"] == pytest.approx(si, abs=0.5)
    timing = res.finding("knee_timing_difference")
    assert timing.value == pytest.approx(-0.1, abs=1e-6) and timing.side == "left"
    assert timing.status == "within" and timing.threshold is None


def test_symmetric_squats_with_jitter_flag_nothing():
    track = jitter_track(make_track(squat_poses(4, depth=90.0), "left_side"), sigma_px=1.0, seed=2)
    res = assess_movement(track, angle_source="image")
    assert res.n_reps == 4
    assert not [f for f in res.findings if f.flagged]
    assert abs(res.finding("knee_rom_difference").value) < 2.0


def test_mirror_swaps_movement_findings():
    track = make_track(squat_poses(3, left_depth=70.0, depth=95.0, right_lag_frames=3), "left_side")
    a, b = assess_movement(track), assess_movement(track.mirrored())
    fa, fb = a.finding("knee_rom_difference"), b.finding("knee_rom_difference")
    assert fb.value == pytest.approx(-fa.value, abs=1e-9) and {fa.side, fb.side} == {"left", "right"}
    assert b.finding("knee_timing_difference").value == pytest.approx(-a.finding("knee_timing_difference").value)


def test_arm_raises_drive_by_shoulder_and_go_up():
    raises = []
    for _ in range(3):
        raises += [Pose()] * 10 + [Pose(left_shoulder_angle=15 + 150 * s, right_shoulder_angle=15 + 150 * s)
                                   for s in np.sin(np.linspace(0, np.pi, 30))]
    res = assess_movement(make_track(raises + [Pose()] * 10, "front"))
    assert res.driving_signal == "shoulder" and res.direction == "up" and res.n_reps == 3
    assert res.finding("shoulder_rom_difference").value == pytest.approx(0.0, abs=1e-6)


def test_no_movement_and_malformed_tracks():
    res = assess_movement(make_track([Pose()] * 30))
    assert res.n_reps == 0 and not res.findings and "no repeated movement" in res.notes[0]
    empty = assess_movement(LandmarkTrack.empty(TrackMeta(width=720, height=1280)))
    assert empty.n_reps == 0 and "empty" in empty.notes[0]
    nobody = make_track([Pose()] * 5)
    nobody.image[:] = np.nan
    assert "nobody" in assess_movement(nobody).notes[0]
    with pytest.raises(TrackInputError):
        assess_movement(make_track(Pose()), angle_source="xray")
    with pytest.raises(TrackInputError, match="frame size"):
        assess_movement(LandmarkTrack.empty())


def test_segment_reps_on_a_plain_signal():
    t = np.arange(200) / 20.0
    sig = 170 - 80 * np.clip(np.sin(2 * np.pi * t / 5.0), 0, None)   # two dips, rest high
    reps, direction = segment_reps(sig, t)
    assert direction == "down" and len(reps) == 2


# ---------------------------------------------------------------------- real clip
@pytest.fixture(scope="module")
def squats(model_path, sample_clip):
    path = str(sample_clip("tfjs_pose_squats.mp4"))
    return real_track(path, str(model_path)), real_track(path, str(model_path), flipped=True)


def test_real_squats_three_reps_and_readme_angles(squats):
    track, _ = squats
    res = assess_movement(track)
    assert res.n_reps == 3 and res.driving_signal in ("knee", "hip") and res.direction == "down"
    # README standing frames about 0-3, 19-27, 43-51: each rep lies between them
    bounds = [(3, 19), (27, 43), (51, 65)]
    for rep, (a, b) in zip(res.reps, bounds):
        assert a <= rep.extreme_frame <= b
    # README: knee about 82-92 deg at the bottom -> 3-D knee minima (measured 83-91), tolerance 5 deg
    for row in (r for r in res.per_rep if r["joint"] == "knee"):
        assert 77 <= row["extreme_left"] <= 97 and 77 <= row["extreme_right"] <= 97
    # README: knee about 179 deg standing -> 2-D knee angle in the standing frames (measured 176-180)
    knee2d = compute_angles(track)[["left_knee_angle", "right_knee_angle"]].to_numpy()
    standing = np.r_[0:4, 19:28, 43:52]
    assert np.median(np.nanmax(knee2d[standing], axis=1)) >= 175.0       # measured 177.4
    # the body is turned ~30 deg: FPPA is corrected for the turn (assessment.fppa) but its uncertainty
    # (~3.5 deg of FPPA per deg of yaw at the bottom x 6.3 deg of yaw error, and the model's 3-D knee,
    # both measured on the rig) is past the allowance, so it is refused rather than invented, with the numbers
    fppa = [f for f in res.findings if f.metric.startswith("knee_fppa")]
    assert len(fppa) == 2 and all(f.status == "not_measurable" and f.value is None and "turned about" in f.reason
                                  and min(f.details["sigma_deg"]) > FPPA_UNCERTAINTY_ALLOWANCE_DEG for f in fppa)
    assert res.finding("knee_rom_difference").status == "within"


# Measured, pixel-flipped run vs original, per rep |difference + mirrored difference|: 3-D world knee
# ROM 14.8-19.3 deg (MediaPipe's depth is not mirror-consistent), 2-D image knee ROM 2.0-3.3 deg.
REAL_MIRROR_TOL = {"world": 20.0, "image": 4.0}


@pytest.mark.parametrize("source", ["world", "image"])
def test_real_squats_mirrored_frames(squats, source):
    track, flipped = squats
    a, b = assess_movement(track, angle_source=source), assess_movement(flipped, angle_source=source)
    assert a.n_reps == b.n_reps == 3
    da = [r["rom_difference"] for r in a.per_rep if r["joint"] == "knee"]
    db = [r["rom_difference"] for r in b.per_rep if r["joint"] == "knee"]
    np.testing.assert_allclose(db, -np.array(da), atol=REAL_MIRROR_TOL[source])
    # neither run may turn model disagreement (world) or projection (image, body turned) into a flag
    for res in (a, b):
        assert not [f for f in res.findings if f.flagged]


def test_real_squats_corrected_fppa_uncertainty_covers_its_mirror_image(squats):
    """The yaw-corrected FPPA of the clip and of its mirrored pixels (left and right exchanged) must agree
    within 2 combined sigma of their stated uncertainty: an uncertainty that is too small fails here.
    Measured: they differ by up to ~50 deg on one knee (MediaPipe's 3-D depth of the mirrored squat
    turns its feet ~9 deg against its pelvis), within 1.0-1.3 combined sigma."""
    a, b = (assess_movement(t) for t in squats)
    for side, other in (("left", "right"), ("right", "left")):
        fa, fb = a.finding(f"knee_fppa_{side}").details, b.finding(f"knee_fppa_{other}").details
        va, vb = np.array(fa["values_deg"]), np.array(fb["values_deg"])
        sa, sb = np.array(fa["sigma_deg"]), np.array(fb["sigma_deg"])
        assert len(va) == len(vb) == 3
        assert np.all(np.abs(va - vb) <= 2.0 * np.hypot(sa, sb)), (side, va, vb, sa, sb)


def test_real_squats_2d_comparison_refused_for_turned_body(squats):
    res = assess_movement(squats[0], angle_source="image")
    f = [f for f in res.findings if f.metric.endswith("_rom_difference")]
    assert f and all(x.status == "not_measurable" and ("turned about" in x.reason or "oblique view" in x.reason)
                     for x in f)


@pytest.mark.parametrize("yaw,view", [(0.0, "front"), (20.0, "front"), (-25.0, "front"), (160.0, "back"),
                                      (40.0, "oblique")])
def test_squat_view_from_the_knees_travel_over_the_whole_movement(yaw, view):
    """Synthetic squats (thigh ~50 deg forward at the bottom, trunk leaning 30 deg) filmed at a known
    yaw: the movement's view and yaw come back exactly, although single frames at the bottom are not
    a clean view (views.knee_travel_yaw)."""
    from assessment.context import build_context
    from assessment.movement import movement_view

    track = make_track(still_then_moving(Pose(plane="sagittal"), 20, squat_poses(3, depth=90.0)), yaw)
    ctx = build_context(track)
    res = assess_movement(track, ctx)
    got_view, got_yaw = movement_view(ctx, res.reps, res.driving_signal)
    assert got_view == view and got_yaw == pytest.approx(yaw, abs=0.5)
    assert {f.view for f in res.findings} == {view}


def test_real_squats_view_holds_during_the_squats(squats):
    """The squat sample's knees travel sideways by sin(~30 deg) of their reach (picture: turned toward
    image right), mirrored the other way. ~30 deg is the front/oblique boundary (views.FRONTAL_MAX_YAW):
    measured -29.1 / +29.8 deg with the every-frame detector, -29.2 / +33.1 deg with the default tracker
    (MediaPipe's own 3-D yaw 32, shoulder width 33), so the bin of one run is within the model's noise
    and is not asserted. What must hold: the view of every movement finding is the bin of the measured
    yaw, the turn is read the right way round, and the knee FPPA is refused with the corrected values and
    their uncertainty as evidence (front or oblique alike), with the same statuses plain and mirrored."""
    statuses = []
    for track, sign in zip(squats, (-1, 1)):
        res = assess_movement(track)
        fppa = [f for f in res.findings if f.metric.startswith("knee_fppa")]
        yaw = fppa[0].details["yaw_deg"]
        assert 25.0 <= sign * yaw <= 35.0                     # measured -29.2 and +33.1 (tracker)
        assert {f.view for f in res.findings} == {view_of_yaw(yaw)} <= {"front", "oblique"}
        assert all(f.status == "not_measurable" and ("turned about" in f.reason or "oblique view" in f.reason)
                   and min(f.details["sigma_deg"]) > FPPA_UNCERTAINTY_ALLOWANCE_DEG for f in fppa)
        statuses.append(sorted((f.metric.replace("left", "L").replace("right", "R"), f.status) for f in res.findings))
    flip = {"L": "R", "R": "L"}
    assert statuses[0] == sorted((m.translate(str.maketrans(flip)), st) for m, st in statuses[1])
