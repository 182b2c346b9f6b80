"""vision.identity: the bank's vectorized colour distances are the row-by-row ones, to the bit."""

import numpy as np

from vision.identity import APPEARANCE_SIZE, AppearanceBank, colour_distance, colour_distances


def _histograms(rng, n: int) -> np.ndarray:
    """Torso-like histograms: float32, sum 1, most bins empty (as cv2.calcHist over a small torso gives)."""
    h = rng.random((n, APPEARANCE_SIZE)) ** 6 * (rng.random((n, APPEARANCE_SIZE)) < 0.3)
    h[:, 0] += 1e-3
    return (h / h.sum(axis=1, keepdims=True)).astype(np.float32)


def test_colour_distances_equal_colour_distance_bit_for_bit():
    rng = np.random.default_rng(7)
    checked = 0
    for size in range(1, 13):
        looks = _histograms(rng, size)
        for a in _histograms(rng, 40):
            got = colour_distances(a, looks)
            want = np.array([colour_distance(a, look) for look in looks])
            assert got.dtype == np.float64 and np.array_equal(got, want), size
            checked += size
    a = _histograms(rng, 1)[0]
    assert colour_distances(a, a[None])[0] == colour_distance(a, a)          # identical: 0 up to rounding
    unknown = np.full(APPEARANCE_SIZE, np.nan, np.float32)
    assert np.isnan(colour_distances(unknown, _histograms(rng, 3))).all()
    mixed = np.stack([a, unknown])
    assert np.array_equal(colour_distances(a, mixed), [colour_distance(a, a), np.nan], equal_nan=True)
    assert checked > 3000


def test_bank_distance_is_the_nearest_look_after_every_change():
    rng = np.random.default_rng(3)
    bank = AppearanceBank(size=4, novelty=0.05)
    for hist in _histograms(rng, 30):
        bank.learn(hist)                # fills, then rotates all but the first look
        for probe in _histograms(rng, 3):
            assert bank.distance(probe) == min(colour_distance(probe, look) for look in bank.looks)
    assert len(bank.looks) == 4


def test_learn_with_the_callers_distance_keeps_the_same_looks():
    """SubjectSelector hands ``learn`` the distance it computed already: the bank must end up exactly
    as when ``learn`` computes it itself (novel looks kept, close ones not, the oldest-but-first dropped)."""
    rng = np.random.default_rng(5)
    own, given = AppearanceBank(size=4), AppearanceBank(size=4)
    for _ in range(200):
        h = rng.dirichlet(np.ones(APPEARANCE_SIZE) * rng.choice([0.05, 5.0])).astype(np.float32)
        own.learn(h)
        given.learn(h, given.distance(h))
        assert len(own.looks) == len(given.looks)
        for a, b in zip(own.looks, given.looks):
            np.testing.assert_array_equal(a, b)
    assert 1 < len(own.looks) <= 4
