import numpy as np
import pytest

from vision.smoothing import NoFilter, OneEuroFilter, OneEuroParams, make_filter


def run(f, ts, xs, scale=1.0):
    return np.array([f(t, x, scale) for t, x in zip(ts, xs)])


def test_still_jitter_is_reduced():
    rng = np.random.default_rng(1)
    ts = np.arange(300) * 33.3
    truth = np.full((300, 33, 2), 0.5)
    noisy = truth + rng.normal(0, 0.003, truth.shape)  # ~2 px jitter at 640 px
    out = run(OneEuroFilter(), ts, noisy, scale=0.5)
    raw_sd = noisy[60:].std(axis=0).mean()
    smooth_sd = out[60:].std(axis=0).mean()
    assert smooth_sd < raw_sd / 2.5, (raw_sd, smooth_sd)


def test_fast_movement_follows_with_bounded_lag():
    """A 1 body-size/s ramp: the filtered value stays within 5% of a body size (no lag spike)."""
    ts = np.arange(120) * 33.3
    x = np.concatenate([np.zeros(30), np.linspace(0, 1.0, 30), np.ones(60)])[:, None]
    out = run(OneEuroFilter(), ts, x, scale=1.0)[:, 0]
    assert np.max(np.abs(out - x[:, 0])) < 0.05
    assert abs(out[-1] - 1.0) < 1e-3


def test_missing_frames_stay_missing_and_long_gap_resets():
    f = OneEuroFilter(OneEuroParams(max_gap_ms=200))
    assert f(0, np.array([0.0]))[0] == 0.0
    assert np.isnan(f(33, np.array([np.nan]))[0])
    # after a gap longer than max_gap_ms the new position is taken as is, not dragged from the old one
    assert f(1000, np.array([5.0]))[0] == 5.0


def test_variable_frame_rate_uses_real_time():
    """The same motion sampled at uneven times gives (nearly) the same curve as at even times."""
    rng = np.random.default_rng(2)
    even = np.arange(0, 3000, 20.0)
    uneven = np.sort(rng.uniform(0, 3000, 150))
    sig = lambda t: np.sin(t / 1000 * 2 * np.pi * 0.5)[:, None]
    a = run(OneEuroFilter(), even, sig(even))[:, 0]
    b = run(OneEuroFilter(), uneven, sig(uneven))[:, 0]
    inside = (even > 1000) & (even < uneven.max())
    assert np.max(np.abs(np.interp(even[inside], uneven, b) - a[inside])) < 0.05


def test_factory_and_passthrough():
    assert isinstance(make_filter("none"), NoFilter)
    x = np.array([1.0, np.nan])
    np.testing.assert_array_equal(make_filter("none")(0, x), x)
    with pytest.raises(ValueError, match="unknown smoothing"):
        make_filter("kalman")
