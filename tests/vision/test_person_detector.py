"""The person detector alone (``vision.person_detector``): decoding proven by construction and against
the MediaPipe landmarker on real clips.

Ground truth: synthetic raw tensors whose decoded box is known (decode, letterbox removal, weighted
suppression); on the real model, the landmarker's own hip and shoulder centres for the same frames
(the detector's keypoints 0 and 2 are those centres), a mirrored frame (the box must mirror), frames
with nobody (no detection), and one detector shared by threads giving what it gives alone. The
two-person frames of the crossing clip are in tests/vision/test_subject.py (its fixture builds them).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from vision.person_detector import (HIP, INPUT_SIZE, NUM_BOXES, SHOULDER, PersonDetector, postprocess,
                                    preprocess, ssd_anchors)
from vision.sources import open_source


@pytest.fixture(scope="module")
def detector(model_path):
    with PersonDetector(model_path) as det:
        yield det


@pytest.fixture(scope="module")
def clips(sample_clip, model_path):
    """Per clip: frames and the tracked landmarker's poses (the default's tracker), run once."""
    from vision.landmarker import PoseEstimator

    out = {}
    for name in ("tfjs_pose_1.mp4", "tfjs_pose_squats.mp4"):
        frames, poses = [], []
        with open_source(sample_clip(name)) as src, PoseEstimator(model_path, num_poses=1) as est:
            for f in src:
                frames.append(f.rgb)
                poses.append(est.process(f.rgb, f.timestamp_ms).image)
        out[name] = (frames, poses)
    return out


def test_anchors_follow_the_graph_config():
    """5 layers, strides 8/16/32/32/32 on 224 px, 2 anchors per cell per layer: 28²·2 + 14²·2 + 7²·6."""
    a = ssd_anchors()
    assert a.shape == (NUM_BOXES, 2) == (28 * 28 * 2 + 14 * 14 * 2 + 7 * 7 * 6, 2)
    assert np.allclose(a[0], a[1]) and np.allclose(a[0], [0.5 / 28, 0.5 / 28])
    assert np.allclose(a[2], [1.5 / 28, 0.5 / 28]), "x runs fastest within a row"
    assert np.allclose(a[28 * 2], [0.5 / 28, 1.5 / 28])
    assert np.allclose(a[1568], [0.5 / 14, 0.5 / 14]) and np.allclose(a[1568 + 392: 1568 + 392 + 6], 0.5 / 7)
    assert np.allclose(a[-1], [6.5 / 7, 6.5 / 7])


def test_letterbox_and_decoding_by_construction():
    """A 100x200 (w x h) frame: scaled by 224/200 and centred, so 56 px of padding left and right.
    Raw outputs built for a known box come back in frame coordinates; two overlapping detections merge
    into their score-weighted mean (keeping the best score), a far one stays."""
    rgb = np.full((200, 100, 3), 255, np.uint8)
    tensor, padding = preprocess(rgb)
    assert tensor.shape == (1, INPUT_SIZE, INPUT_SIZE, 3) and tensor.dtype == np.float32
    assert np.allclose(padding, [56 / 224, 0, 56 / 224, 0])
    assert tensor[0, :, :56].max() == -1.0 and tensor[0, :, 56:168].min() == 1.0, "black border, [-1, 1]"

    anchors = ssd_anchors()
    raw = np.zeros((NUM_BOXES, 12), np.float32)
    scores = np.full(NUM_BOXES, -50.0, np.float32)
    # anchor 0 (centre 0.5/28 of the square): the box centre at 112 px, 44.8 px wide and 22.4 px high
    target = np.array([112.0, 112.0])
    centre0 = anchors[0] * INPUT_SIZE
    raw[0, :4] = [*(target - centre0), 44.8, 22.4]
    raw[0, 4:6] = target + [0, 50] - centre0                       # hip keypoint 50 px below the centre
    scores[0] = 3.0
    # anchor 1 shares the cell: same box shifted right by 11.2 px, lower score -> weighted into anchor 0's
    raw[1] = raw[0]
    raw[1, [0, 4]] += 11.2
    scores[1] = 1.0
    # a far detection (another cell, no overlap) with a score under the threshold 0.5: dropped
    raw[500, :4] = [0, 0, 20, 20]
    scores[500] = -0.1
    det = postprocess(raw, scores, padding, anchors, min_score=0.5)
    assert len(det) == 1
    s0, s1 = 1 / (1 + np.exp(-3.0)), 1 / (1 + np.exp(-1.0))
    assert det.scores[0] == pytest.approx(s0, rel=1e-6)
    shift = 11.2 * s1 / (s0 + s1)
    # in the square: x 89.6..134.4 (+ shift), y 100.8..123.2; back in the frame (x: minus 56 px of
    # padding, then / 112 px of content; y / 224)
    xmin, xmax = (89.6 + shift - 56) / 112, (134.4 + shift - 56) / 112
    assert det.boxes[0] == pytest.approx([xmin, 100.8 / 224, xmax, 123.2 / 224], abs=1e-5)
    assert det.keypoints[0, HIP] == pytest.approx([(112 + shift - 56) / 112, 162 / 224], abs=1e-5)
    # two boxes that do not overlap enough are both kept, best first
    raw[1, 0] += 60
    det = postprocess(raw, scores, padding, anchors, min_score=0.5)
    assert len(det) == 2 and det.scores[0] > det.scores[1]


def test_nobody_gives_no_detection(detector):
    rng = np.random.default_rng(0)
    for frame in (np.zeros((480, 640, 3), np.uint8), np.full((576, 576, 3), 128, np.uint8),
                  rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)):
        assert len(detector.detect(frame)) == 0


@pytest.mark.parametrize("name", ["tfjs_pose_1.mp4", "tfjs_pose_squats.mp4"])
def test_keypoints_agree_with_the_landmarker(detector, clips, name):
    """Hip and shoulder centre of the detector against the landmarker's, every frame, in torso lengths
    (squats: 720x1280, so the letterbox matters). Measured: median 0.07 / 0.07 (tfjs_pose_1), 0.06 /
    0.03 (squats); max 0.26."""
    frames, poses = clips[name]
    errors = []
    for rgb, image in zip(frames, poses):
        det = detector.detect(rgb)
        assert len(det) == 1, "one person, one detection"
        px = np.array([rgb.shape[1], rgb.shape[0]])
        hip, shoulder = image[0, [23, 24], :2].mean(axis=0) * px, image[0, [11, 12], :2].mean(axis=0) * px
        torso = np.linalg.norm(hip - shoulder)
        errors.append([np.linalg.norm(det.keypoints[0, HIP] * px - hip) / torso,
                       np.linalg.norm(det.keypoints[0, SHOULDER] * px - shoulder) / torso])
        # the box is the head's (pose_detection_cpu.pbtxt: "the bounding box of the detected face"):
        # it holds the nose and its centre is above the shoulders
        nose = image[0, 0, :2]
        assert np.all(det.boxes[0, :2] <= nose) and np.all(nose <= det.boxes[0, 2:])
        assert (det.boxes[0, 1] + det.boxes[0, 3]) / 2 * px[1] < shoulder[1]
    errors = np.array(errors)
    assert np.median(errors, axis=0).max() < 0.12, np.median(errors, axis=0)
    assert errors.max() < 0.35, errors.max()


@pytest.mark.parametrize("name", ["tfjs_pose_1.mp4", "tfjs_pose_squats.mp4"])
def test_mirrored_frame_gives_the_mirrored_box(detector, clips, name):
    """The box mirrors within 2 % of the frame width; the hip and shoulder centres within 0.1 torso
    lengths (the network itself is not exactly mirror-symmetric: up to 0.07 measured on squats). A
    decoding with x and y swapped, a wrong anchor order or letterbox offset fails by far more."""
    frames, _ = clips[name]
    for rgb in frames[::8]:
        a, b = detector.detect(rgb), detector.detect(np.ascontiguousarray(rgb[:, ::-1]))
        assert len(a) == len(b) == 1
        mirrored = np.array([1 - b.boxes[0, 2], b.boxes[0, 1], 1 - b.boxes[0, 0], b.boxes[0, 3]])
        assert np.abs(a.boxes[0] - mirrored).max() < 0.02, (a.boxes[0], mirrored)
        px = np.array([rgb.shape[1], rgb.shape[0]])
        torso = np.linalg.norm((a.keypoints[0, HIP] - a.keypoints[0, SHOULDER]) * px)
        for k in (HIP, SHOULDER):
            flipped = np.array([1 - b.keypoints[0, k, 0], b.keypoints[0, k, 1]])
            assert np.linalg.norm((a.keypoints[0, k] - flipped) * px) / torso < 0.1


def test_two_people_side_by_side_give_two(detector, clips):
    """Two real people in one frame by construction: a tfjs_pose_1 frame (576x576) beside a squats frame
    scaled to the same height (324x576). Two detections, each with its hip and shoulder centres on that
    person's landmarks (the landmarker's, moved into the composite)."""
    import cv2

    (one, one_poses), (squats, squat_poses) = clips["tfjs_pose_1.mp4"], clips["tfjs_pose_squats.mp4"]
    for k in range(0, 60, 6):
        left, right = one[k], cv2.resize(squats[k], (324, 576), interpolation=cv2.INTER_AREA)
        frame = np.ascontiguousarray(np.hstack([left, right]))
        people = [one_poses[k][0, :, :2] * [576, 576], squat_poses[k][0, :, :2] * [324, 576] + [576, 0]]
        found = detector.detect(frame)
        assert len(found) == 2, (k, found.scores)
        for lm in people:
            hip, shoulder = lm[[23, 24]].mean(axis=0), lm[[11, 12]].mean(axis=0)
            torso = np.linalg.norm(hip - shoulder)
            err = np.linalg.norm(found.keypoints[:, [HIP, SHOULDER]] * [900, 576] - [hip, shoulder], axis=2)
            assert (err.max(axis=1) < 0.35 * torso).sum() == 1, (k, err / torso)


def test_shared_by_threads_gives_what_it_gives_alone(model_path, clips):
    """Two threads on one detector (the parallel path's segments): every frame's result equals the
    one-thread result, and every call is counted."""
    frames = clips["tfjs_pose_1.mp4"][0][:40]
    with PersonDetector(model_path) as det:
        alone = [det.detect(f) for f in frames]
        got: dict[int, object] = {}

        def run(indices):
            for k in indices:
                got[k] = det.detect(frames[k])

        threads = [threading.Thread(target=run, args=(range(j, len(frames), 2),)) for j in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert det.calls == 2 * len(frames)
    for k, a in enumerate(alone):
        assert np.array_equal(a.boxes, got[k].boxes) and np.array_equal(a.keypoints, got[k].keypoints)


def test_detector_comes_from_the_bundle(tmp_path, model_path):
    from vision.models import InvalidModelError, read_detector

    data = read_detector(model_path)
    assert data[4:8] == b"TFL3", "a TFLite flatbuffer"
    fake = tmp_path / "fake.task"
    fake.write_text("not a zip")
    with pytest.raises(InvalidModelError):
        read_detector(fake)


def _raw_outputs(interpreter, frames) -> np.ndarray:
    """The model's raw boxes and scores for every frame (before any decoding)."""
    from vision.person_detector import preprocess

    given = interpreter.get_input_details()[0]["index"]
    outputs = sorted(d["index"] for d in interpreter.get_output_details())
    raw = []
    for rgb in frames:
        interpreter.set_tensor(given, preprocess(rgb)[0])
        interpreter.invoke()
        raw.append(np.concatenate([interpreter.get_tensor(k).ravel() for k in outputs]))
    return np.array(raw)


def test_unpacked_weights_give_bit_identical_outputs_and_their_pages_go(tmp_path, monkeypatch, model_path,
                                                                          clips):
    """The detector with float32 weights (vision.person_detector.unpacked_model, cached by
    vision.models.unpacked_detector) is the bundle's detector: the same raw outputs to the last bit on
    real frames with XNNPACK, since the weights are the values its DENSIFY/DEQUANTIZE ops compute. It is
    made once (a second detector reuses the file), its file's pages are gone from memory after the first
    detect, and a damaged cached file is not used."""
    from ai_edge_litert.interpreter import Interpreter

    from vision.memory import file_mappings
    from vision.models import read_detector, unpacked_detector
    from vision.person_detector import unpacked_model

    monkeypatch.setenv("ISOBALANCE_CACHE", str(tmp_path / "cache"))
    frames = clips["tfjs_pose_1.mp4"][0][::10] + clips["tfjs_pose_squats.mp4"][0][::20]
    data = read_detector(model_path)
    unpacked = unpacked_model(data)
    assert b"DENSIFY" not in unpacked and len(unpacked) > 3 * len(data)      # float32: ~4x the float16/sparse
    bundle = Interpreter(model_content=data, num_threads=1)
    bundle.allocate_tensors()
    mine = Interpreter(model_content=unpacked, num_threads=1)
    mine.allocate_tensors()
    assert np.array_equal(_raw_outputs(bundle, frames), _raw_outputs(mine, frames))

    with PersonDetector(model_path) as det:
        path = det._unpacked
        assert path is not None and path.parent == tmp_path / "cache" / "models"
        assert path.read_bytes() == unpacked
        assert sum(m[3] for m in file_mappings(path)) > 5000      # mapped and read while XNNPACK packed it
        found = [det.detect(rgb) for rgb in frames]
        assert sum(m[3] for m in file_mappings(path)) == 0         # dropped after the first detect
        assert len(found[0]) == 1
    made = path.stat().st_mtime_ns
    assert unpacked_detector(model_path) == path and path.stat().st_mtime_ns == made   # reused, not remade
    path.write_bytes(unpacked[:-1] + bytes([unpacked[-1] ^ 1]))                        # damaged: sha differs
    again = unpacked_detector(model_path)
    assert again is not None and again.read_bytes() == unpacked


def test_detector_loads_from_the_bundle_when_the_cache_cannot_be_written(tmp_path, monkeypatch, model_path,
                                                                         detector, clips):
    """No writable model cache: the detector reads its weights from the bundle, as before, with the
    same detections."""
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("ISOBALANCE_CACHE", str(blocked))
    frames = clips["tfjs_pose_1.mp4"][0][:5]
    with PersonDetector(model_path) as det:
        assert det._unpacked is None
        for rgb in frames:
            a, b = det.detect(rgb), detector.detect(rgb)
            assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.scores, b.scores)


def test_detector_loads_from_the_bundle_when_the_rewrite_fails(tmp_path, monkeypatch, model_path, detector,
                                                              clips):
    """A detector model the float32 rewrite cannot handle (forced here: the rewrite raises) still loads,
    from the bundle's own weights, with the same detections; nothing is left in the cache."""
    import vision.person_detector as pd

    def fails(model: bytes) -> bytes:
        raise ValueError("DEQUANTIZE gave float16, not float32")

    monkeypatch.setenv("ISOBALANCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pd, "unpacked_model", fails)
    with PersonDetector(model_path) as det:
        assert det._unpacked is None
        for rgb in clips["tfjs_pose_1.mp4"][0][:3]:
            a, b = det.detect(rgb), detector.detect(rgb)
            assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.scores, b.scores)
    assert not list((tmp_path / "cache").rglob("*.tflite*"))
