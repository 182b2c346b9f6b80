"""Frame sources on real clips and on constructed bad inputs."""

import numpy as np
import pytest

from tests.vision.clips import decode_all, with_rotation_flag, write_lossless
from vision.errors import SourceError
from vision.sources import ImageFolderSource, open_source


def test_squat_clip_facts(sample_clip):
    frames, info = decode_all(sample_clip("tfjs_pose_squats.mp4"))
    assert (info.width, info.height, info.rotation) == (720, 1280, 0)
    assert len(frames) == 65 and info.fps == pytest.approx(5.0)
    ts = np.array([f.timestamp_ms for f in frames])
    assert ts[0] == 0 and np.allclose(np.diff(ts), 200.0)  # 5 fps from the container's own pts
    assert frames[0].rgb.shape == (1280, 720, 3)


def test_variable_frame_rate_timestamps_come_from_the_container(tmp_path, sample_clip):
    frames, _ = decode_all(sample_clip("tfjs_pose_1.mp4"))
    rgb = [f.rgb for f in frames[:20]]
    written = np.cumsum(np.random.default_rng(0).integers(10, 120, size=20)).astype(float)
    written -= written[0]
    path = write_lossless(tmp_path / "vfr.mp4", rgb, list(written))
    got, info = decode_all(path)
    np.testing.assert_allclose([f.timestamp_ms for f in got], written, atol=0.5)
    assert np.array_equal(got[7].rgb, rgb[7])  # lossless: the very same pixels


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotation_flag_is_applied(tmp_path, sample_clip, degrees):
    src = sample_clip("tfjs_pose_squats.mp4")
    plain, _ = decode_all(src)
    rotated, info = decode_all(with_rotation_flag(src, tmp_path / f"rot{degrees}.mp4", degrees))
    # ffmpeg's "rotate=D" tag means: turn the stored picture D degrees counter-clockwise to display it
    # (checked against ffmpeg's own auto-rotation); the upright frame is np.rot90(stored, D/90).
    expected = np.rot90(plain[3].rgb, k=degrees // 90)
    assert rotated[3].rgb.shape == expected.shape
    assert np.array_equal(rotated[3].rgb, expected)
    assert (info.width, info.height) == (expected.shape[1], expected.shape[0])


@pytest.mark.parametrize("content, message", [
    (None, "not found"),
    (b"", "empty"),
    (b"this is a text file, not a video\n" * 20, "not a readable video"),
])
def test_bad_video_files_give_clear_errors(tmp_path, content, message):
    p = tmp_path / "clip.mp4"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        open_source(p)


def test_truncated_video_keeps_frames_and_reports(tmp_path, sample_clip):
    """Header first (faststart), then cut: the decoder stops early and the source says so."""
    import subprocess

    fs = tmp_path / "fs.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(sample_clip("tfjs_pose_squats.mp4")),
                    "-c", "copy", "-movflags", "+faststart", str(fs)], check=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fs.read_bytes()[: fs.stat().st_size * 2 // 5])
    with open_source(cut) as src:
        frames = list(src)
    assert 5 < len(frames) < 65
    assert src.error is not None and f"after {len(frames)} of the 65 frames" in str(src.error)


def test_unreadable_webcam_index():
    with pytest.raises(SourceError, match="cannot open webcam 57"):
        open_source("webcam:57")


def test_still_image_and_folder(tmp_path, sample_clip):
    import cv2

    with open_source(sample_clip("tfjs_pose.jpg")) as src:
        frames = list(src)
    assert len(frames) == 1 and frames[0].rgb.shape == (667, 1000, 3)
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), frames[0].rgb[:, :, ::-1])
    folder = open_source(tmp_path)
    assert isinstance(folder, ImageFolderSource)
    assert [f.timestamp_ms for f in folder] == [0, 1000, 2000]
    cv2.imwrite(str(tmp_path / "009.png"), frames[0].rgb[:100, :100, ::-1])
    folder = open_source(tmp_path)
    assert len(list(folder)) == 3 and "must share one size" in str(folder.error)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="holds no images"):
        open_source(tmp_path / "empty")


@pytest.mark.parametrize("n", [1, 2, 4])
def test_a_short_h264_clip_keeps_every_frame(tmp_path, sample_clip, n):
    """One decode generator for the first-frame probe and the iteration: an n-frame clip gives n frames
    (with two generators a 4-frame H.264 clip kept only frame 0 and reported a decoding error)."""
    import subprocess

    src = sample_clip("tfjs_pose_squats.mp4")
    short = tmp_path / f"short{n}.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(src), "-frames:v", str(n), "-an",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(short)], check=True)
    original, _ = decode_all(src)
    with open_source(short) as source:
        frames = list(source)
    assert source.error is None
    assert [f.index for f in frames] == list(range(n))
    np.testing.assert_allclose([f.timestamp_ms for f in frames], [200.0 * i for i in range(n)])
    for got, want in zip(frames, original):   # the same pictures, up to H.264 re-encoding
        assert np.abs(got.rgb.astype(int) - want.rgb.astype(int)).mean() < 4


def test_frames_convert_on_the_decoding_thread_with_the_same_pixels(sample_clip):
    """``frame_rgb`` gives PyAV's own rgb24 pixels without the conversion threads PyAV >= 17 starts
    for every frame by default (thread ids counted in /proc: PyAV 18's default started ~2 per frame,
    40 for these 20 frames; frame_rgb none)."""
    import os

    import av

    from vision.sources import frame_rgb

    with av.open(str(sample_clip("tfjs_pose_1.mp4"))) as c:
        decoded = []
        for frame in c.decode(c.streams.video[0]):
            decoded.append(frame)
            if len(decoded) == 20:
                break
        before = set(os.listdir("/proc/self/task"))
        seen: set[str] = set()
        ours = []
        for frame in decoded:
            ours.append(frame_rgb(frame))
            seen |= set(os.listdir("/proc/self/task"))
        started = seen - before
        for frame, rgb in zip(decoded, ours):
            assert np.array_equal(rgb, frame.to_ndarray(format="rgb24"))
    assert len(started) <= 1, f"frame_rgb started {len(started)} threads for 20 frames"
