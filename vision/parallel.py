"""One long video on every core: overlapping segments on threads of this process, stitched into one track.

One MediaPipe landmarker keeps about one core busy, so a long file is cut into one segment per core.
Each segment runs on its own thread with its own landmarker (VIDEO mode: contiguous frames, increasing
timestamps, so MediaPipe's tracking is valid inside a segment) and returns the *raw* candidate poses
of every frame (all people, before subject selection and smoothing). Threads, not processes:
``detect_for_video`` releases the GIL (two threads ran 1.90x one, measured), as do FFmpeg's decoding
and OpenCV, so a thread per segment uses every core with one copy of MediaPipe in memory instead of
one per worker process (~300 MB each) and no process start-up. Segment k>0
starts ``overlap`` frames early: MediaPipe begins a segment with its detector where a sequential run
would be tracking, and the lead-in lets the tracker settle. The seam is the frame in the settled part
of the overlap where both sides' candidates agree best; frames before it come from the earlier segment,
frames from it on from the later one.

The stitched raw poses then go through the very same ``stream_poses`` loop as a sequential run (subject
selection and One-Euro smoothing, which are stateful, run once over the whole stitched stream), so the
subject is followed across seams and smoothing has no restarts.

How close to a sequential run (measured in tests/vision/test_parallel.py and bench/parallel.py):
with ``num_poses=2`` and one person in view, MediaPipe re-detects on every frame and
the stitched track is bit-identical to the sequential one. When its tracker carries state (one person
with ``num_poses=1``, or two people in view) every frame after a seam carries the tracker's own
sensitivity to where it started: about 1 px per landmark, findings within about 1 degree with the
same statuses (see ``TOLERANCE``).

Damaged files (packets that do not list every frame, decoding errors) fall back to the sequential
path, which reports how far it got. Ctrl+C stops every segment within one frame (``vision.threads``).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from vision.landmarker import Poses, graph_bundle, preload_mediapipe
from vision.pipeline import PartialTrackError, PipelineSettings, extract_track, make_smoother, stream_poses
from vision.scene_roll import SceneRollSampler
from vision.search import open_search
from vision.segments import FrameTable, SegmentError, SegmentSource, scan_frames
from vision.sources import Frame, FrameSource, SourceInfo, VideoFileSource
from vision.subject import SubjectSelector
from vision.threads import run_threads
from vision.track import N_LANDMARKS, LandmarkTrack, TrackMeta

# Below this many frames a parallel run does not pay on 2 cores. Measured with worker processes
# (bench/parallel.py, quiet 2-core machine: 300 frames 1.49x, 600 frames 1.66x; under load 300 frames
# could drop below 1x); threads start faster (no process, no second MediaPipe import), so this bound
# is conservative for them and has not been re-measured yet.
MIN_PARALLEL_FRAMES = 300
OVERLAP_FRAMES = 12       # lead-in of every later segment; the tracker settles within ~5 frames
SETTLE_FRAMES = 6         # the seam is never placed in the first frames of a lead-in
MIN_SEGMENT_FRAMES = 60   # shorter segments cost more in start-up and overlap than they save
# each segment's thread, and the model threads it starts, on a core of its own (vision.threads.pinned_to):
# 3 % less process CPU on average than threads moving between cores, six loaded pairs (README "Benchmarks")
PIN_SEGMENTS = True

# Parallel vs sequential when MediaPipe's tracker carries state (num_poses=1 on the real clips, 2 and
# 3 segments). Measured maxima in brackets; tests/vision/test_parallel.py asserts these bounds.
TOLERANCE = {
    "landmark_frame_mean": 0.01,  # per frame, mean landmark distance / frame height [0.0063]
    "landmark_p99": 0.01,         # 99th percentile of single-landmark distances / frame height [0.0033]
    "angle_median_deg": 0.5,      # median |difference| of every angle of assessment.angles [0.16]
    "angle_p99_deg": 8.0,         # 99th percentile [5.3]; single frames with an occluded ear or elbow differ more
    "finding_static_deg": 3.0,    # a static finding's value (median over still frames) [1.06]
    "finding_movement_deg": 6.0,  # a movement finding (per-rep ranges: extremes, not medians) [4.1]
}
# Statuses (flagged / within / not measurable) must be identical. For scale: the same sequential run
# started one frame later moves knee_fppa_right by 2.1 deg and elbow_rom_difference by 1.2 deg on the
# 320-frame clip: the tolerance is the model's own sensitivity to where tracking began, not stitching.


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


def parallel_pays(n_frames: int | None, workers: int | None = None) -> bool:
    """True when a file of ``n_frames`` is worth splitting over ``workers`` threads."""
    workers = available_cores() if workers is None else workers
    return workers > 1 and bool(n_frames) and n_frames >= MIN_PARALLEL_FRAMES


def segment_cores(n_segments: int) -> list[int | None]:
    """One core of this process's affinity mask per segment, when there are enough (else None each:
    the threads float). ``PIN_SEGMENTS = False`` turns pinning off."""
    try:
        mask = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        mask = []
    if not PIN_SEGMENTS or n_segments < 2 or len(mask) < n_segments:
        return [None] * n_segments
    return mask[:n_segments]


# ------------------------------------------------------------------------------------------ planning
@dataclass(frozen=True)
class Segment:
    first: int    # first frame decoded and inferred (lead-in included)
    start: int    # nominal start: frames before it belong to the previous segment unless the seam says so
    stop: int     # one past the last frame


def plan_segments(n_frames: int, workers: int, overlap: int = OVERLAP_FRAMES,
                  min_frames: int = MIN_SEGMENT_FRAMES) -> list[Segment]:
    """Equal nominal segments, one per worker (fewer when they would be shorter than ``min_frames``)."""
    k = max(1, min(workers, n_frames // max(min_frames, 1)))
    bounds = np.linspace(0, n_frames, k + 1).round().astype(int)
    return [Segment(max(0, int(a) - overlap) if i else 0, int(a), int(b))
            for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]


# ------------------------------------------------------------------------------------------ segments
# float32 holds MediaPipe's landmarks exactly: they are float32 values in its results (tests/vision/
# test_parallel.py checks it on real output), so candidates stored in float32 and read back as float64
# are bit-identical to the sequential path's, at half the bytes
CANDIDATE_DTYPE = np.float32


class CandidateStore:
    """Candidate poses appended frame by frame, stored as found: no padding to the most poses a frame
    could hold, so the bytes held grow with the poses found (one per frame with one person in view),
    ``POSE_BYTES`` each. Capacity grows by doubling; ``np.empty``'s untouched capacity is never
    written, so the OS does not back it with memory."""

    def __init__(self, capacity: int = 64):
        from vision.identity import APPEARANCE_SIZE

        capacity = max(1, int(capacity))
        self.n = 0
        self.image = np.empty((capacity, N_LANDMARKS, 5), CANDIDATE_DTYPE)
        self.world = np.empty((capacity, N_LANDMARKS, 3), CANDIDATE_DTYPE)
        self.appearance = np.empty((capacity, APPEARANCE_SIZE), np.float32)

    def append(self, image: np.ndarray, world: np.ndarray, appearance: np.ndarray | None) -> None:
        k = len(image)
        if self.n + k > len(self.image):
            grow = max(2 * len(self.image), self.n + k)
            for name in ("image", "world", "appearance"):
                old = getattr(self, name)
                new = np.empty((grow, *old.shape[1:]), old.dtype)
                new[:self.n] = old[:self.n]
                setattr(self, name, new)
        rows = slice(self.n, self.n + k)
        self.image[rows], self.world[rows] = image, world
        self.appearance[rows] = np.nan if appearance is None else appearance
        self.n += k

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.image[:self.n], self.world[:self.n], self.appearance[:self.n]


def _pose_bytes() -> int:
    from vision.identity import APPEARANCE_SIZE

    return N_LANDMARKS * (5 + 3) * np.dtype(CANDIDATE_DTYPE).itemsize + APPEARANCE_SIZE * 4


POSE_BYTES = _pose_bytes()   # one stored candidate: image (33,5) + world (33,3) + appearance (128,)


@dataclass
class RawSegment:
    """A segment's output: every candidate pose of frames ``[first, first + len)`` as found (all people,
    before selection). Frame ``i``'s ``counts[i]`` poses are rows ``rows(i)`` of ``image`` (K,33,5),
    ``world`` (K,33,3) and ``appearance`` (K,D), K = the poses found in the segment."""

    first: int
    frame_index: np.ndarray   # (M,)
    timestamp_ms: np.ndarray  # (M,)
    counts: np.ndarray        # (M,) poses found
    image: np.ndarray         # (K,33,5) CANDIDATE_DTYPE
    world: np.ndarray         # (K,33,3) CANDIDATE_DTYPE
    appearance: np.ndarray    # (K,D) torso colour histograms (vision.identity)
    searched: np.ndarray      # (M,) bool: everybody was looked for in that frame (vision.search)
    error: str | None = None
    scene_frames: dict[int, np.ndarray] = field(default_factory=dict)  # frame index -> image kept for scene roll (scene_copy)
    searches: int = 0         # frames a search model ran on (vision.search), lead-in included

    def __post_init__(self) -> None:
        self.offsets = np.concatenate([[0], np.cumsum(self.counts, dtype=np.int64)])   # (M+1,) first row of each frame

    def rows(self, i: int) -> slice:
        """Frame ``first + i``'s rows of the pose arrays."""
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))

    @property
    def nbytes(self) -> int:
        """Bytes the stored candidates and their per-frame records hold."""
        return sum(a.nbytes for a in (self.frame_index, self.timestamp_ms, self.counts, self.image, self.world,
                                      self.appearance, self.searched, self.offsets))

    @classmethod
    def failed(cls, first: int, error: str) -> "RawSegment":
        empty = np.zeros((0,))
        return cls(first, empty, empty, np.zeros(0, dtype=np.int64), empty, empty, empty, empty, error)


@dataclass(frozen=True)
class SegmentJob:
    path: str
    segment: Segment
    table: FrameTable
    info: SourceInfo
    model_path: str
    settings: PipelineSettings
    scene_frames: frozenset[int] = frozenset()   # frames whose RGB the scene-roll sampler will want
    search: object | None = None                 # the run's shared person detector (vision.search)
    core: int | None = None                      # the core this segment's thread and model run on (None: any)


def run_segment(job: SegmentJob, stop: threading.Event | None = None,
                progress: Callable[[int], None] | None = None) -> RawSegment:
    """Decode the segment and run one fresh landmarker over it (no selection, no smoothing), on
    ``job.core`` when given.

    ``progress(n)`` is told of frames done (lead-ins excluded); when ``stop`` is set the segment ends
    after the frame in hand, with an error saying so."""
    from vision.threads import pinned_to

    if stop is not None and stop.is_set():
        return RawSegment.failed(job.segment.first, "stopped")
    # pinned before the landmarker is created: its graph threads inherit the core
    with pinned_to(job.core):
        return _run_segment(job, stop, progress)


def _run_segment(job: SegmentJob, stop: threading.Event | None,
                 progress: Callable[[int], None] | None) -> RawSegment:
    from vision.search import open_estimator
    from vision.threads import Prefetcher

    s, seg = job.settings, job.segment
    m = seg.stop - seg.first
    store = CandidateStore(capacity=m)     # one pose a frame fits without growing
    searched = np.zeros(m, dtype=bool)
    counts = np.zeros(m, dtype=np.int64)
    index = np.full(m, -1, dtype=np.int64)
    ts = np.full(m, np.nan)
    done = pending = 0
    error = None
    kept: dict[int, np.ndarray] = {}
    est = None
    try:
        # decoding starts before the model loads: the seek, the frames from the keyframe up to the
        # segment's first (dropped undecoded to RGB) and the first frames are done during the load
        with SegmentSource(job.path, seg.first, seg.stop, job.table, job.info) as src, \
                Prefetcher(iter(src), s.prefetch) as frames, \
                open_estimator(job.model_path, s, search=job.search) as est:
            p = est.max_poses
            for i, frame in enumerate(frames):
                if stop is not None and stop.is_set():
                    error = "stopped"
                    break
                poses = est.process(frame.rgb, frame.timestamp_ms, frame.index)
                n = min(len(poses), p)
                store.append(poses.image[:n], poses.world[:n],
                             None if poses.appearance is None else poses.appearance[:n])
                counts[i], searched[i] = n, poses.searched
                index[i], ts[i] = frame.index, frame.timestamp_ms
                if frame.index in job.scene_frames and frame.index >= seg.start:
                    kept[frame.index] = scene_copy(frame.rgb)
                done = i + 1
                pending += frame.index >= seg.start    # lead-in frames are not counted: totals add up to N
                if progress is not None and pending >= 10:
                    progress(pending)
                    pending = 0
            if progress is not None and pending:
                progress(pending)
            if src.error is not None and error is None:
                error = str(src.error)
    except SegmentError as exc:
        error = str(exc)
    if error is None and done != m:
        error = f"segment [{seg.first}, {seg.stop}) gave {done} frames"
    return RawSegment(seg.first, index[:done], ts[:done], counts[:done], *store.arrays(), searched[:done], error,
                      kept, getattr(est, "searches", 0) if est is not None else 0)


def scene_copy(rgb: np.ndarray) -> np.ndarray:
    """What a segment keeps of a frame for the scene-roll sampler until its pose is final: the grayscale
    image ``frame_segments`` makes of it (a third of the bytes: up to 12 frames are held while the first
    segment runs, 8 MB less at 576x576), or the RGB itself when ``frame_segments`` would first scale it down."""
    import cv2

    from vision.scene_roll import MAX_SIDE

    if max(rgb.shape[:2]) > MAX_SIDE:
        return rgb
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


# ------------------------------------------------------------------------------------------ stitching
@dataclass(frozen=True)
class Seam:
    frame: int            # first frame taken from the later segment
    disagreement_px: float  # candidates' mean landmark distance there (0 = identical)
    window: tuple[int, int]  # frames the seam could be placed in


def frame_size(width: int, height: int) -> np.ndarray:
    return np.array([width, height], dtype=np.float64)


def disagreement_px(a_img: np.ndarray, a_n: int, b_img: np.ndarray, b_n: int, size: np.ndarray) -> float:
    """How far two candidate sets of one frame are apart: inf when they disagree on the number of
    people, else the worst over A of the mean landmark distance (px) to its nearest candidate in B."""
    if a_n != b_n:
        return float("inf")
    if a_n == 0:
        return 0.0
    a = a_img[:a_n, :, :2] * size
    b = b_img[:b_n, :, :2] * size
    d = np.linalg.norm(a[:, None] - b[None], axis=-1).mean(axis=-1)   # (a_n, b_n)
    return float(d.min(axis=1).max())


def place_seam(part: RawSegment, nxt: RawSegment, nseg: Segment, size: np.ndarray) -> Seam:
    """The seam between ``part`` and the later ``nxt`` (segment ``nseg``): the latest frame of the
    settled overlap where both sides' candidates agree best."""
    window = range(earliest_seam(nseg), nseg.start + 1)   # seam == start: the later side is used from start on
    scores = []
    for f in window:
        if f == nseg.start:
            scores.append(np.inf)               # no overlap left to compare; chosen only if nothing agrees
            continue
        i, j = f - part.first, f - nxt.first
        scores.append(disagreement_px(part.image[part.rows(i)], part.counts[i],
                                      nxt.image[nxt.rows(j)], nxt.counts[j], size))
    scores_arr = np.asarray(scores)
    best = len(scores_arr) - 1 - int(np.argmin(scores_arr[::-1]))  # latest of the best: most settled
    return Seam(window[best], float(scores_arr[best]), (window[0], window[-1]))


def earliest_seam(seg: Segment) -> int:
    """The first frame a seam before ``seg`` can be placed at: frames before it always come from the
    earlier segment, whatever the candidates say."""
    return min(seg.first + SETTLE_FRAMES, seg.start)


def stitch(parts: list[RawSegment], segments: list[Segment], width: int, height: int
           ) -> tuple[RawSegment, list[Seam]]:
    """One raw stream from overlapping segment outputs, each seam where both sides agree best."""
    size = frame_size(width, height)
    seams = [place_seam(parts[k], parts[k + 1], segments[k + 1], size) for k in range(len(parts) - 1)]
    return join_at_seams(parts, segments, seams), seams


def join_at_seams(parts: list[RawSegment], segments: list[Segment], seams: list[Seam]) -> RawSegment:
    """The segment outputs cut at ``seams`` (one between each two segments) and joined into one stream."""
    bounds = [0, *(seam.frame for seam in seams), segments[-1].stop]

    def cut(name: str, part: RawSegment, a: int, b: int) -> np.ndarray:
        arr = getattr(part, name)
        if name in ("image", "world", "appearance"):    # pose rows of frames [a, b)
            return arr[part.offsets[a - part.first]:part.offsets[b - part.first]]
        return arr[a - part.first:b - part.first]

    return RawSegment(
        0,
        *(np.concatenate([cut(name, p, a, b) for p, a, b in zip(parts, bounds[:-1], bounds[1:])])
          for name in ("frame_index", "timestamp_ms", "counts", "image", "world", "appearance", "searched")))


# ------------------------------------------------------------------------------------------ replay
class _Replay:
    """Subject selection and smoothing over the stitched stream, fed piece by piece as segments end.

    The selector and the smoother are stateful and run once, in frame order, over the whole stream
    (the sequential per-frame loop, ``stream_poses``). They need not wait for the last segment: when
    segments ``0..k`` have ended, every frame before the earliest possible seam of segment ``k + 1``
    (``earliest_seam``) is known to come from them (``feed_finished``), so it is replayed then, on the
    core the early finisher freed, while later segments still run. The poses, and so the track, are the
    ones a replay of the fully stitched stream gives (tests/vision/test_parallel.py compares them). The
    scene-roll sampler sees each of its frames as its pose is replayed: the frame the segments kept and
    that pose, what it saw from the finished track before, in the same order."""

    live = False

    def __init__(self, info: SourceInfo, settings: PipelineSettings, segments: list[Segment],
                 scene: SceneRollSampler | None = None):
        self.info, self.segments, self.scene = info, segments, scene
        self._kept: dict[int, np.ndarray] = {}      # frame index -> RGB kept for the scene roll
        self.selector = SubjectSelector()
        self.poses: list = []
        self.seams: list[Seam] = []
        self._size = frame_size(info.width, info.height)
        self._ended = 0                              # segments fed so far
        self._last: RawSegment | None = None         # the last one fed, until its seam with the next is placed
        self._next: tuple[RawSegment, int] = (None, -1)   # (part, frame) stream_poses reads next
        self._stream = stream_poses(self, self, self.selector, make_smoother(settings), prefetch=0)

    @property
    def frames(self) -> int:
        return len(self.poses)

    def feed_finished(self, k: int, part: RawSegment) -> None:
        """Segment ``k`` ended (every earlier one already fed): place the seam before it, replay the
        earlier segment's frames up to that seam and this one's up to the next earliest seam."""
        if part.error or k != self._ended:
            return                                   # the run is abandoned (run_parallel returns None)
        self._ended += 1
        self._kept.update(part.scene_frames)
        if k:
            seam = place_seam(self._last, part, self.segments[k], self._size)
            self.seams.append(seam)
            self._replay(self._last, seam.frame)
        last = k + 1 == len(self.segments)
        self._replay(part, self.segments[k].stop if last else earliest_seam(self.segments[k + 1]))
        self._last = None if last else part          # nothing kept once the stream is complete

    def _replay(self, part: RawSegment, stop: int) -> None:
        for f in range(self.frames, stop):
            self._next = (part, f)
            pose = next(self._stream)[1]
            self.poses.append(pose)
            rgb = self._kept.pop(f, None)
            if rgb is not None and self.scene is not None:
                self.scene.sample(rgb, pose.image if np.isfinite(pose.image[0, 0]) else None)

    # stream_poses' source ...
    def __iter__(self) -> Iterator[Frame]:
        empty = np.zeros((0, 0, 3), dtype=np.uint8)
        while True:                                  # pulled once per frame handed in (_replay)
            part, f = self._next
            i = f - part.first
            yield Frame(int(part.frame_index[i]), float(part.timestamp_ms[i]), empty)

    # ... and its estimator: the segment's candidates, as the landmarker would have returned them
    def process(self, rgb: np.ndarray, timestamp_ms: float) -> Poses:
        part, f = self._next
        i = f - part.first
        rows = part.rows(i)
        # float64 again, as the landmarker returns them (exact: see CANDIDATE_DTYPE)
        return Poses(part.image[rows].astype(np.float64), part.world[rows].astype(np.float64),
                     part.appearance[rows], bool(part.searched[i]))


# ------------------------------------------------------------------------------------------ public API
@dataclass
class ParallelRun:
    track: LandmarkTrack
    segments: list[Segment]
    seams: list[Seam]
    search_calls: int = 0     # frames a search model ran on, every segment's lead-in included (counted at the model)
    candidate_poses: int = 0  # candidate poses the stitched stream held (every person found, each frame)
    candidate_bytes: int = 0  # bytes that stream held (RawSegment.nbytes): ~POSE_BYTES per pose found


def run_parallel(path: str | os.PathLike, model_path: str | os.PathLike,
                 settings: PipelineSettings = PipelineSettings(), workers: int | None = None,
                 overlap: int = OVERLAP_FRAMES, min_segment_frames: int = MIN_SEGMENT_FRAMES,
                 on_progress: Callable[[int], None] | None = None,
                 on_poses: Callable[[list, int], None] | None = None) -> ParallelRun | None:
    """Segment, run and stitch ``path``; None when the file must be read sequentially instead
    (frames cannot be listed from its packets, or a segment failed to decode).

    ``on_poses(poses, n)`` is handed the final poses (``PoseFrame``, the track's rows) of the frames after
    those handed before, in frame order, as soon as they are final: each time a segment ends with every
    earlier one (``_Replay``), on the calling thread, while later segments may still run; ``n`` is the
    number of frames of the whole track. Why: a consumer (the annotated video's first part, the hold
    monitor) can start on the core the first segment to end frees, instead of after the last. When the
    run then returns None, the poses handed over were of a run that is abandoned."""
    path = Path(path)
    table = scan_frames(path)
    if table is None:
        return None
    with VideoFileSource(path) as probe:
        info = probe.info
    workers = available_cores() if workers is None else max(1, int(workers))
    segments = plan_segments(len(table), workers, overlap, min_segment_frames)
    scene = SceneRollSampler(info.width, info.height, info.n_frames or len(table), info.fps) if settings.scene_roll else None
    wanted = frozenset(scene.sample_indices(len(table))) if scene is not None else frozenset()
    # MediaPipe imported and loaded here, before the segment threads start (the search no longer loads a
    # MediaPipe graph first): see vision.landmarker.preload_mediapipe
    preload_mediapipe()
    # the file the segments' graphs load, found (made, on first use) once, before they start
    graph_bundle(model_path)
    # subject selection and smoothing of each finished prefix while later segments still run
    replay = _Replay(info, settings, segments, scene)
    n_frames = len(table)

    def finished(k: int, part: RawSegment) -> None:
        before = replay.frames
        replay.feed_finished(k, part)
        if on_poses is not None and replay.frames > before:
            on_poses(replay.poses[before:], n_frames)

    # one person detector (vision.person_detector, locked) serves every segment: one model, not one per
    # segment, loading on its own thread while the segments load their landmarkers (vision.search.SharedDetector)
    with open_search(model_path, settings) as search:
        cores = segment_cores(len(segments))
        jobs = [SegmentJob(str(path), seg, table, info, str(model_path), settings, wanted, search, core)
                for seg, core in zip(segments, cores)]
        # one thread per segment; Ctrl+C stops them all within a frame and is re-raised here
        try:
            parts = run_threads([lambda stop, progress, job=job: run_segment(job, stop, progress) for job in jobs],
                                "segment", on_progress, on_result=finished)
        except Exception:
            if search is not None:
                search.raise_load_error()   # the detector's own error first, as when it loaded before the segments
            raise
    if any(p.error for p in parts):
        return None
    # the stream at the seams the replay placed (and used): every frame exactly once, and its size
    raw = join_at_seams(parts, segments, replay.seams)
    if not np.array_equal(raw.frame_index, np.arange(len(table))) or replay.frames != len(table):
        return None     # never expected: stitching must give every frame exactly once
    searches = sum(p.searches for p in parts)
    del parts           # the segments' own copies, before the track is built
    track = _select_and_smooth(replay, path, model_path, settings)
    return ParallelRun(track, segments, replay.seams, searches, int(raw.offsets[-1]), raw.nbytes)


def _select_and_smooth(replay: _Replay, path: Path, model_path, settings: PipelineSettings) -> LandmarkTrack:
    """The track of the replayed stream (subject selection and smoothing once over the stitched stream,
    and the scene roll from the frames the segments kept, with the final poses: ``_Replay``)."""
    info, selector, scene = replay.info, replay.selector, replay.scene
    meta = TrackMeta(source=str(path), fps=info.fps, width=info.width, height=info.height,
                     rotation=info.rotation, model=str(model_path),
                     smoothing={"filter": settings.smoothing, **settings.smoothing_params},
                     **selector.meta())
    if scene is not None:
        meta = meta.replace(scene_roll=scene.result())
    return LandmarkTrack.from_frames(replay.poses, meta)


def extract_track_parallel(path: str | os.PathLike, model_path: str | os.PathLike,
                           settings: PipelineSettings = PipelineSettings(), workers: int | None = None,
                           on_progress: Callable[[int], None] | None = None) -> LandmarkTrack:
    """``extract_track`` for a video file on every core; falls back to it for damaged files."""
    run = run_parallel(path, model_path, settings, workers, on_progress=on_progress)
    if run is not None:
        return run.track
    return extract_track(path, model_path, settings, on_frame=_progress_per_frame(on_progress))


def extract_track_fast(source: str | os.PathLike | FrameSource, model_path: str | os.PathLike,
                       settings: PipelineSettings = PipelineSettings(),
                       on_frame: Callable | None = None, on_progress: Callable[[int], None] | None = None,
                       workers: int | None = None) -> LandmarkTrack:
    """The call sites' switch: parallel where it pays, else ``extract_track`` exactly as before.

    Parallel needs a video file, enough frames (``parallel_pays``) and no ``on_frame`` consumer (a
    consumer of decoded frames, e.g. drawing an annotated video, needs them in order, as they are
    made). ``on_progress(n)`` is told of every ``n`` frames done on either path.
    """
    if isinstance(source, FrameSource):
        src = source
        path = getattr(source, "path", None) if isinstance(source, VideoFileSource) else None
    else:
        src, path = None, Path(source)
    if path is not None and on_frame is None and (src is None or isinstance(src, VideoFileSource)):
        n_frames = src.info.n_frames if src is not None else None
        if n_frames is None:
            table = scan_frames(path)
            n_frames = len(table) if table is not None else None
        if parallel_pays(n_frames, workers):
            run = run_parallel(path, model_path, settings, workers, on_progress=on_progress)
            if run is not None:
                return run.track
    if on_frame is None and on_progress is not None:
        on_frame = _progress_per_frame(on_progress)
    elif on_progress is not None:
        user = on_frame

        def on_frame(frame, pose):  # noqa: F811 - both callbacks, in order
            user(frame, pose)
            on_progress(1)
    return extract_track(source, model_path, settings, on_frame=on_frame)


def _progress_per_frame(on_progress: Callable[[int], None] | None):
    return None if on_progress is None else (lambda frame, pose: on_progress(1))


__all__ = ["MIN_PARALLEL_FRAMES", "TOLERANCE", "ParallelRun", "PartialTrackError", "Seam", "Segment",
           "available_cores", "extract_track_fast", "extract_track_parallel", "parallel_pays",
           "plan_segments", "run_parallel", "stitch"]
