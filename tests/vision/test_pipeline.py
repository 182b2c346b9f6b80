"""The real MediaPipe model on the real clips: detection, gaps, metamorphic mirror and rotation tests,
several people, and broken inputs."""

import subprocess

import cv2
import numpy as np
import pytest

from tests.vision.clips import MappedSource, decode_all, with_rotation_flag, write_lossless
from vision.pipeline import PartialTrackError, PipelineSettings, extract_track

RAW = PipelineSettings(smoothing="none")  # metamorphic tests compare the model itself


@pytest.fixture(scope="module")
def squats(sample_clip):
    return decode_all(sample_clip("tfjs_pose_squats.mp4"))


def body_height_px(track):
    y = track.pixels()[..., 1]
    return float(np.nanmedian(np.nanmax(y, axis=1) - np.nanmin(y, axis=1)))


def test_pose_found_in_at_least_95_percent_of_squat_frames(model_path, sample_clip):
    track = extract_track(sample_clip("tfjs_pose_squats.mp4"), model_path)
    assert len(track) == 65
    assert track.detection_rate() >= 0.95
    assert np.all(np.diff(track.timestamp_ms) > 0)
    assert track.meta.width == 720 and track.meta.height == 1280
    assert track.meta.smoothing["filter"] == "one_euro"
    # world landmarks are metres around the hips: a standing adult is 1.2-2.2 m from nose to heels
    w = track.world[0]
    assert 1.2 < np.linalg.norm(w[0] - (w[29] + w[30]) / 2) < 2.2


def test_nobody_in_frame_gives_explicit_gap_rows(model_path, squats):
    frames, info = squats
    # The left 200 px of the studio shot: wall, floor and rig, no person (she stands at x ~ 250-470).
    empty = MappedSource(frames[:15], info, lambda rgb: rgb[:, :200])
    track = extract_track(empty, model_path)
    assert len(track) == 15
    assert not track.detected.any() and (track.n_people == 0).all()
    assert np.isnan(track.image).all()


def test_mirrored_clip_gives_mirrored_track(model_path, squats):
    """Tolerance measured on this clip: median 3 px, p95 14 px, max 28 px on an 800 px tall body.
    MediaPipe is not exactly mirror-equivariant, so we state bounds relative to body height."""
    frames, info = squats
    a = extract_track(MappedSource(frames, info, lambda x: x), model_path, RAW)
    b = extract_track(MappedSource(frames, info, lambda x: x[:, ::-1]), model_path, RAW).mirrored()
    vis = (a.image[..., 3] > 0.8) & (b.image[..., 3] > 0.8)
    assert vis.mean() > 0.5
    err = np.linalg.norm(a.pixels() - b.pixels(), axis=2)[vis] / body_height_px(a)
    assert np.median(err) < 0.01
    assert np.percentile(err, 95) < 0.03
    # and the swap is real: left and right wrists are far apart in the unmirrored comparison
    naive = np.linalg.norm(a.pixels()[:, 15] - b.mirrored().mirrored().pixels()[:, 16], axis=1)
    assert np.nanmedian(naive) / body_height_px(a) > 0.1


def test_rotation_flag_gives_the_same_track_as_physically_rotated_frames(tmp_path, model_path, sample_clip, squats):
    frames, _ = squats
    flagged = with_rotation_flag(sample_clip("tfjs_pose_squats.mp4"), tmp_path / "flag.mp4", 90)
    physical = write_lossless(tmp_path / "phys.mp4", [np.rot90(f.rgb) for f in frames[:20]],
                              [f.timestamp_ms for f in frames[:20]])
    a = extract_track(flagged, model_path, RAW).select(slice(0, 20))
    b = extract_track(physical, model_path, RAW)
    assert a.meta.rotation == 270 and b.meta.rotation == 0  # clockwise turn applied to decoded frames
    assert (a.meta.width, a.meta.height) == (b.meta.width, b.meta.height) == (1280, 720)
    np.testing.assert_allclose(a.timestamp_ms, b.timestamp_ms)
    np.testing.assert_allclose(a.image[..., :2], b.image[..., :2], atol=1e-4)


def test_two_people_the_subject_is_followed_consistently(model_path, squats, sample_clip):
    """Side by side: the squatting woman (cropped, left, 960 px tall, moving) and the yoga man from
    tfjs_pose.jpg (right, 720 px tall, arms spread: the larger, more central body). The man is chosen
    at the start and kept in every frame while the woman squats beside him."""
    frames, info = squats
    man = cv2.cvtColor(cv2.imread(str(sample_clip("tfjs_pose.jpg"))), cv2.COLOR_BGR2RGB)
    man = cv2.resize(man, (1080, 720))

    def compose(rgb):
        woman = cv2.resize(rgb[:, 150:600], (337, 960))
        canvas = np.full((960, 337 + 1080, 3), 200, np.uint8)
        canvas[:, :337] = woman
        canvas[240:, 337:] = man
        return canvas

    track = extract_track(MappedSource(frames[:30], info, compose), model_path)
    assert (track.n_people == 2).mean() > 0.8, "the model should see both people"
    assert track.detected.all()
    hips_x = np.nanmean(track.image[:, [23, 24], 0], axis=1) * track.meta.width
    assert np.all(hips_x > 337), "the subject must stay the man on the right"
    assert "more than one person" in track.meta.subject


def test_truncated_clip_keeps_frames_before_the_break(tmp_path, model_path, sample_clip):
    fs = tmp_path / "fs.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(sample_clip("tfjs_pose_squats.mp4")),
                    "-c", "copy", "-movflags", "+faststart", str(fs)], check=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fs.read_bytes()[: fs.stat().st_size // 2])
    with pytest.raises(PartialTrackError) as info:
        extract_track(cut, model_path)
    track = info.value.track
    assert 10 < len(track) < 65 and track.detection_rate() >= 0.95
    assert f"after {len(track)} of the 65 frames" in str(info.value)


def test_body_smoother_is_one_filter_per_half_exactly():
    """BodySmoother runs one One-Euro filter over image and world landmarks stacked, each half with
    its own body size as scale: bit-identical to a filter per half (what it replaced), through moving,
    missing, partly NaN and long-gap frames."""
    from vision.pipeline import BodySmoother, _bbox_size
    from vision.smoothing import OneEuroFilter
    from vision.track import PoseFrame

    rng = np.random.default_rng(7)
    smoother = BodySmoother(OneEuroFilter)
    image_f, world_f = OneEuroFilter(), OneEuroFilter()
    base_i, base_w = rng.uniform(0.2, 0.8, (33, 5)), rng.normal(0, 0.3, (33, 3))
    t = 0.0
    for k in range(200):
        t += 1000 / 30 if k != 120 else 900.0                     # one gap longer than max_gap_ms
        if k % 37 == 5:
            pose = PoseFrame.missing(k, t)
        else:
            image = base_i + rng.normal(0, 0.01 + 0.05 * (k > 60), (33, 5))
            world = base_w * (1 + 0.5 * (k > 90)) + rng.normal(0, 0.01, (33, 3))
            if k % 11 == 3:
                image[rng.integers(0, 33, 3), rng.integers(0, 3)] = np.nan
            pose = PoseFrame(k, t, image, world, 1)
        got = smoother(pose)
        if not pose.detected:
            assert got is pose
            continue
        want_i = pose.image.copy()
        want_i[:, :3] = image_f(t, pose.image[:, :3], _bbox_size(pose.image[:, :2]))
        want_w = world_f(t, pose.world, _bbox_size(pose.world[:, :2]))
        np.testing.assert_array_equal(got.image, want_i)
        np.testing.assert_array_equal(got.world, want_w)


def test_bbox_size_fast_path_equals_the_nan_reductions():
    """Without NaN, _bbox_size's plain reductions give the nan-functions' value to the bit; with NaN
    landmarks they are left out."""
    from vision.pipeline import _bbox_size

    rng = np.random.default_rng(11)
    for _ in range(300):
        xy = rng.normal(0.5, 0.3, (33, 2))
        want = float(np.nanmean(np.nanmax(xy, axis=0) - np.nanmin(xy, axis=0))) or 1.0
        assert _bbox_size(xy) == want
    xy = np.array([[0.0, 0.0], [1.0, 3.0], [np.nan, 9.0]])
    assert _bbox_size(xy) == 5.0                      # x span 1 (the NaN left out), y span 9
