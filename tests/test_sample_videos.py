"""sample_videos: the manifest against the real files, locating/fetching with sha256 checks, the CLI.

The public URLs (GitHub) are unreachable from CI, so downloads are exercised against a local http.server
on 127.0.0.1 (the clips' URLs are rewritten in a copy of the manifest, the download code runs for real).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import av
import numpy as np
import pytest

import sample_videos
from sample_videos import locator

SHARED_VIDEOS = locator.CHECKOUT_SHARED_VIDEOS
SHIPPED = locator.SHIPPED_DIR
MEDIA_SUFFIXES = {".mp4", ".jpg", ".png", ".mov", ".webm"}


@pytest.fixture(scope="session")
def clips():
    return sample_videos.load_manifest()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Empty user cache, no ISOBALANCE_SAMPLES_DIR, no ../shared/videos, no shipped clips."""
    monkeypatch.setenv("ISOBALANCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ISOBALANCE_SAMPLES_DIR", raising=False)
    monkeypatch.setattr(locator, "CHECKOUT_SHARED_VIDEOS", tmp_path / "no-shared")
    monkeypatch.setattr(locator, "SHIPPED_DIR", tmp_path / "no-shipped")
    return tmp_path


@contextlib.contextmanager
def serve(directory: Path):
    """A real HTTP server on 127.0.0.1 serving ``directory``; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def served_from(clips, base: str):
    return {n: dataclasses.replace(c, url=f"{base}/{n}") for n, c in clips.items()}


# --- the manifest describes the real files ---------------------------------------------------------


def test_manifest_matches_the_shared_files(clips):
    on_disk = {p.name for p in SHARED_VIDEOS.iterdir() if p.suffix.lower() in MEDIA_SUFFIXES}
    assert set(clips) == on_disk
    for clip in clips.values():
        path = SHARED_VIDEOS / clip.name
        assert path.stat().st_size == clip.bytes, clip.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == clip.sha256, clip.name


def test_the_shipped_clips_are_the_manifest_files_with_their_licenses(clips):
    """sample_videos/ ships every clip (so a first run needs no download), byte for byte the manifest's."""
    on_disk = {p.name for p in SHIPPED.iterdir() if p.suffix.lower() in MEDIA_SUFFIXES}
    assert set(clips) == on_disk
    for clip in clips.values():
        data = (SHIPPED / clip.name).read_bytes()
        assert len(data) == clip.bytes and hashlib.sha256(data).hexdigest() == clip.sha256, clip.name
    for entry in sample_videos.load_licenses().values():
        assert (SHIPPED / entry["local_copy"]).read_bytes() == (SHARED_VIDEOS / entry["local_copy"]).read_bytes()


def test_locate_uses_the_shipped_clips_first(clips, monkeypatch, tmp_path):
    monkeypatch.setenv("ISOBALANCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(locator, "CHECKOUT_SHARED_VIDEOS", tmp_path / "no-shared")
    for name in clips:
        assert sample_videos.locate(name) == SHIPPED / name
    assert not (tmp_path / "cache").exists()  # nothing downloaded or copied


def test_manifest_licenses_are_referenced_and_present(clips):
    licenses = sample_videos.load_licenses()
    for clip in clips.values():
        assert clip.license in licenses, clip.name
        assert licenses[clip.license]["repository"] == clip.source["repo"]
        assert set(clip.source) == {"repo", "commit", "path"} and len(clip.source["commit"]) == 40
        assert clip.url.startswith("https://") and clip.url_status
    for entry in licenses.values():
        assert (SHARED_VIDEOS / entry["local_copy"]).is_file()


def test_manifest_geometry_and_frame_counts_match_the_decoded_media(clips):
    for clip in clips.values():
        with av.open(str(SHARED_VIDEOS / clip.name)) as container:
            stream = container.streams.video[0]
            frames = [f for f in container.decode(stream)]
        assert (frames[0].width, frames[0].height) == (clip.width, clip.height), clip.name
        assert len(frames) == clip.frames, clip.name
        if clip.kind == "video":
            assert float(stream.average_rate) == pytest.approx(clip.fps), clip.name
        else:
            assert clip.fps is None and clip.frames == 1
        for segment in clip.segments:
            assert 0 <= segment.start_frame <= segment.end_frame < clip.frames, (clip.name, segment)


def knee_angles(model_path: Path, video: Path) -> np.ndarray:
    """Per frame, the mean of left/right hip-knee-ankle angles (degrees) in upright pixel coordinates."""
    import mediapipe as mp
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.vision import pose_landmarker
    from mediapipe.tasks.python.vision import RunningMode

    options = pose_landmarker.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)), running_mode=RunningMode.VIDEO
    )
    points = []
    with pose_landmarker.PoseLandmarker.create_from_options(options) as landmarker, av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            rgb = frame.to_ndarray(format="rgb24")
            result = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), i * 200)
            lm = result.pose_landmarks[0]
            points.append([[lm[j].x * frame.width, lm[j].y * frame.height] for j in (23, 25, 27, 24, 26, 28)])
    p = np.array(points).reshape(-1, 2, 3, 2)  # frame, side, (hip, knee, ankle), xy
    thigh, shin = p[:, :, 0] - p[:, :, 1], p[:, :, 2] - p[:, :, 1]
    cos = (thigh * shin).sum(-1) / np.linalg.norm(thigh, axis=-1) / np.linalg.norm(shin, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1, 1))).mean(axis=1)


def test_squat_standing_segments_are_where_the_knees_are_straight(clips, model_path, sample_clip):
    """The labelled 'standing still' frames have straight knees; every squat between them bends them deeply."""
    clip = clips["tfjs_pose_squats.mp4"]
    angles = knee_angles(model_path, sample_clip(clip.name))
    assert len(angles) == clip.frames
    standing = clip.segments_labelled("standing still")
    assert len(standing) == 3
    in_standing = np.zeros(clip.frames, bool)
    for s in standing:
        in_standing[s.start_frame : s.end_frame + 1] = True
    assert angles[in_standing].min() > 160  # measured 166-176 (2D pixels); squat bottoms 91-96
    between = [(standing[k].end_frame + 1, standing[k + 1].start_frame) for k in range(2)]
    between.append((standing[-1].end_frame + 1, clip.frames))
    for start, stop in between:  # the three squats: bottom well below standing
        assert angles[start:stop].min() < 110, (start, stop)


# --- locate --------------------------------------------------------------------------------------


def test_locate_finds_the_shared_clip(clips, monkeypatch, tmp_path):
    monkeypatch.delenv("ISOBALANCE_SAMPLES_DIR", raising=False)
    monkeypatch.setattr(locator, "SHIPPED_DIR", tmp_path / "no-shipped")
    for name in clips:
        assert sample_videos.locate(name) == SHARED_VIDEOS / name


def test_locate_unknown_name_lists_the_samples():
    with pytest.raises(sample_videos.UnknownSampleError, match="tfjs_pose_squats.mp4"):
        sample_videos.locate("my_video.mp4")


def test_env_folder_comes_first_and_is_checked(isolated, monkeypatch, clips):
    folder = isolated / "mine"
    folder.mkdir()
    name = "tfjs_pose.jpg"
    (folder / name).write_bytes((SHARED_VIDEOS / name).read_bytes())
    monkeypatch.setenv("ISOBALANCE_SAMPLES_DIR", str(folder))
    monkeypatch.setattr(locator, "CHECKOUT_SHARED_VIDEOS", SHARED_VIDEOS)
    assert sample_videos.locate(name) == folder / name
    (folder / name).write_bytes((SHARED_VIDEOS / name).read_bytes()[:-1])  # truncated copy
    with pytest.raises(sample_videos.SampleChecksumError, match=clips[name].sha256):
        sample_videos.locate(name)


def test_locate_downloads_into_the_cache_once(isolated, clips):
    with serve(SHARED_VIDEOS) as base:
        served = served_from(clips, base)
        path = sample_videos.locate("tfjs_pose_1.mp4", clips=served)
    assert path == sample_videos.samples_cache_dir() / "tfjs_pose_1.mp4"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == clips["tfjs_pose_1.mp4"].sha256
    # server gone: now found locally
    assert sample_videos.locate("tfjs_pose_1.mp4", clips=served) == path


def test_download_of_wrong_bytes_is_refused(isolated, clips):
    wrong = isolated / "wrong"
    wrong.mkdir()
    (wrong / "tfjs_pose.jpg").write_bytes(b"\xff\xd8 not the picture")
    with serve(wrong) as base:
        with pytest.raises(sample_videos.SampleChecksumError):
            sample_videos.locate("tfjs_pose.jpg", clips=served_from(clips, base))
    assert not list(sample_videos.samples_cache_dir().iterdir())


def test_unreachable_url_says_how_to_copy_instead(isolated, clips):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(sample_videos.SampleDownloadError) as err:
        sample_videos.locate("tfjs_pose.jpg", clips=served_from(clips, f"http://127.0.0.1:{port}"))
    assert "isobalance samples fetch --from DIR" in str(err.value) and "ISOBALANCE_SAMPLES_DIR" in str(err.value)


# --- fetch ---------------------------------------------------------------------------------------


def test_fetch_from_a_folder_copies_checked_files(isolated, clips):
    dest = isolated / "dest"
    paths = sample_videos.fetch(dest, from_dir=SHARED_VIDEOS)
    assert [p.name for p in paths] == list(clips)
    for p in paths:
        assert hashlib.sha256(p.read_bytes()).hexdigest() == clips[p.name].sha256
    assert not list(dest.glob("*.partial"))


def test_fetch_refuses_a_damaged_source_and_replaces_a_damaged_target(isolated, clips):
    name = "pose2sim_static_cam02.mp4"
    damaged = isolated / "damaged"
    damaged.mkdir()
    (damaged / name).write_bytes(b"\0" * clips[name].bytes)
    dest = isolated / "dest"
    with pytest.raises(sample_videos.SampleChecksumError):
        sample_videos.fetch(dest, from_dir=damaged, names=[name])
    assert not list(dest.iterdir())

    (dest / name).write_bytes(b"old junk")
    [path] = sample_videos.fetch(dest, from_dir=SHARED_VIDEOS, names=[name])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == clips[name].sha256

    with pytest.raises(sample_videos.SampleNotFoundError, match="has no tfjs_pose.jpg"):
        sample_videos.fetch(isolated / "dest2", from_dir=isolated / "empty-or-missing", names=["tfjs_pose.jpg"])


def test_fetch_downloads_when_no_folder_is_given(isolated, clips):
    with serve(SHARED_VIDEOS) as base:
        paths = sample_videos.fetch(isolated / "dl", names=["tfjs_pose.jpg"], clips=served_from(clips, base),
                                    progress=False)
    assert hashlib.sha256(paths[0].read_bytes()).hexdigest() == clips["tfjs_pose.jpg"].sha256


# --- `isobalance samples` CLI --------------------------------------------------------------------


def run_cli(*args: str):
    from typer.testing import CliRunner

    from isobalance.cli_samples import samples_app

    return CliRunner().invoke(samples_app, list(args))


def test_cli_list_shows_every_clip_with_license_and_segments(clips, monkeypatch):
    monkeypatch.delenv("ISOBALANCE_SAMPLES_DIR", raising=False)
    result = run_cli("list")
    assert result.exit_code == 0, result.stderr
    for clip in clips.values():
        assert f"{clip.name}: {clip.view} view" in result.stdout and clip.license in result.stdout
        assert f"local: {SHIPPED / clip.name}" in result.stdout
    assert "frames 19-27: standing still" in result.stdout


def test_cli_fetch_from_folder_and_errors(isolated, clips):
    result = run_cli("fetch", "--from", str(SHARED_VIDEOS), "-o", str(isolated / "out"), "tfjs_pose.jpg")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(isolated / "out" / "tfjs_pose.jpg")
    bad = run_cli("fetch", "--from", str(isolated), "-o", str(isolated / "out2"), "tfjs_pose_1.mp4")
    assert bad.exit_code == 2 and "has no tfjs_pose_1.mp4" in bad.stderr and "Traceback" not in bad.output
