"""The annotated video on the parallel path (vision.render): drawn from the final stitched track in
parallel parts and joined without re-encoding. Checked against the source clip's frames and times and
against the track itself (each frame re-drawn from the track must match the video's frame)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.vision.long_clips import pingpong_clip
from vision import landmarks_job, render
from vision.pipeline import PipelineSettings
from vision.render import draw_track_frame, plan_parts
from vision.sources import open_source


def decode(path):
    import av

    with av.open(str(path)) as c:
        frames = [(f.time, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    return [t for t, _ in frames], [rgb for _, rgb in frames]


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory, sample_clip):
    """tfjs_pose_1 ping-ponged to 320 frames, H.264 with B-frames, a keyframe every 40 (parts must seek)."""
    return pingpong_clip(sample_clip("tfjs_pose_1.mp4"), tmp_path_factory.mktemp("render") / "long.mp4",
                         320, keyint=40)


@pytest.fixture(scope="module")
def parallel_video(tmp_path_factory, model_path, long_clip):
    """The landmarks job's track + annotated video on 2 cores; the parts it rendered are recorded."""
    calls = []
    real = landmarks_job.render_video

    def spy(*args, **kwargs):
        calls.append(kwargs["workers"])
        return real(*args, **kwargs)

    out = tmp_path_factory.mktemp("annotated") / "annotated.mp4"
    mp = pytest.MonkeyPatch()
    mp.setattr(landmarks_job, "render_video", spy)
    mp.setattr(landmarks_job, "available_cores", lambda: 2)
    mp.setattr("vision.parallel.available_cores", lambda: 2)
    try:
        with open_source(long_clip) as src:
            track, error = landmarks_job.extract_with_annotated_video(src, model_path, PipelineSettings(), out)
    finally:
        mp.undo()
    assert error is None and calls == [2], "the parallel render ran with 2 workers"
    assert len(plan_parts(len(track), 2)) == 2
    return track, out


def test_annotated_video_has_the_source_frames_and_timestamps(parallel_video, long_clip):
    track, video = parallel_video
    src_times, _ = decode(long_clip)
    out_times, _ = decode(video)
    assert len(out_times) == len(src_times) == len(track) == 320
    np.testing.assert_allclose(out_times, src_times, atol=5e-4)      # container times, to the ms
    np.testing.assert_allclose(np.asarray(out_times) * 1000, track.timestamp_ms, atol=0.5)


def test_each_frame_shows_the_tracks_skeleton_and_number(parallel_video, long_clip):
    """Re-draw frame i from the source and track row i: the video's frame i matches it where the drawing
    changed pixels (skeleton + 'frame i' label), and the neighbouring rows' drawings match worse."""
    track, video = parallel_video
    _, src_frames = decode(long_clip)
    _, out_frames = decode(video)

    def expected(i, row):
        rgb = src_frames[i].copy()
        draw_track_frame(rgb, int(track.frame_index[row]), float(track.timestamp_ms[row]), track.image[row])
        return rgb

    for i in (0, 1, 80, 159, 160, 161, 240, 319):          # both sides of the part boundary at 160
        want = expected(i, i).astype(int)
        drawn = np.abs(want - src_frames[i].astype(int)).max(axis=-1) > 60
        assert drawn.sum() > 500, i
        got = out_frames[i].astype(int)
        err = np.abs(got - want).max(axis=-1)[drawn].mean()
        assert err < 25, (i, err)                          # H.264 at CRF 23 around thin lines
        for other in (i - 1, i + 1):
            if 0 <= other < len(track):
                wrong = expected(i, other).astype(int)
                changed = np.abs(wrong - want).max(axis=-1) > 60
                assert np.abs(got - wrong).max(axis=-1)[changed].mean() > 2 * np.abs(got - want).max(axis=-1)[changed].mean(), (i, other)


def test_join_refuses_nothing_and_keeps_order(tmp_path, long_clip):
    """Parts written with the writer's settings join by packet copy into one decodable stream."""
    from vision.drawing import AnnotatedVideoWriter

    _, frames = decode(long_clip)
    parts = []
    for k, (a, b) in enumerate(((0, 50), (50, 90))):
        with AnnotatedVideoWriter(tmp_path / f"p{k}.mp4", 576, 576, 30) as w:
            for i in range(a, b):
                w.write(frames[i], i * 40.0)
        parts.append(tmp_path / f"p{k}.mp4")
    joined = render.join_parts(parts, tmp_path / "joined.mp4")
    times, out = decode(joined)
    assert len(out) == 90
    np.testing.assert_allclose(times, np.arange(90) * 0.04, atol=5e-4)
    assert not (tmp_path / "joined.mp4.partial.mp4").exists()


def draw_text(rgb, index, timestamp_ms, payload) -> None:
    from vision.drawing import draw_label

    draw_label(rgb, payload)


def packets(path):
    import av

    with av.open(str(path)) as c:
        return [(p.pts, bytes(p)) for p in c.demux(video=0) if p.size]


def test_payload_stream_draws_as_it_is_made_and_gives_the_same_video(tmp_path, long_clip):
    """A PayloadStream's producer runs beside the parts: the first part draws its first frame while the
    producer still holds back the last payloads (it waits for that drawing), and the video is the one a
    ready list of the same payloads gives, packet for packet."""
    import threading

    n = 320
    texts = [f"payload {i}" for i in range(n)]
    drawn_early = threading.Event()

    def draw_and_tell(rgb, index, timestamp_ms, payload):
        draw_text(rgb, index, timestamp_ms, payload)
        if index == 0:
            drawn_early.set()

    def made():
        yield from texts[:200]
        assert drawn_early.wait(120), "no part drew before every payload was made"
        yield from texts[200:]

    streamed = render.render_video(long_clip, tmp_path / "streamed.mp4", render.PayloadStream(n, made()),
                                   draw_and_tell, workers=2)
    listed = render.render_video(long_clip, tmp_path / "listed.mp4", texts, draw_text, workers=2)
    assert drawn_early.is_set()
    got, want = packets(streamed), packets(listed)
    assert len(got) == n and got == want


@pytest.mark.parametrize("failure", ["raises", "too few"])
def test_payload_stream_failure_ends_the_render_without_a_video(tmp_path, long_clip, failure):
    def made():
        for i in range(250):
            yield f"payload {i}"
        if failure == "raises":
            raise RuntimeError("the monitor broke at 250")

    out = tmp_path / "v.mp4"
    with pytest.raises(RuntimeError if failure == "raises" else ValueError,
                       match="monitor broke at 250" if failure == "raises" else "250 payloads made for 320 frames"):
        render.render_video(long_clip, out, render.PayloadStream(320, made()), draw_text, workers=2)
    assert list(tmp_path.iterdir()) == []          # no video, no partial file, no parts left behind
