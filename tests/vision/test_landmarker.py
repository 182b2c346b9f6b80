"""PoseEstimator in its three modes on real frames."""

import threading
import time

import numpy as np
import pytest

from tests.vision.clips import decode_all
from vision.landmarker import ModelLoadError, PoseEstimator
from vision.pipeline import extract_track


def test_image_mode_on_the_still_photo(model_path, sample_clip):
    track = extract_track(sample_clip("tfjs_pose.jpg"), model_path)
    assert len(track) == 1 and track.detected.all()
    # warrior II: arms spread horizontally, so both wrists are far outside the shoulders
    x = track.pixels()[0, :, 0]
    assert abs(x[15] - x[16]) > 2.5 * abs(x[11] - x[12])


def test_live_stream_mode_delivers_results_asynchronously(model_path, sample_clip):
    frames, _ = decode_all(sample_clip("tfjs_pose_1.mp4"))
    got: dict[int, int] = {}
    done = threading.Event()

    def on_result(ts, poses):
        got[ts] = len(poses)
        if len(got) >= 5:
            done.set()

    with PoseEstimator(model_path, mode="live", on_live_result=on_result) as est:
        t0 = time.monotonic()
        for f in frames[:30]:  # paced like a camera: one frame every 33 ms
            time.sleep(max(0.0, t0 + f.timestamp_ms / 1000 - time.monotonic()))
            est.submit(f.rgb, f.timestamp_ms)
        assert done.wait(30)
    # live mode drops frames it is too busy for (never queues them), but every result has the person
    assert len(got) >= 5 and all(n == 1 for n in got.values())
    assert set(got) <= {int(round(f.timestamp_ms)) for f in frames[:30]}


def test_video_mode_accepts_a_repeated_timestamp(model_path, sample_clip):
    frames, _ = decode_all(sample_clip("tfjs_pose_1.mp4"))
    with PoseEstimator(model_path) as est:
        a = est.process(frames[0].rgb, 100.0)
        b = est.process(frames[1].rgb, 100.0)  # same time again: bumped by 1 ms, not an error
    assert len(a) == len(b) == 1


def test_bad_model_file_gives_clear_error(tmp_path):
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"PK\x03\x04 not really a bundle")
    with pytest.raises(ModelLoadError, match="cannot load pose model"):
        PoseEstimator(bad)


def test_rejects_non_rgb_input(model_path):
    with PoseEstimator(model_path) as est, pytest.raises(ValueError, match="uint8 RGB"):
        est.process(np.zeros((10, 10), np.uint8))


def _fresh(code: str) -> str:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_mediapipe_is_imported_without_matplotlib():
    """MediaPipe's drawing_utils imports matplotlib.pyplot (~40 MB): a model runs without loading it,
    and code that imports matplotlib afterwards, or calls drawing_utils, gets the real one."""
    out = _fresh(
        "import sys; from vision.landmarker import import_mediapipe; import_mediapipe(); "
        "from mediapipe.tasks.python import BaseOptions, vision; "
        "print('matplotlib' in sys.modules, 'matplotlib.pyplot' in sys.modules); "
        "du = sys.modules['mediapipe.tasks.python.vision.drawing_utils']; "
        "import matplotlib.pyplot as plt; "
        "print(type(plt).__name__, du.plt.figure is plt.figure, sys.modules['matplotlib'].pyplot is plt)")
    assert out.splitlines() == ["False False", "module True True"]
    # matplotlib already loaded: MediaPipe gets it as usual
    out = _fresh("import sys, matplotlib.pyplot as plt; from vision.landmarker import import_mediapipe; "
                 "import_mediapipe(); print(sys.modules['mediapipe.tasks.python.vision.drawing_utils'].plt is plt)")
    assert out == "True"


def test_mediapipe_task_families_never_run_are_not_imported(model_path):
    """MediaPipe imports every task family (audio, text, ...) at its own import; isobalance runs only
    vision: the others stay out of ``sys.modules`` (half of MediaPipe's import time), a landmarker
    still runs, and code that uses them afterwards gets the real modules."""
    out = _fresh(
        "import sys, numpy as np; from vision.landmarker import UNUSED_TASKS, PoseEstimator, import_mediapipe; "
        "mp = import_mediapipe(); print([n in sys.modules for n in UNUSED_TASKS]); "
        f"est = PoseEstimator({str(model_path)!r}, mode='image'); print(len(est.process(np.zeros((64, 64, 3), np.uint8)))); "
        "est.close(); "
        "print(mp.tasks.audio.AudioClassifier.__name__, type(sys.modules['mediapipe.tasks.python.audio']).__name__); "
        "from mediapipe.tasks.python.text import text_classifier; print(text_classifier.TextClassifier.__name__)")
    assert out.splitlines()[-4:] == ["[False, False, False, False]", "0", "AudioClassifier module", "TextClassifier"]


def test_bundle_pages_released_after_the_first_pose_and_poses_unchanged(model_path, sample_clip):
    """After a landmarker's first frame with a pose the bundle's mapping is dropped from memory
    (vision.memory.release_file_pages): MediaPipe never reads it again, on 40 frames with the person nor
    after losing her (black frames) and finding her again, and the poses are bit-identical to those of
    a landmarker that kept the pages (run first, alone)."""
    import vision.landmarker as lm
    from vision.memory import file_mappings

    frames, _ = decode_all(sample_clip("tfjs_pose_1.mp4"))
    black = np.zeros_like(frames[0].rgb)
    sequence = [f.rgb for f in frames[:20]] + [black] * 3 + [f.rgb for f in frames[20:40]]

    def run(release: bool) -> tuple[list, list[int]]:
        lm.RELEASE_MODEL_PAGES = release
        try:
            est = PoseEstimator(model_path)
        finally:
            lm.RELEASE_MODEL_PAGES = True
        out, resident = [], []
        with est:
            for i, rgb in enumerate(sequence):
                out.append(est.process(rgb, i * 33.0))
                resident.append(sum(m[3] for m in file_mappings(est.asset_path)))   # the file the graph maps
        return out, resident

    kept, kept_resident = run(False)
    assert min(kept_resident) > 5000                 # the bundle (9 MB) stays resident when kept
    released, resident = run(True)
    assert len(released[0]) == 1 and resident[0] == 0        # first frame has her: dropped at once
    assert max(resident) == 0                                # never read again, lost and found included
    assert [len(p) for p in released[20:23]] == [0, 0, 0] and len(released[23]) == 1
    for a, b in zip(kept, released):
        assert np.array_equal(a.image, b.image, equal_nan=True) and np.array_equal(a.world, b.world)


def test_direct_c_calls_give_the_wrappers_poses_bit_for_bit(model_path, sample_clip, monkeypatch):
    """VIDEO and IMAGE frames go to MediaPipe's C API on the calling thread (``DIRECT_CALLS``), not
    through the Python wrapper: on every frame of a real clip (with the person lost on black frames and
    found again, and a non-contiguous frame) both give the same poses, bit for bit, and the direct path
    really is the one taken (the wrapper's detect calls are made to fail while it runs)."""
    import vision.landmarker as lm
    from mediapipe.tasks.python.vision import PoseLandmarker

    frames, _ = decode_all(sample_clip("tfjs_pose_1.mp4"))
    black = np.zeros_like(frames[0].rgb)
    sequence = [f.rgb for f in frames[:60]] + [black] * 3 + [f.rgb for f in frames[60:]]
    sequence[5] = np.asfortranarray(sequence[5])            # not C-contiguous: copied before the call
    stills = [frames[0].rgb, black, frames[len(frames) // 2].rgb]

    def run(direct: bool) -> list:
        monkeypatch.setattr(lm, "DIRECT_CALLS", direct)
        with PoseEstimator(model_path, mode="video", num_poses=1) as video, \
                PoseEstimator(model_path, mode="image", num_poses=2) as image:
            assert (video._c is not None, image._c is not None) == (direct, direct)
            out = [video.process(rgb, i * 33.4) for i, rgb in enumerate(sequence)]
            return out + [image.process(rgb) for rgb in stills]

    wrapped = run(False)

    def refuse(*_a, **_k):
        raise AssertionError("the wrapper was called on the direct path")

    monkeypatch.setattr(PoseLandmarker, "detect_for_video", refuse)
    monkeypatch.setattr(PoseLandmarker, "detect", refuse)
    direct = run(True)
    assert [len(p) for p in wrapped[60:63]] == [0, 0, 0] and sum(len(p) for p in wrapped) >= len(wrapped) - 4
    assert [len(p) for p in direct] == [len(p) for p in wrapped]
    for a, b in zip(wrapped, direct):
        assert a.image.shape == b.image.shape and a.world.shape == b.world.shape
        assert a.image.dtype == b.image.dtype == np.float64
        assert np.array_equal(a.image, b.image, equal_nan=True) and np.array_equal(a.world, b.world)


def test_direct_calls_report_mediapipe_errors_and_stop_after_close(model_path, sample_clip, monkeypatch):
    """A rejected frame raises MediaPipe's own error through the direct path (a VIDEO timestamp that
    goes back, sent below ``_next_ts``), and a closed estimator gives no poses instead of touching the
    freed landmarker."""
    import vision.landmarker as lm

    monkeypatch.setattr(lm, "DIRECT_CALLS", True)       # off by default (its comment says why)
    frames, _ = decode_all(sample_clip("tfjs_pose_1.mp4"))
    est = PoseEstimator(model_path, mode="video", num_poses=1)
    assert est._c is not None
    with est:
        assert len(est.process(frames[0].rgb, 1000.0)) == 1
        with est._lock, pytest.raises(ValueError):
            est._c.detect(est._landmarker._handle, frames[1].rgb, 10)
    assert len(est.process(frames[2].rgb, 2000.0)) == 0
