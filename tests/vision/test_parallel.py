"""Parallel (segmented, stitched) extraction against a sequential run, on the real clips and clips
built from them: same frames exactly once, same timestamps, landmarks/angles/findings within
``vision.parallel.TOLERANCE``, the subject followed across a seam, damaged files falling back."""

import subprocess

import cv2
import numpy as np
import pytest

from tests.vision.clips import decode_all, write_lossless
from tests.vision.long_clips import pingpong_clip
from vision.parallel import (CANDIDATE_DTYPE, POSE_BYTES, TOLERANCE, CandidateStore, RawSegment, extract_track_fast,
                             parallel_pays, plan_segments, run_parallel)
from vision.landmarker import PoseEstimator
from vision.pipeline import PartialTrackError, PipelineSettings, extract_track
from vision.segments import SegmentSource, scan_frames
from vision.sources import open_source

TRACKING = PipelineSettings(num_poses=1)  # MediaPipe's tracker carries state: the hard case for seams
DETECTOR = PipelineSettings(num_poses=2)  # --num-poses 2: the person detector on every frame


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory, sample_clip):
    """tfjs_pose_1 ping-ponged to 320 frames (10.7 s), H.264 with B-frames, a keyframe every 40."""
    return pingpong_clip(sample_clip("tfjs_pose_1.mp4"), tmp_path_factory.mktemp("long") / "long.mp4",
                         320, keyint=40)


def assert_same_frames(par, seq, n):
    assert np.array_equal(par.frame_index, np.arange(n)), "every frame exactly once, in order"
    assert np.array_equal(par.timestamp_ms, seq.timestamp_ms)
    assert np.all(np.diff(par.timestamp_ms) > 0)


def assert_within_tolerance(par, seq):
    from assessment.angles import compute_angles
    from assessment.assess import assess

    h = seq.meta.height
    d = np.linalg.norm(par.pixels() - seq.pixels(), axis=-1)
    both = par.detected & seq.detected
    assert np.array_equal(par.detected, seq.detected)
    assert d[both].mean(axis=1).max() / h <= TOLERANCE["landmark_frame_mean"]
    assert np.percentile(d[both], 99) / h <= TOLERANCE["landmark_p99"]
    a, b = compute_angles(par).to_numpy(), compute_angles(seq).to_numpy()
    diff = np.abs(a - b)[np.isfinite(a) & np.isfinite(b)]
    assert len(diff) > 0.5 * a.size
    assert np.median(diff) <= TOLERANCE["angle_median_deg"]
    assert np.percentile(diff, 99) <= TOLERANCE["angle_p99_deg"]
    fa = {(f.kind, f.metric): f for f in assess(par).findings}
    fb = {(f.kind, f.metric): f for f in assess(seq).findings}
    assert fa.keys() == fb.keys()
    for key in fa:
        assert fa[key].status == fb[key].status, key
        if fa[key].value is not None and fb[key].value is not None:
            assert abs(fa[key].value - fb[key].value) <= TOLERANCE[f"finding_{key[0]}_deg"], key


# ----------------------------------------------------------------------------------------- decoding
@pytest.mark.parametrize("name", ["tfjs_pose_squats.mp4", "tfjs_pose_1.mp4", "pose2sim_static_cam02.mp4"])
def test_segments_decode_exactly_the_sequential_frames_real_clips(sample_clip, name):
    path = sample_clip(name)
    frames, _ = decode_all(path)
    table = scan_frames(path)
    assert table is not None and len(table) == len(frames)
    n = len(frames)
    for first, stop in [(0, n), (1, n // 2), (n // 2, n), (n - 1, n), (n // 3, n // 3 + 2)]:
        with SegmentSource(path, first, stop, table) as seg:
            got = list(seg)
            assert seg.error is None
        assert [f.index for f in got] == list(range(first, stop))
        for g, f in zip(got, frames[first:stop]):
            assert g.timestamp_ms == f.timestamp_ms and np.array_equal(g.rgb, f.rgb)


def test_segments_seek_to_keyframes_in_a_long_clip(long_clip):
    frames, _ = decode_all(long_clip)
    table = scan_frames(long_clip)
    assert list(table.keyframes) == [0, 40, 80, 120, 160, 200, 240, 280]
    for first, stop in [(40, 45), (41, 100), (79, 81), (150, 320), (319, 320)]:
        with SegmentSource(long_clip, first, stop, table) as seg:
            got = list(seg)
        assert [f.index for f in got] == list(range(first, stop))
        assert all(g.timestamp_ms == f.timestamp_ms and np.array_equal(g.rgb, f.rgb)
                   for g, f in zip(got, frames[first:stop]))


def test_frame_table_refuses_a_damaged_file(tmp_path, sample_clip):
    fs = tmp_path / "fs.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(sample_clip("tfjs_pose_squats.mp4")),
                    "-c", "copy", "-movflags", "+faststart", str(fs)], check=True)
    assert scan_frames(fs) is not None
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fs.read_bytes()[: fs.stat().st_size // 2])
    assert scan_frames(cut) is None
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video" * 100)
    assert scan_frames(junk) is None


# ----------------------------------------------------------------------------------------- planning
def test_plan_covers_every_frame_once_with_lead_ins():
    for n, workers in [(1000, 2), (1001, 3), (65, 4), (50, 2), (7, 8)]:
        plan = plan_segments(n, workers, overlap=12, min_frames=20)
        assert plan[0].first == plan[0].start == 0 and plan[-1].stop == n
        assert all(a.stop == b.start for a, b in zip(plan, plan[1:]))
        assert all(b.first == max(0, b.start - 12) for b in plan[1:])
        assert len(plan) <= max(1, n // 20) and len(plan) <= workers


def test_parallel_only_where_it_pays():
    assert not parallel_pays(10_000, workers=1)
    assert not parallel_pays(120, workers=2)
    assert not parallel_pays(None, workers=2)
    assert parallel_pays(10_000, workers=2)


# ----------------------------------------------------------------------------------------- stitching
@pytest.mark.parametrize("name,workers", [("tfjs_pose_squats.mp4", 2), ("tfjs_pose_1.mp4", 3)])
def test_stitched_track_matches_sequential_real_clips(model_path, sample_clip, name, workers):
    """Tracker state on (num_poses=1): seams inside the overlap, values within the stated tolerance."""
    path = sample_clip(name)
    seq = extract_track(path, model_path, TRACKING)
    progress = []
    run = run_parallel(path, model_path, TRACKING, workers=workers, min_segment_frames=20,
                       on_progress=progress.append)
    assert run is not None and len(run.segments) == workers
    assert sum(progress) == len(seq), "progress counts every frame once (lead-ins excluded)"
    for seam, seg in zip(run.seams, run.segments[1:]):
        assert seg.first < seam.frame <= seg.start and seam.window[0] <= seam.frame <= seam.window[1]
        assert seam.disagreement_px < 0.01 * seq.meta.height
    assert_same_frames(run.track, seq, len(seq))
    # the scene's roll is read with each run's own landmarks masking the person: equal within its 1 sigma
    assert run.track.meta.replace(scene_roll={}) == seq.meta.replace(scene_roll={})
    assert run.track.meta.scene_roll["roll_deg"] == pytest.approx(seq.meta.scene_roll["roll_deg"], abs=0.5)
    assert_within_tolerance(run.track, seq)
    # the frames before the first seam come from a run identical to the sequential one
    first = run.seams[0].frame
    np.testing.assert_array_equal(run.track.image[:first - 1], seq.image[:first - 1])
    assert_candidates_stored_as_found(run)


@pytest.mark.parametrize("name,workers", [("tfjs_pose_squats.mp4", 3), ("tfjs_pose_1.mp4", 2)])
def test_replay_as_segments_end_equals_the_replay_of_the_stitched_stream(model_path, sample_clip, name, workers):
    """Subject selection and smoothing run on each finished prefix while later segments still run
    (``_Replay.feed_finished``): the poses, seams and subject are exactly those of one replay of the
    fully stitched stream (the path before), on the real segments of a real clip; so is the scene roll,
    sampled as the poses are replayed instead of from the finished track."""
    from vision.parallel import Segment, SegmentJob, _Replay, earliest_seam, run_segment, stitch
    from vision.scene_roll import SceneRollSampler
    from vision.search import open_search
    from vision.sources import VideoFileSource

    path = sample_clip(name)
    table = scan_frames(path)
    with VideoFileSource(path) as probe:
        info = probe.info
    segments = plan_segments(len(table), workers, min_frames=20)
    assert len(segments) == workers
    scene_fed, scene_whole = (SceneRollSampler(info.width, info.height, len(table), info.fps) for _ in range(2))
    wanted = frozenset(scene_fed.sample_indices(len(table)))
    with open_search(model_path, TRACKING) as search:
        parts = [run_segment(SegmentJob(str(path), seg, table, info, str(model_path), TRACKING, wanted, search))
                 for seg in segments]
    assert not any(p.error for p in parts)
    raw, seams = stitch(parts, segments, info.width, info.height)
    whole = _Replay(info, TRACKING, [Segment(0, 0, len(table))])
    whole.feed_finished(0, raw)
    fed = _Replay(info, TRACKING, segments, scene_fed)
    fed.feed_finished(0, parts[0])
    assert fed.frames == earliest_seam(segments[1]) > 0, "the first segment's frames are replayed before the rest end"
    for k in range(1, workers):
        fed.feed_finished(k, parts[k])
    assert fed.seams == seams and len(seams) == workers - 1
    assert fed.frames == whole.frames == len(table)
    for a, b in zip(fed.poses, whole.poses):
        assert (a.frame_index, a.timestamp_ms, a.n_people) == (b.frame_index, b.timestamp_ms, b.n_people)
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.world, b.world)
    assert fed.selector.meta() == whole.selector.meta()
    kept = {f: rgb for p in parts for f, rgb in p.scene_frames.items()}
    assert sorted(kept) == sorted(wanted) and len(wanted) >= 2
    for f in scene_whole.sample_indices(len(table)):     # the path before: the finished track's poses
        image = whole.poses[f].image
        scene_whole.sample(kept[f], image if np.isfinite(image[0, 0]) else None)
    assert len(scene_fed.segments) == len(wanted)
    assert scene_fed.result() == scene_whole.result()
    assert sum(p.detected for p in fed.poses) > 0.9 * len(table)


def assert_candidates_stored_as_found(run):
    """The stitched candidates hold the poses found, not a maximum per frame: the poses the selector
    was handed (the track's n_people, frame by frame) x POSE_BYTES, plus 33 bytes of records a frame."""
    n = len(run.track)
    assert run.candidate_poses == int(run.track.n_people.sum()) > 0
    assert run.candidate_bytes == run.candidate_poses * POSE_BYTES + n * (8 + 8 + 8 + 1 + 8) + 8
    # one person in view: ~one pose a frame (a searched frame may add the same person once more)
    assert run.candidate_poses <= 1.2 * n


def test_every_frame_detector_one_person_is_identical(model_path, sample_clip):
    """num_poses=2 with one person: MediaPipe re-detects every frame, so nothing depends on history."""
    path = sample_clip("tfjs_pose_squats.mp4")
    seq = extract_track(path, model_path, DETECTOR)
    run = run_parallel(path, model_path, DETECTOR, workers=2, min_segment_frames=20)
    assert_same_frames(run.track, seq, 65)
    np.testing.assert_array_equal(run.track.image, seq.image)
    np.testing.assert_array_equal(run.track.world, seq.world)
    assert_candidates_stored_as_found(run)


def test_landmarks_are_float32_values(model_path, sample_clip):
    """Why the candidates may be stored in float32 and stay bit-identical: every value MediaPipe returns
    (image x, y, z, visibility, presence; world x, y, z) is a float32 value, in both modes."""
    frames, _ = decode_all(sample_clip("tfjs_pose_squats.mp4"))
    seen = 0
    with PoseEstimator(model_path, mode="video", num_poses=2) as video, \
            PoseEstimator(model_path, mode="image", num_poses=2) as image:
        for f in frames[:20]:
            for poses in (video.process(f.rgb, f.timestamp_ms), image.process(f.rgb)):
                for arr in (poses.image, poses.world):
                    assert arr.dtype == np.float64
                    np.testing.assert_array_equal(arr.astype(CANDIDATE_DTYPE).astype(np.float64), arr)
                seen += len(poses)
    assert seen >= 30
    assert not np.array_equal(np.float64(0.1).astype(CANDIDATE_DTYPE).astype(np.float64), np.float64(0.1)), \
        "a float64 value that is not a float32 one would be caught"


def test_candidate_store_grows_with_the_poses_found():
    rng = np.random.default_rng(0)
    store = CandidateStore(capacity=2)
    per_frame = [1, 0, 3, 1, 2, 1, 1]
    found = []
    for k in per_frame:
        image, world = rng.random((k, 33, 5)), rng.random((k, 33, 3))
        looks = rng.random((k, 128)).astype(np.float32)
        looks[:, 0] = np.nan if k == 2 else looks[:, 0]
        store.append(image.astype(np.float32), world.astype(np.float32), looks if k != 3 else None)
        found.append((image, world, looks if k != 3 else np.full((k, 128), np.nan, np.float32)))
    counts = np.array(per_frame)
    m = len(per_frame)
    raw = RawSegment(5, np.arange(5, 5 + m), np.arange(m) * 33.0, counts, *store.arrays(), np.zeros(m, bool))
    assert raw.image.shape == (sum(per_frame), 33, 5) and raw.image.dtype == CANDIDATE_DTYPE
    for i, (image, world, looks) in enumerate(found):
        rows = raw.rows(i)
        np.testing.assert_array_equal(raw.image[rows], image.astype(np.float32))
        np.testing.assert_array_equal(raw.world[rows], world.astype(np.float32))
        np.testing.assert_array_equal(raw.appearance[rows], looks)
    assert raw.nbytes == sum(per_frame) * POSE_BYTES + m * (8 + 8 + 8 + 1) + (m + 1) * 8


def test_long_clip_through_the_call_site_switch(model_path, long_clip):
    """extract_track_fast on a 320-frame file goes parallel (2 workers) and matches a sequential run."""
    seq = extract_track(long_clip, model_path, TRACKING)
    counted = []
    with open_source(long_clip) as src:
        assert parallel_pays(src.info.n_frames, workers=2)
        par = extract_track_fast(src, model_path, TRACKING, on_progress=counted.append, workers=2)
    assert sum(counted) == 320
    assert_same_frames(par, seq, 320)
    assert_within_tolerance(par, seq)
    assert not np.array_equal(par.image, seq.image), "with tracker state the runs differ slightly: it ran parallel"


def test_subject_followed_across_a_seam(tmp_path, model_path, sample_clip):
    """Two people: the squatting woman (left, 1200 px tall) and the yoga man (right, 720 px, arms
    spread). Standing, she is the larger body and is chosen at frame 0; squatting, the man is: a
    selector started fresh inside a squat takes him. The stitched track must follow her throughout,
    as the sequential run does, although the second segment starts inside a squat."""
    frames, info = decode_all(sample_clip("tfjs_pose_squats.mp4"))
    man = cv2.resize(cv2.cvtColor(cv2.imread(str(sample_clip("tfjs_pose.jpg"))), cv2.COLOR_BGR2RGB), (1080, 720))
    n, width, height, split = len(frames), 1418, 1200, 420

    def compose(rgb):
        canvas = np.full((height, width, 3), 200, np.uint8)
        canvas[:, :split] = cv2.resize(rgb[:, 150:600], (split, height))
        canvas[height - 720:, width - 1080:] = man
        return canvas

    clip = write_lossless(tmp_path / "two.mp4", [compose(f.rgb) for f in frames], [f.timestamp_ms for f in frames])

    def hips_x(track):
        return np.nanmean(track.image[:, [23, 24], 0], axis=1) * width

    seq = extract_track(clip, model_path)
    run = run_parallel(clip, model_path, workers=2, min_segment_frames=20)
    later = run.segments[1]
    naive = extract_track(SegmentSource(clip, later.first, n), model_path)
    assert (seq.n_people == 2).mean() > 0.8
    assert hips_x(naive)[0] > split, "a per-segment selection would switch to the man"
    for track in (seq, run.track):
        assert track.detected.all() and np.all(hips_x(track) < split), "the subject stays the woman"
    assert_same_frames(run.track, seq, n)
    d = np.linalg.norm(run.track.pixels() - seq.pixels(), axis=-1).mean(axis=1)
    assert d.max() / height <= TOLERANCE["landmark_frame_mean"]


def test_damaged_file_falls_back_to_the_sequential_report(tmp_path, model_path, sample_clip):
    fs = tmp_path / "fs.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(sample_clip("tfjs_pose_squats.mp4")),
                    "-c", "copy", "-movflags", "+faststart", str(fs)], check=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fs.read_bytes()[: fs.stat().st_size // 2])
    assert run_parallel(cut, model_path, workers=2, min_segment_frames=20) is None
    with pytest.raises(PartialTrackError) as info:
        extract_track_fast(cut, model_path, workers=2)
    assert 10 < len(info.value.track) < 65 and "of the 65 frames" in str(info.value)


def test_scene_copy_is_what_the_scene_roll_reads_of_a_frame(sample_clip):
    """A segment keeps the grayscale of a frame for the scene roll (a third of the bytes): on real frames
    the sampler finds exactly the segments it finds in the RGB, with and without a person masked; a frame
    the sampler would scale down first is kept as it is."""
    from tests.vision.clips import decode_all
    from vision.parallel import scene_copy
    from vision.scene_roll import MAX_SIDE, frame_segments

    frames, _ = decode_all(sample_clip("tfjs_pose_1.mp4"))
    person = np.array([[200.0 + 3 * k, 100.0 + 12 * k] for k in range(33)])
    for f in frames[::40]:
        kept = scene_copy(f.rgb)
        assert kept.ndim == 2 and kept.nbytes * 3 == f.rgb.nbytes
        whole = frame_segments(f.rgb)
        assert len(whole) > 0
        np.testing.assert_array_equal(frame_segments(kept), whole)
        np.testing.assert_array_equal(frame_segments(kept, person, 500.0), frame_segments(f.rgb, person, 500.0))
    big = np.zeros((MAX_SIDE + 2, 64, 3), np.uint8)
    assert scene_copy(big) is big
