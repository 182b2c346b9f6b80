"""The annotated video on the parallel path (vision.render): drawn from the final stitched track in
parallel parts and joined without re-encoding. Checked against the source clip's frames and times and
against the track itself (each frame re-drawn from the track must match the video's frame)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.vision.long_clips import pingpong_clip
from vision import landmarks_job, parallel, render
from vision.pipeline import PipelineSettings
from vision.parallel import earliest_seam, plan_segments
from vision.render import draw_track_frame, parts_after_prefix, plan_parts
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
    """The landmarks job's track + annotated video on 2 cores; the parts it rendered are recorded, and
    the last frame is drawn only once the job has handed over the final track (``on_track``, where the
    CLI writes track.csv): the render runs while the track's files are written, not after. The later
    segment starts only once frame 0 is drawn: the first part starts on the core the first segment
    frees, not after the last segment (``run_parallel``'s ``on_poses``)."""
    import threading

    calls, parts, handed_over, waited = [], [], threading.Event(), []
    first_drawn, last_segment_waited = threading.Event(), []
    real = render.render_video
    real_segment = parallel.run_segment

    def last_segment_after_the_first_frame(job, *args, **kwargs):
        # the later segment starts only once frame 0 is drawn: the render must not wait for it
        if job.segment.first > 0:
            last_segment_waited.append(first_drawn.wait(120))
        return real_segment(job, *args, **kwargs)

    def spy(*args, **kwargs):
        calls.append(kwargs["workers"])
        parts.append(kwargs["parts"])
        return real(*args, **kwargs)

    def draw_last_after_the_track(rgb, index, timestamp_ms, image_landmarks):
        if index == 0:
            first_drawn.set()
        if index == 319:
            waited.append(handed_over.wait(120))
        draw_track_frame(rgb, index, timestamp_ms, image_landmarks)

    out = tmp_path_factory.mktemp("annotated") / "annotated.mp4"
    mp = pytest.MonkeyPatch()
    mp.setattr(render, "render_video", spy)
    mp.setattr(parallel, "run_segment", last_segment_after_the_first_frame)
    mp.setattr(landmarks_job, "draw_track_frame", draw_last_after_the_track)
    mp.setattr(landmarks_job, "available_cores", lambda: 2)
    mp.setattr("vision.parallel.available_cores", lambda: 2)
    try:
        with open_source(long_clip) as src:
            track, error = landmarks_job.extract_with_annotated_video(
                src, model_path, PipelineSettings(), out, on_track=lambda t: handed_over.set())
    finally:
        mp.undo()
    assert error is None and calls == [2], "the parallel render ran with 2 workers"
    assert waited == [True], "the track was handed over while the video was still being drawn"
    assert last_segment_waited == [True], "the first part was drawn when the first segment ended, before the last"
    assert len(plan_parts(len(track), 2)) == 2
    # the first segment's frames (up to the earliest seam) in a part of their own, the rest over 2 parts
    first = earliest_seam(plan_segments(len(track), 2)[1])
    assert parts == [[(0, first), (first, first + (320 - first) // 2), (first + (320 - first) // 2, 320)]]
    return track, out, parts[0]


def test_video_drawn_in_the_background_is_the_final_tracks(parallel_video, long_clip, tmp_path):
    """The video drawn on the render's own threads while the track's files were written is, packet for
    packet, the video ``render_video`` gives of the finished track (each frame its own row, same times,
    same encoder settings)."""
    track, streamed, parts = parallel_video
    listed = render.render_video(long_clip, tmp_path / "listed.mp4", track.image, draw_track_frame, workers=2,
                                 parts=parts)
    got, want = packets(streamed), packets(listed)
    assert len(got) == len(track) == 320 and got == want


def test_annotated_video_has_the_source_frames_and_timestamps(parallel_video, long_clip):
    track, video, _ = parallel_video
    src_times, _ = decode(long_clip)
    out_times, _ = decode(video)
    assert len(out_times) == len(src_times) == len(track) == 320
    np.testing.assert_allclose(out_times, src_times, atol=5e-4)      # container times, to the ms
    np.testing.assert_allclose(np.asarray(out_times) * 1000, track.timestamp_ms, atol=0.5)


def test_each_frame_shows_the_tracks_skeleton_and_number(parallel_video, long_clip):
    """Re-draw frame i from the source and track row i: the video's frame i matches it where the drawing
    changed pixels (skeleton + 'frame i' label), and the neighbouring rows' drawings match worse."""
    track, video, _ = parallel_video
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


def test_background_render_stops_within_a_frame_and_leaves_nothing(tmp_path, long_clip):
    """Ctrl+C (or any error) in the caller while the parts draw: the render ends at once (the parts check
    the stop every frame, the ones waiting for poses are woken) and leaves no video, partial file or part."""
    import threading
    import time

    drawing = threading.Event()

    def draw(rgb, index, timestamp_ms, payload):
        draw_text(rgb, index, timestamp_ms, payload)
        drawing.set()

    out = tmp_path / "v.mp4"
    with pytest.raises(KeyboardInterrupt):
        with render.BackgroundRender(long_clip, out, draw, workers=2) as bg:
            put = bg.start(320)
            for i in range(200):
                put(f"payload {i}")
            assert drawing.wait(120), "a part drew a frame"
            started = time.monotonic()
            raise KeyboardInterrupt
    took = time.monotonic() - started
    assert not bg._thread.is_alive() and took < 5, took
    assert list(tmp_path.iterdir()) == []


def test_background_render_given_too_few_poses_fails_without_a_video(tmp_path, long_clip):
    out = tmp_path / "v.mp4"
    with render.BackgroundRender(long_clip, out, draw_text, workers=2) as bg:
        put = bg.start(320)
        for i in range(250):
            put(f"payload {i}")
        with pytest.raises(ValueError, match="given 250 poses for 320 frames"):
            bg.wait()
    assert list(tmp_path.iterdir()) == []


def test_background_render_left_without_wait_stops_and_leaves_nothing(tmp_path, long_clip):
    """Leaving the block without ``wait`` (the caller gave up) stops the render and leaves nothing."""
    out = tmp_path / "v.mp4"
    with render.BackgroundRender(long_clip, out, draw_text, workers=2) as bg:
        put = bg.start(320)
        assert not bg.started, "no thread before the first pose"
        for i in range(100):
            put(f"payload {i}")
        assert bg.started
    assert not bg._thread.is_alive()
    assert list(tmp_path.iterdir()) == []


def test_payload_stream_wakes_a_reader_only_for_its_payload():
    """A part waiting for payload 100 (the later segment's first) is woken once, by payload 100, not by
    each of the 100 before it (each wake-up costs the thread that makes them a GIL hand-over)."""
    import threading
    import time

    stream = render.PayloadStream(200)
    wakes = []
    notify = stream._cond.notify_all
    stream._cond.notify_all = lambda: (wakes.append(stream.made), notify())
    got = []
    reader = threading.Thread(target=lambda: got.extend(stream[100:101]))
    reader.start()
    deadline = time.monotonic() + 30
    while stream._waiting != [100] and time.monotonic() < deadline:
        time.sleep(0.01)
    for i in range(150):
        stream.put(i)
    reader.join(30)
    assert got == [100] and wakes == [101]


@pytest.mark.parametrize("n, workers", [(1200, 2), (1200, 3), (320, 2), (997, 4)])
def test_parts_cover_every_frame_once_and_a_producers_work_goes_to_the_last(n, workers):
    """Without a producer the parts are equal; with one (``lead``: a payload's cost as a share of a frame's
    drawing) the work per core is even once the producer's whole work is counted against the last part."""
    equal = plan_parts(n, workers)
    assert [b - a for a, b in equal] == [b - a for a, b in
                                        zip(np.linspace(0, n, workers + 1).round().astype(int)[:-1],
                                            np.linspace(0, n, workers + 1).round().astype(int)[1:])]
    for lead in (0.0, 0.15, 0.5):
        parts = plan_parts(n, workers, lead=lead)
        assert len(parts) == workers
        assert parts[0][0] == 0 and parts[-1][1] == n
        assert all(b == c for (_, b), (c, _) in zip(parts[:-1], parts[1:]))       # contiguous, in order
        work = [b - a for a, b in parts]
        if n * (1 + lead) / workers - n * lead < 60:     # the last part would be tiny: kept at min_frames
            assert work[-1] == 60 and max(work[:-1]) - min(work[:-1]) <= 1, (lead, parts)
            continue
        work[-1] += n * lead
        assert max(work) - min(work) <= 2, (lead, parts)                        # even, to the rounding
    assert plan_parts(n, workers, lead=0.15)[0][1] > equal[0][1]                # the first part is longer


def test_a_producers_lead_moves_the_part_boundary_and_keeps_every_frame(tmp_path, long_clip, monkeypatch):
    """A PayloadStream with a ``lead`` is drawn in the parts ``plan_parts`` gives for it (the first part
    longer), and the video has every frame at its time, each showing its own payload."""
    n = 320
    texts = [f"payload {i}" for i in range(n)]
    ranges, real = [], render.render_part

    def recording(job, *args, **kwargs):
        ranges.append((job.first, job.stop))
        return real(job, *args, **kwargs)

    monkeypatch.setattr(render, "render_part", recording)
    out = render.render_video(long_clip, tmp_path / "lead.mp4", render.PayloadStream(n, iter(texts), lead=0.3),
                              draw_text, workers=2)
    parts = sorted(ranges)                           # the parts run on threads: recorded in any order
    assert parts == plan_parts(n, 2, lead=0.3) and parts[0][1] > n // 2
    src_times, src_frames = decode(long_clip)
    times, frames = decode(out)
    assert len(frames) == n
    np.testing.assert_allclose(times, src_times, atol=5e-4)
    for i in (0, parts[0][1] - 1, parts[0][1], n - 1):                # both sides of the moved boundary
        want = src_frames[i].copy()
        draw_text(want, i, 0.0, texts[i])
        drawn = np.abs(want.astype(int) - src_frames[i].astype(int)).max(axis=-1) > 60
        assert drawn.sum() > 200
        err = np.abs(frames[i].astype(int) - want.astype(int)).max(axis=-1)[drawn].mean()
        wrong = src_frames[i].copy()
        draw_text(wrong, i, 0.0, texts[i - 1] if i else texts[1])
        assert err < 25, (i, err)
        changed = np.abs(wrong.astype(int) - want.astype(int)).max(axis=-1) > 60
        assert np.abs(frames[i].astype(int) - wrong.astype(int)).max(axis=-1)[changed].mean() > 2 * err, i


@pytest.mark.parametrize("prefix,n,workers", [(594, 1200, 2), (154, 320, 2), (100, 1200, 3), (0, 320, 2), (320, 320, 2)])
def test_parts_after_a_prefix_give_it_a_part_of_its_own_and_cover_every_frame_once(prefix, n, workers):
    parts = parts_after_prefix(prefix, n, workers)
    assert [a for a, _ in parts] == [0, *(b for _, b in parts[:-1])] and parts[-1][1] == n
    if 0 < prefix < n:
        assert parts[0] == (0, prefix)
        assert parts[1:] == [(prefix + a, prefix + b) for a, b in plan_parts(n - prefix, workers)]
    else:
        assert parts == plan_parts(n, workers)


def test_render_refuses_parts_that_do_not_cover_the_frames(tmp_path, long_clip):
    for parts in ([(0, 100), (120, 320)], [(0, 100), (100, 300)], [(0, 0), (0, 320)]):
        with pytest.raises(ValueError, match="do not cover"):
            render.render_video(long_clip, tmp_path / "x.mp4", [None] * 320, draw_text, workers=2, parts=parts)
    assert not (tmp_path / "x.mp4").exists()
