"""vision.search's per-frame geometry, by construction (the search itself runs on the real clips in
tests/vision/test_subject.py and tests/vision/test_parallel.py)."""

import numpy as np

from vision.search import _box, _jumped


def numpy_box(image):
    """The numpy formulation ``_box`` replaced (fancy indexing, means, norm)."""
    shoulders, hips = image[0, [11, 12], :2].mean(axis=0), image[0, [23, 24], :2].mean(axis=0)
    return np.array([*(shoulders + hips) / 2, max(float(np.linalg.norm(shoulders - hips)), 1e-6)])


def test_box_is_the_torso_centre_and_length():
    image = np.zeros((1, 33, 5))
    image[0, [11, 12], :2] = [[0.4, 0.2], [0.6, 0.2]]     # shoulders centred at (0.5, 0.2)
    image[0, [23, 24], :2] = [[0.45, 0.5], [0.55, 0.5]]   # hips centred at (0.5, 0.5)
    np.testing.assert_allclose(_box(image), [0.5, 0.35, 0.3])
    assert _box(np.zeros((0, 33, 5))) is None
    assert _box(np.zeros((1, 33, 5)))[2] == 1e-6            # a collapsed torso has the floor length


def test_box_and_jump_agree_with_the_numpy_formulation():
    rng = np.random.default_rng(3)
    for _ in range(500):
        a, b = rng.uniform(0, 1, (1, 33, 5)), rng.uniform(0, 1, (1, 33, 5))
        np.testing.assert_allclose(_box(a), numpy_box(a), rtol=1e-14, atol=0)
        ba, bb = _box(a), _box(b)
        moved = np.linalg.norm(ba[:2] - bb[:2]) / max(ba[2], 1e-6)
        want = bool(moved > 0.5 or not (1 / 1.3 <= bb[2] / max(ba[2], 1e-6) <= 1.3))
        assert _jumped(ba, bb) == want


def test_jump_thresholds():
    a = np.array([0.5, 0.5, 0.2])
    assert not _jumped(a, np.array([0.59, 0.5, 0.2]))       # moved 0.45 torso lengths
    assert _jumped(a, np.array([0.61, 0.5, 0.2]))           # 0.55
    assert not _jumped(a, np.array([0.5, 0.5, 0.25]))       # 1.25x longer
    assert _jumped(a, np.array([0.5, 0.5, 0.27]))           # 1.35x
    assert _jumped(a, np.array([0.5, 0.5, 0.15]))           # 0.75x
