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


def test_shared_detector_loads_on_its_own_thread_and_detects_what_the_detector_does(tmp_path, model_path,
                                                                                     sample_clip):
    """``SharedDetector`` (the parallel path's search, loaded while the segments load their models):
    the same detections as a ``PersonDetector`` on real frames, counted; a model that cannot load
    raises its own error where the detector is used, and ``raise_load_error`` raises it too."""
    import pytest

    from tests.vision.clips import decode_all
    from vision.models import InvalidModelError
    from vision.person_detector import PersonDetector
    from vision.search import SharedDetector

    frames = [f.rgb for f in decode_all(sample_clip("tfjs_pose_1.mp4"))[0][:6]]
    with PersonDetector(model_path) as alone, SharedDetector(model_path) as shared:
        for rgb in frames:
            a, b = alone.detect(rgb), shared.detect(rgb)
            assert len(a) == len(b) == 1
            assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.keypoints, b.keypoints)
        assert shared.calls == alone.calls == len(frames)
        shared.raise_load_error()                       # loaded: nothing to raise
    fake = tmp_path / "fake.task"
    fake.write_text("not a zip")
    broken = SharedDetector(fake)
    with pytest.raises(InvalidModelError):
        broken.raise_load_error()
    with pytest.raises(InvalidModelError):
        broken.detect(frames[0])
    broken.close()


def test_shared_detector_makes_the_unpacked_detector_before_it_returns(tmp_path, monkeypatch, model_path,
                                                                        sample_clip):
    """With an empty model cache, ``SharedDetector`` makes the float32 detector
    (vision.models.unpacked_detector) on the calling thread before it returns, i.e. before the segments
    load their graphs, so the conversion's transient memory never adds to theirs; the detector then
    loads from that file and finds the person."""
    from tests.vision.clips import decode_all
    from vision.memory import file_mappings
    from vision.models import unpacked_detector_made
    from vision.search import SharedDetector

    monkeypatch.setenv("ISOBALANCE_CACHE", str(tmp_path / "cache"))
    assert not unpacked_detector_made(model_path)
    with SharedDetector(model_path) as shared:
        assert unpacked_detector_made(model_path)       # made already: its own thread has only started
        rgb = decode_all(sample_clip("tfjs_pose_1.mp4"))[0][0].rgb
        assert len(shared.detect(rgb)) == 1
        made, = (tmp_path / "cache" / "models").glob("pose_detector-*.f32.tflite")
        mapped = file_mappings(made)
        assert mapped and all(m[3] == 0 for m in mapped)   # loaded from that file, its pages released
