"""Static posture: still windows, summaries, flag rule, malformed tracks, real clips and mirrors."""

from __future__ import annotations

import numpy as np
import pytest

from assessment.findings import Finding, TrackInputError
from assessment.static import assess_static, still_windows, summarize_metric
from realclips import real_track
from synthetic import Pose, jitter_track, make_track
from vision.track import LandmarkTrack, TrackMeta

FRONTAL_METRICS = ("head_tilt", "shoulder_line_tilt", "pelvis_line_tilt", "trunk_lateral_lean")


def still(pose: Pose, n: int = 60, view="front", sigma=1.0, seed=0) -> LandmarkTrack:
    return jitter_track(make_track([pose] * n, view), sigma_px=sigma, seed=seed)


@pytest.mark.parametrize("view", ["front", "back"])
def test_clear_shoulder_tilt_is_flagged_with_evidence(view):
    res = assess_static(still(Pose(shoulder_line_tilt=-9.0), view=view))
    f = res.finding("shoulder_line_tilt")
    assert f.status == "flagged" and f.side == "right" and f.view == view
    assert f.value == pytest.approx(-9.0, abs=0.5)
    lo, hi = f.uncertainty["ci95"]
    assert lo <= -9.0 + 0.5 and hi >= -9.0 - 0.5 and hi < -5.0
    assert f.direction == f"right shoulder higher by {abs(f.value):.1f} deg"
    assert f.threshold == 5.0 and "[Ceballos23]" in f.threshold_source and "⚠" in f.threshold_source
    assert "beyond measurement error, not an abnormality" in f.threshold_source
    assert len(f.frames) == 3 and f.uncertainty["n_frames"] == 60
    assert [x.metric for x in res.flagged] == ["shoulder_line_tilt"]


def test_small_tilt_and_uncertain_tilt_are_not_flagged():
    assert assess_static(still(Pose(shoulder_line_tilt=3.0))).finding("shoulder_line_tilt").status == "within"
    # median just past 5 deg, but the model-error allowance (~2 deg) keeps the CI across the threshold
    f = assess_static(still(Pose(shoulder_line_tilt=5.6))).finding("shoulder_line_tilt")
    assert f.status == "within" and f.value > 5.0 and "not flagged" in f.reason


def test_mirror_swaps_flagged_side():
    track = still(Pose(pelvis_line_tilt=10.0, trunk_lateral_lean=-8.0))
    a, b = assess_static(track), assess_static(track.mirrored())
    for m in ("pelvis_line_tilt", "trunk_lateral_lean"):
        fa, fb = a.finding(m), b.finding(m)
        assert fa.status == fb.status == "flagged"
        assert fb.value == pytest.approx(-fa.value, abs=1e-9)
        assert {fa.side, fb.side} == {"left", "right"}


def test_side_view_metrics_and_gating():
    pose = Pose(plane="sagittal", cva_proxy_left=42.0, knee_hyperextension_left=9.0, trunk_flexion=6.0)
    res = assess_static(still(pose, view="left_side", sigma=0.5))
    assert res.views.dominant == "left_side"
    cva = res.finding("cva_proxy_left")
    # measured, but a side-view proxy is reported only: the 50-deg cut-off is for the clinical CVA (C7)
    assert cva.status == "within" and cva.value == pytest.approx(42.0, abs=0.5) and cva.side == "left"
    assert cva.threshold is None and "not C7" in cva.reason
    knee = res.finding("knee_hyperextension_left")
    assert knee.status == "within" and knee.value == pytest.approx(9.0, abs=0.5) and "reported only" in knee.reason
    assert res.finding("trunk_flexion").status == "within"          # reported only
    assert res.finding("cva_proxy_right").reason == "needs a right side view; this clip is left side view"
    assert res.finding("shoulder_line_tilt").reason == "needs a front or back view; this clip is left side view"


def test_still_windows_found_between_movements():
    stand = Pose()
    moving = [Pose(left_shoulder_angle=15 + 4 * i, right_shoulder_angle=15 + 4 * i,
                   left_hip_angle=180 - 2 * i, right_hip_angle=180 - 2 * i, trunk_lateral_lean=i * 0.8)
              for i in range(30)]
    track = make_track([stand] * 45 + moving + moving[::-1] + [stand] * 45, fps=30.0)
    windows, notes = still_windows(track)
    assert len(windows) == 2 and not notes
    assert windows[0].start == 0 and 40 <= windows[0].stop <= 46
    assert 100 <= windows[1].start <= 110 and windows[1].stop == len(track)


def test_summary_ci_contains_the_truth_for_iid_noise():
    rng = np.random.default_rng(3)
    vals = 2.0 + rng.normal(0, 1.0, 400)
    s = summarize_metric([vals], [np.arange(400)])
    assert s.ci95[0] < 2.0 < s.ci95[1] and s.ci95[1] - s.ci95[0] < 0.4
    assert s.iqr[0] < s.median < s.iqr[1]


# ---------------------------------------------------------------------- malformed tracks
def test_empty_and_nobody_tracks_are_not_measurable():
    meta = TrackMeta(width=720, height=1280, fps=30.0)
    for track, why in ((LandmarkTrack.empty(meta), "the track is empty"),):
        res = assess_static(track)
        assert all(f.status == "not_measurable" and f.reason == why for f in res.findings)
    nobody = make_track([Pose()] * 10)
    nobody.image[:] = np.nan
    nobody.n_people[:] = 0
    res = assess_static(nobody)
    assert all(f.status == "not_measurable" and f.value is None for f in res.findings)
    assert "nobody was found" in res.findings[0].reason


def test_one_frame_is_measured_but_never_flagged():
    res = assess_static(make_track(Pose(shoulder_line_tilt=12.0)))
    f = res.finding("shoulder_line_tilt")
    assert f.status == "within" and f.value == pytest.approx(12.0) and "never flagged" in f.reason


def test_gappy_track_uses_only_frames_with_a_pose():
    track = still(Pose(shoulder_line_tilt=-9.0), n=90)
    track.image[::3] = np.nan                    # a third of the frames lost
    f = assess_static(track).finding("shoulder_line_tilt")
    assert f.value == pytest.approx(-9.0, abs=0.5)


def test_bad_input_raises_one_clear_error():
    with pytest.raises(TrackInputError, match="LandmarkTrack"):
        assess_static(np.zeros((3, 33, 2)))
    with pytest.raises(TrackInputError, match="frame size"):
        assess_static(LandmarkTrack.empty())


def test_findings_serialise_without_nan():
    res = assess_static(make_track(Pose()))
    d = res.to_dict()
    assert Finding.from_dict(d["findings"][0]).metric == res.findings[0].metric
    import json
    json.dumps(d, allow_nan=False)


# ---------------------------------------------------------------------- real clips
@pytest.fixture(scope="module")
def pose2sim(model_path, sample_clip):
    path = str(sample_clip("pose2sim_static_cam02.mp4"))
    return real_track(path, str(model_path)), real_track(path, str(model_path), flipped=True)


def test_real_near_level_back_view_flags_nothing(pose2sim):
    track, _ = pose2sim
    res = assess_static(track)
    assert res.views.dominant == "back" and len(res.windows) == 1
    assert not res.flagged and not res.camera_roll.suspected
    for m in ("shoulder_line_tilt", "pelvis_line_tilt"):
        f = res.finding(m)
        assert f.status == "within"
        # clip README: shoulders and hips within ~1.6 deg of level; we measure 1.8-1.9 deg
        assert abs(f.value) < 2.5


# Measured on pose2sim_static_cam02.mp4, original vs pixel-flipped model runs: |mirrored + original| =
# head 5.1, shoulders 2.7, pelvis 2.6, trunk lean 2.3 deg (the model is not mirror-equivariant).
REAL_MIRROR_TOL = {"head_tilt": 6.0, "shoulder_line_tilt": 3.5, "pelvis_line_tilt": 3.5, "trunk_lateral_lean": 3.0}


def test_real_mirrored_frames_give_swapped_findings(pose2sim):
    track, flipped = pose2sim
    a, b = assess_static(track), assess_static(flipped)
    assert b.views.dominant == "back" and not b.flagged
    for m, tol in REAL_MIRROR_TOL.items():
        fa, fb = a.finding(m), b.finding(m)
        assert fb.value == pytest.approx(-fa.value, abs=tol), m
    # relabelled landmarks (no second model run) mirror exactly
    c = assess_static(track.mirrored())
    for m in REAL_MIRROR_TOL:
        assert c.finding(m).value == pytest.approx(-a.finding(m).value, abs=1e-9)
        assert c.finding(m).status == a.finding(m).status
