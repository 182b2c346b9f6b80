"""Stillness measure: body-size independence, the calibration rule, the jitter/dropout filter, angles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from assessment.angles import compute_angles
from assessment.stillness import (ANGLE_BAND_LIMITS, DEFAULT_ANGLE_BAND, DEFAULT_LANDMARK_BAND, K_SIGMA,
                                  LANDMARK_BAND_LIMITS, Band, ChannelFilter, Channels, StillnessError,
                                  UnknownLandmarkError, angle_function, body_scale, calibrate, deviations,
                                  reference_from_window, visible_mask)
from tests.assessment.hold_synth import NO_JITTER, Jitter, Move, inject, still_recording, transformed
from tests.assessment.synthetic import Pose, make_track

CH = Channels(("nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip"),
              ("head_tilt", "shoulder_line_tilt", "trunk_lateral_lean"))


def measure(rec, channels=CH, ref_frames=slice(0, 30)):
    px, vis = rec.pixels(), visible_mask(rec.image)
    ang = angle_function(channels.angles)(px, rec.image[..., 3])
    ref = reference_from_window(px[ref_frames], vis[ref_frames], ang[ref_frames], channels)
    return deviations(px, vis, ang, ref, channels), ref


def test_displacement_is_in_body_scale_units():
    rec = still_recording(3.0, jitter=NO_JITTER)
    moved = inject(rec, [Move(("left_shoulder",), 2000, 0.2, direction_deg=30)])
    dev, ref = measure(moved)
    assert ref.scale_basis == "torso_length"
    assert ref.scale == pytest.approx(rec.torso_px)
    t = moved.timestamp_ms
    k = CH.names.index("left_shoulder")
    assert np.allclose(dev[t < 2000, k], 0.0, atol=1e-9)
    assert np.allclose(dev[(t >= 2000) & (t < 3000), k], 0.2, atol=1e-9)
    assert np.allclose(dev[:, CH.names.index("nose")], 0.0, atol=1e-9)
    # the shoulder line tilts by the angle the moved end makes over the shoulder width
    assert dev[t >= 2000, CH.names.index("shoulder_line_tilt")].min() > 1.0


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.4, 2.5), dx=st.floats(-150, 150), dy=st.floats(-200, 200), seed=st.integers(0, 50))
def test_same_movement_same_numbers_whatever_the_size_or_distance(scale, dx, dy, seed):
    rec = inject(still_recording(3.0, seed=seed), [Move(("nose", "right_hip"), 1500, 0.1, rise_ms=200)])
    dev1, _ = measure(rec)
    dev2, _ = measure(transformed(rec, scale, (dx, dy)))
    np.testing.assert_allclose(dev2, dev1, atol=1e-6)
    px, vis = rec.pixels(), visible_mask(rec.image)
    band1 = calibrate(px, vis, np.zeros((len(px), 0)), rec.timestamp_ms, Channels(CH.landmarks))
    t = transformed(rec, scale, (dx, dy))
    band2 = calibrate(t.pixels(), vis, np.zeros((len(px), 0)), rec.timestamp_ms, Channels(CH.landmarks))
    np.testing.assert_allclose(band2.values, band1.values, rtol=1e-6)


def test_shoulder_width_is_the_scale_when_hips_are_out_of_view():
    rec = still_recording(1.0, jitter=NO_JITTER)
    rec.image[:, [23, 24], 3] = 0.1
    scale, basis = body_scale(rec.pixels(), visible_mask(rec.image))
    px = rec.pixels()[0]
    assert (basis == 2).all()
    assert scale[0] == pytest.approx(np.linalg.norm(px[11] - px[12]))


def calib(rec, channels=CH):
    px = rec.pixels()
    ang = angle_function(channels.angles)(px, rec.image[..., 3])
    return calibrate(px, visible_mask(rec.image), ang, rec.timestamp_ms, channels)


def test_calibrated_band_is_k_times_the_jitter_sd_within_limits():
    lo, hi = LANDMARK_BAND_LIMITS
    own = Jitter(white=0.0, wobble=0.0, own=0.0125, spike_rate=0.0)    # 4 x 1.25 % = 5 % band
    band = calib(still_recording(5.0, jitter=own, seed=3))
    assert band.source == "calibration"
    for v, sd in zip(band.values[:5], band.jitter_sd[:5]):
        assert sd == pytest.approx(0.0125, rel=0.15)
        assert v == pytest.approx(K_SIGMA * sd)
    # doubling the jitter doubles the band
    band2 = calib(still_recording(5.0, jitter=Jitter(white=0.0, wobble=0.0, own=0.025, spike_rate=0.0), seed=3))
    assert np.median(np.array(band2.values[:5]) / np.array(band.values[:5])) == pytest.approx(2.0, rel=0.15)
    # no jitter: the lower limit; wild jitter (moved during calibration): the upper limit, noted
    quiet = calib(still_recording(5.0, jitter=NO_JITTER))
    assert quiet.values[:5] == (lo,) * 5 and quiet.values[5:] == (ANGLE_BAND_LIMITS[0],) * 3
    wild = calib(still_recording(5.0, jitter=Jitter(white=0.0, wobble=0.0, own=0.2, spike_rate=0.0)))
    assert wild.values[:5] == (hi,) * 5
    assert any("capped" in n for n in wild.notes)


def test_calibration_ignores_a_few_glitches():
    base = still_recording(4.0, jitter=Jitter(spike_rate=0.0), seed=5)
    glitchy = inject(base, [Move(("left_shoulder", "nose"), 1000, 0.5, hold_ms=70)])   # 2 frames far off
    a, b = calib(base).values[:2], calib(glitchy).values[:2]
    np.testing.assert_allclose(b, a, rtol=0.2)


def test_default_band_is_documented_values():
    band = Band.default(CH)
    assert band.source == "default"
    assert band.values == (DEFAULT_LANDMARK_BAND,) * 5 + (DEFAULT_ANGLE_BAND,) * 3


def test_angle_function_matches_the_angle_table_and_the_construction():
    poses = [Pose(plane="frontal", head_tilt=h, shoulder_line_tilt=s, trunk_lateral_lean=l)
             for h, s, l in [(0, 0, 0), (7.5, -3.0, 2.0), (-12.0, 4.0, -6.0)]]
    track = make_track(poses)
    px = track.pixels()
    got = angle_function(CH.angles)(px, track.image[..., 3])
    want = compute_angles(px, visibility=track.image[..., 3], ids=CH.angles).to_numpy()
    np.testing.assert_allclose(got, want, atol=1e-9)
    truth = np.array([[p.head_tilt, p.shoulder_line_tilt, p.trunk_lateral_lean] for p in poses])
    np.testing.assert_allclose(got, truth, atol=1e-6)


def test_filter_removes_one_frame_spikes_and_bridges_short_dropouts():
    f = ChannelFilter(2, smooth_ms=100, dropout_ms=500)
    out = []
    for i in range(60):
        t = i * 1000 / 30
        v = np.array([0.01, 0.01])
        if i == 10:
            v = np.array([0.5, 0.01])          # one-frame spike
        if 20 <= i < 26:                       # 200 ms dropout of channel 1
            v = np.array([0.01, np.nan])
        if i >= 30:                            # channel 1 gone for good
            v = np.array([0.01, np.nan])
        out.append(f.update(t, v))
    out = np.array(out)
    assert out[:, 0].max() < 0.02
    assert np.isfinite(out[20:26, 1]).all()
    gone_ms = (np.arange(60) - 29) * 1000 / 30
    assert np.isfinite(out[30:, 1][gone_ms[30:] < 490]).all()      # held through the dropout window
    assert np.isnan(out[30:, 1][gone_ms[30:] > 510]).all()         # then unknown, not 'still'


def test_unknown_names_give_clear_errors():
    with pytest.raises(UnknownLandmarkError, match="left_sholder"):
        Channels(("left_sholder",))
    with pytest.raises(StillnessError, match="unknown angle id.*neck_twist"):
        Channels(("nose",), ("neck_twist",))
    with pytest.raises(StillnessError, match="at least one"):
        Channels(())


def test_median_rows_is_np_median_to_the_bit():
    """Odd and even window lengths (1-40 rows), the shapes the monitor uses, ties and wide ranges."""
    from assessment.stillness import median_rows

    rng = np.random.default_rng(7)
    for n in range(1, 41):
        for shape in ((n,), (n, 4, 2), (n, 2), (n, 7)):
            for x in (rng.normal(300, 80, shape), rng.integers(-3, 4, shape).astype(float),
                      rng.normal(0, 1e-9, shape) + 1e6):
                want, got = np.median(x, axis=0), median_rows(x)
                assert np.asarray(got).dtype == np.asarray(want).dtype and np.asarray(got).shape == np.asarray(want).shape
                assert np.asarray(got).tobytes() == np.asarray(want).tobytes(), (n, shape)


def test_one_frame_body_scale_equals_body_scale_to_the_bit():
    """``frame_body_scale`` (the hold monitor's per-frame scale) against ``body_scale`` on real-like
    frames, random frames, and the edge cases: hips or a shoulder hidden, NaN landmarks, a zero torso
    (shoulder and hip midpoints equal) and a zero shoulder width."""
    from assessment.stillness import HIPS, SHOULDERS, frame_body_scale

    rec = inject(still_recording(4.0, seed=3), [Move(("left_shoulder", "left_hip"), 1000, 0.3, rise_ms=500)])
    px, vis = rec.pixels(), visible_mask(rec.image)
    rng = np.random.default_rng(0)
    frames = [(px[i], vis[i]) for i in range(len(px))]
    for _ in range(400):
        p = rng.uniform(-50, 700, (33, 2))
        v = rng.random(33) < 0.8
        case = rng.integers(0, 5)
        if case == 1:
            p[list(HIPS)] = np.nan
        elif case == 2:      # zero torso: the hips' midpoint on the shoulders' midpoint
            p[HIPS[0]], p[HIPS[1]] = p[SHOULDERS[0]] + 7.25, p[SHOULDERS[1]] - 7.25
        elif case == 3:      # zero width, hips hidden
            p[SHOULDERS[1]] = p[SHOULDERS[0]]
            v[list(HIPS)] = False
        elif case == 4:
            p[rng.integers(0, 33, 4)] = np.nan
        frames.append((p, v & np.isfinite(p[:, 0])))
    kinds = set()
    for p, v in frames:
        scale, basis = body_scale(p[None], v[None])
        s, b = frame_body_scale(p, v)
        assert b == int(basis[0]) and (s == scale[0] or (np.isnan(s) and np.isnan(scale[0]))), (s, b, scale, basis)
        assert type(s) is float and type(b) is int
        kinds.add(b)
    assert kinds == {0, 1, 2}
