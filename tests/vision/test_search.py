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


# ------------------------------------------------------------------ the still-scene gate (vision.scene_change)
def test_scene_watch_by_construction(sample_clip):
    """On a real frame: the same view is still; a person-sized patch (a copy of the subject's own torso
    region, real texture) pasted away from the subject is a change, pasted onto the subject is not (her
    region is not judged); a subject filling the frame cannot be judged; the time bound, ``forget`` and
    ``max_still_ms = 0`` make it search; a 5 px shift of the whole view (a camera moving) is a change."""
    from tests.vision.clips import decode_all
    from vision.scene_change import SceneWatch

    rgb = decode_all(sample_clip("tfjs_pose_1.mp4"))[0][0].rgb      # 576x576, subject in the middle
    pose = np.zeros((1, 33, 5))
    pose[0, :, :2] = [[0.35, 0.1], [0.65, 0.95]] * 16 + [[0.5, 0.5]]  # her landmark box: x 0.35-0.65
    watch = SceneWatch()
    assert watch.check(rgb, pose, 0.0), "nothing to compare with: search"
    assert not watch.check(rgb, pose, 333.0) and watch.still == 1
    entered = rgb.copy()
    entered[200:560, 20:120] = rgb[150:510, 240:340]                # 100x360 px at the left edge
    assert watch.check(entered, pose, 666.0)
    behind = rgb.copy()
    behind[200:560, 238:338] = rgb[150:510, 240:340][:, ::-1]       # inside her region
    watch.forget()
    assert watch.check(rgb, pose, 1000.0)
    assert not watch.check(behind, pose, 1333.0)
    assert watch.check(behind, pose, 2000.0), "a 2 s boundary crossed: search however still"
    shifted = np.roll(rgb, 5, axis=1)
    watch.check(rgb, pose, 2333.0)
    assert watch.check(shifted, pose, 2666.0)
    filling = np.zeros((1, 33, 5))
    filling[0, :, :2] = [[0.02, 0.02], [0.98, 0.98]] * 16 + [[0.5, 0.5]]
    assert watch.check(rgb, filling, 3000.0) and watch.check(rgb, filling, 3333.0), "nothing left to judge"
    never = SceneWatch(max_still_ms=0)
    assert never.check(rgb, pose, 0.0) and never.check(rgb, pose, 333.0) and never.still == 0
    nobody = np.zeros((0, 33, 5))                                    # no subject: the whole view is judged
    watch.check(rgb, nobody, 4100.0)
    assert watch.check(behind, nobody, 4400.0), "her region counts when nobody is tracked"
    assert not watch.check(behind, nobody, 4700.0)


def test_still_scene_skips_the_periodic_search_counted(model_path, sample_clip):
    """The real one-person clip (still camera): the person detector runs on frame 0 and on frame 60 (the
    2 s bound) only, the other 10 periodic frames skipped and counted; without the gate
    (``still_ms=0``) on all 12 as before, and the tracked landmarks are the same either way."""
    from tests.vision.clips import decode_all
    from vision.search import TrackedSearch

    frames = decode_all(sample_clip("tfjs_pose_1.mp4"))[0]
    runs = {}
    for still_ms in (2000.0, 0.0):
        with TrackedSearch(model_path, still_ms=still_ms) as est:
            out = [est.process(f.rgb, f.timestamp_ms, f.index) for f in frames]
            runs[still_ms] = (out, est.search.calls, est.still_skips, est.company_frames)
    gated, ungated = runs[2000.0], runs[0.0]
    assert [k for k, p in enumerate(gated[0]) if p.searched] == [0, 60]
    assert gated[1:] == (2, 10, 0)
    assert [k for k, p in enumerate(ungated[0]) if p.searched] == list(range(0, 120, 10))
    assert ungated[1:] == (12, 0, 0)
    for a, b in zip(gated[0], ungated[0]):
        np.testing.assert_array_equal(a.image, b.image)


def test_moving_camera_searches_every_tenth_frame(model_path, sample_clip):
    """The same clip shaken like a handheld camera (random walk, 2 px and 0.1 deg a frame; measured on 4
    seeds, every pair of frames 10 apart changed 3.3 % of the view or more, against the 1 % threshold):
    the gate never skips, the detector runs on every 10th frame as without it."""
    from tests.vision.clips import decode_all, shaken as shake
    from vision.search import TrackedSearch

    frames = decode_all(sample_clip("tfjs_pose_1.mp4"))[0]
    shaken = shake([f.rgb for f in frames])
    with TrackedSearch(model_path) as est:
        flags = [est.process(rgb, f.timestamp_ms, f.index).searched for rgb, f in zip(shaken, frames)]
    assert est.still_skips == 0 and est.scene.checks == 12 and est.scene.still == 0
    assert est.search.calls == 12 and [k for k, s in enumerate(flags) if s] == list(range(0, 120, 10))
