"""`isobalance landmarks` as a user runs it: a real subprocess, real model, real and broken inputs."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from vision.track import LandmarkTrack


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "isobalance.cli", *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=600)


def test_landmarks_writes_track_video_and_summary(tmp_path, model_path, sample_clip):
    r = run_cli("landmarks", sample_clip("tfjs_pose_squats.mp4"), "-o", tmp_path, "--model", model_path,
                "--parquet")
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames"] == 65 and summary["detection_rate"] >= 0.95
    track = LandmarkTrack.load(tmp_path / "track.csv")
    assert len(track) == 65 and track.meta.width == 720
    assert np.allclose(LandmarkTrack.load(tmp_path / "track.parquet").image, track.image, atol=1e-5,
                       equal_nan=True)
    import av

    with av.open(str(tmp_path / "annotated.mp4")) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264"
        times = [f.time for f in c.decode(s)]
    assert len(times) == 65 and times[1] == pytest.approx(0.2)


@pytest.mark.parametrize("make, code, message", [
    (lambda p: None, 2, "not found"),
    (lambda p: p.write_text("just text\n" * 50), 2, "not a readable video"),
    (lambda p: p.write_bytes(b""), 2, "empty"),
])
def test_bad_inputs_one_clear_message_no_traceback(tmp_path, model_path, make, code, message):
    clip = tmp_path / "clip.mp4"
    make(clip)
    r = run_cli("landmarks", clip, "-o", tmp_path / "out", "--model", model_path)
    assert r.returncode == code
    assert message in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("error:") == 1


def test_missing_model_names_all_three_ways(tmp_path, sample_clip):
    r = run_cli("landmarks", sample_clip("tfjs_pose_squats.mp4"), "-o", tmp_path,
                "--model", tmp_path / "nope.task")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    for way in ("isobalance models fetch", "ISOBALANCE_MODEL", "isobalance models build"):
        assert way in r.stderr


def test_unreadable_webcam(tmp_path, model_path):
    r = run_cli("landmarks", "webcam:57", "-o", tmp_path, "--model", model_path)
    assert r.returncode == 2 and "cannot open webcam 57" in r.stderr and "Traceback" not in r.stderr


def test_truncated_video_keeps_outputs_and_exits_4(tmp_path, model_path, sample_clip):
    fs = tmp_path / "fs.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(sample_clip("tfjs_pose_squats.mp4")),
                    "-c", "copy", "-movflags", "+faststart", str(fs)], check=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fs.read_bytes()[: fs.stat().st_size // 2])
    r = run_cli("landmarks", cut, "-o", tmp_path / "out", "--model", model_path)
    assert r.returncode == 4 and "Traceback" not in r.stderr and "were kept" in r.stderr
    track = LandmarkTrack.load(tmp_path / "out" / "track.csv")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames"] == len(track) > 10 and "truncated" in summary["error"]
    assert (tmp_path / "out" / "annotated.mp4").stat().st_size > 0


def test_nobody_detected_exits_3_with_outputs(tmp_path, model_path, sample_clip):
    import cv2

    from tests.vision.clips import decode_all, write_lossless

    frames, _ = decode_all(sample_clip("tfjs_pose_squats.mp4"))
    empty = write_lossless(tmp_path / "empty.mp4", [np.ascontiguousarray(f.rgb[:, :200]) for f in frames[:10]],
                           [f.timestamp_ms for f in frames[:10]])
    r = run_cli("landmarks", empty, "-o", tmp_path / "out", "--model", model_path)
    assert r.returncode == 3 and "no person detected in any of the 10 frames" in r.stderr
    assert len(LandmarkTrack.load(tmp_path / "out" / "track.csv")) == 10


# what MediaPipe / LiteRT / absl print on their own (measured: ~50 such lines per run before silencing)
NATIVE_LOG_MARKERS = ("INFO: ", "WARNING: ", "W0000 ", "I0000 ", "XNNPACK", "LiteRT", "InitGoogle")


def test_four_frame_clip_keeps_four_frames_and_stderr_has_no_mediapipe_lines(tmp_path, model_path, sample_clip):
    """Issue 11 items 5 and 9 through the command a user runs: a valid 4-frame H.264 clip cut by ffmpeg
    keeps its 4 frames (exit 0, not 4), and stderr holds none of MediaPipe's own log lines unless
    ``--verbose`` asks for them."""
    four = tmp_path / "four.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(sample_clip("tfjs_pose_squats.mp4")),
                    "-frames:v", "4", "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(four)], check=True)
    r = run_cli("landmarks", four, "-o", tmp_path / "out", "--model", model_path, "--no-video")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["frames"] == 4
    assert len(LandmarkTrack.load(tmp_path / "out" / "track.csv")) == 4
    assert not [line for line in r.stderr.splitlines() if any(m in line for m in NATIVE_LOG_MARKERS)], r.stderr

    loud = run_cli("--verbose", "landmarks", four, "-o", tmp_path / "loud", "--model", model_path, "--no-video")
    assert loud.returncode == 0, loud.stderr
    assert sum(any(m in line for m in NATIVE_LOG_MARKERS) for line in loud.stderr.splitlines()) >= 5
