"""An annotated video drawn from a finished track, on every core, joined without re-encoding.

Why after the track: on the parallel path subject selection and smoothing run once over the stitched
stream (``vision.parallel``), so only then is each frame's final pose known; drawing it then makes the
video show exactly the track the other outputs hold. The frames are cut into one contiguous part per
core; each part runs on a thread of this process (decoding, drawing and encoding release the GIL, see
``vision.threads.run_threads``) that decodes its part with ``SegmentSource`` (the same frames, indices and
timestamps as a full decode), draws, and encodes it with ``AnnotatedVideoWriter``'s settings. The writer
makes no B-frames, so every part starts with a keyframe and its packets are in presentation order with
absolute timestamps: ``join_parts`` copies them into one MP4 as they are (no second encode).

``draw`` is a module-level function ``draw(rgb, index, timestamp_ms, payload)`` that draws in place;
``payloads[i]`` is what it needs for frame ``i`` (a pose, a hold status). Payloads that are made one
by one in frame order (the hold monitor's statuses, ~1 ms a frame on one core) come as a
``PayloadStream``: its producer runs on a thread next to the parts, which draw each frame as soon as
its payload exists, instead of the whole list being made first while the other core waits.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from vision.drawing import AnnotatedVideoWriter, draw_label, draw_pose
from vision.segments import FrameTable, SegmentError, SegmentSource, scan_frames
from vision.sources import SourceInfo, VideoFileSource
from vision.threads import STOP_WAIT_S, run_threads

DrawFn = Callable[[np.ndarray, int, float, Any], None]


@dataclass(frozen=True)
class PartJob:
    path: str
    first: int
    stop: int
    table: FrameTable
    info: SourceInfo
    out: str
    draw: DrawFn
    payloads: Iterable[Any]   # one per frame of [first, stop), in order


class RenderStopped(Exception):
    """The render was stopped (Ctrl+C) before this part was finished."""


class PayloadStream:
    """``n`` payloads in frame order, read while they are made: ``stream[a:b]`` iterates payloads
    ``a..b-1``, each one waiting until it is made. Each payload is read once (by the part that draws
    it, or the producer that turns it into that part's payload) and let go then, so the stream does not
    hold a clip's worth of poses or statuses while the render runs.

    Either ``items`` yields them, on a thread of the render (``render_video`` runs ``produce``), or,
    without ``items``, another thread hands them over one by one with ``put`` and then calls ``end``
    (``BackgroundRender``)."""

    def __init__(self, n: int, items: Iterator[Any] | None = None, lead: float = 0.0):
        self.n = n
        self.lead = lead        # a payload's cost as a share of a frame's drawing (``plan_parts``)
        self._items = items
        self._made: list[Any] = []
        self._waiting: list[int] = []     # the payload each waiting reader waits for
        self._ended = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, part: slice) -> Iterator[Any]:
        first, stop, _ = part.indices(self.n)
        return self._wait_for(first, stop)

    @property
    def made(self) -> int:
        return len(self._made)

    @property
    def pushed(self) -> bool:
        """Made by ``put`` (no producer of its own for the render to run)."""
        return self._items is None

    def put(self, item: Any) -> None:
        """The next payload (push mode)."""
        with self._cond:
            if len(self._made) >= self.n:
                raise ValueError(f"more than {self.n} payloads")
            self._append(item)

    def _append(self, item: Any) -> None:
        """Under the lock: add ``item``, and wake the readers only when one waits for it (a part waiting
        for a payload far ahead is not woken by each one before it)."""
        self._made.append(item)
        if self._waiting and min(self._waiting) < len(self._made):
            self._waiting = [w for w in self._waiting if w >= len(self._made)]   # woken: no longer waiting
            self._cond.notify_all()

    def end(self, error: BaseException | None = None) -> None:
        """No more payloads: the readers of any not made raise ``error`` (default ``RenderStopped``)."""
        with self._cond:
            if error is not None and self._error is None:
                self._error = error
            self._ended = True
            self._cond.notify_all()

    def produce(self, stop: threading.Event, progress: Callable[[int], None] | None = None) -> int:
        """Make every payload (a ``run_threads`` work item); ends early when ``stop`` is set. Its error
        (or too few or too many payloads) is also what the parts waiting for a payload raise."""
        try:
            for item in self._items:
                if stop.is_set():
                    break
                with self._cond:
                    self._append(item)
            else:
                if len(self._made) != self.n:
                    raise ValueError(f"{len(self._made)} payloads made for {self.n} frames")
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()
        return len(self._made)

    def _wait_for(self, first: int, stop: int) -> Iterator[Any]:
        for i in range(first, stop):
            with self._cond:
                if len(self._made) <= i and not self._ended:
                    self._waiting.append(i)
                    try:
                        while len(self._made) <= i and not self._ended:
                            self._cond.wait()
                    finally:
                        if i in self._waiting:        # not already taken off by the put that woke it
                            self._waiting.remove(i)
                if len(self._made) <= i:
                    raise self._error if self._error is not None else RenderStopped(f"payload {i} was never made")
                item, self._made[i] = self._made[i], None     # read once: let it go
            yield item


def render_part(job: PartJob, stop: threading.Event | None = None,
                progress: Callable[[int], None] | None = None) -> int:
    """Decode frames [first, stop), draw each, encode them to ``job.out``; frames written. Tells
    ``progress`` of every 10 frames; ends early (``RenderStopped``) when ``stop`` is set."""
    pending = 0
    with SegmentSource(job.path, job.first, job.stop, job.table, job.info) as src, \
            AnnotatedVideoWriter(job.out, job.info.width, job.info.height, job.info.fps) as writer:
        for frame, payload in zip(src, job.payloads):
            if stop is not None and stop.is_set():
                raise RenderStopped(job.out)
            rgb = frame.rgb if frame.rgb.flags.writeable else frame.rgb.copy()
            job.draw(rgb, frame.index, frame.timestamp_ms, payload)
            writer.write(rgb, frame.timestamp_ms)
            pending += 1
            if progress is not None and pending >= 10:
                progress(pending)
                pending = 0
        if progress is not None and pending:
            progress(pending)
        if src.error is not None:
            raise src.error
        if writer.frames_written != job.stop - job.first:
            raise SegmentError(f"{job.path}: part [{job.first}, {job.stop}) gave {writer.frames_written} frames")
    return job.stop - job.first


def join_parts(parts: Sequence[Path], out: Path) -> Path:
    """Copy the parts' H.264 packets, in order, into one MP4 (index first for browsers); no re-encode."""
    import av

    out = Path(out)
    tmp = out.with_name(out.name + ".partial.mp4")
    try:
        with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as dst:
            stream = None
            for part in parts:
                with av.open(str(part)) as src:
                    video = src.streams.video[0]
                    if stream is None:
                        stream = dst.add_stream_from_template(video)
                    for packet in src.demux(video):
                        if packet.dts is None:        # the demuxer's empty flush packet
                            continue
                        packet.stream = stream
                        dst.mux(packet)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def plan_parts(n_frames: int, workers: int, min_frames: int = 60, lead: float = 0.0) -> list[tuple[int, int]]:
    """Contiguous [first, stop) ranges, one per worker (fewer when parts would be tiny).

    ``lead``: what making one payload costs, as a share of what drawing one frame costs, when the payloads
    are made one by one in frame order beside the parts (a ``PayloadStream`` with a producer). The last
    part waits longest for its first payload, and the producer's work shares a core with the parts: the
    work is split evenly over the cores with all of the producer's counted against the last part, so the
    earlier parts get more frames and every core ends at about the same time. 0: equal parts."""
    k = max(1, min(workers, n_frames // max(min_frames, 1)))
    lead = max(0.0, float(lead))
    share = n_frames * (1.0 + lead) / k                   # frames' worth of work per core
    last = max(min_frames, share - n_frames * lead) if k > 1 else n_frames
    bounds = np.linspace(0, n_frames - last, k).round().astype(int).tolist() + [n_frames] if k > 1 else [0, n_frames]
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def parts_after_prefix(prefix: int, n_frames: int, workers: int, lead: float = 0.0) -> list[tuple[int, int]]:
    """One part for the first ``prefix`` frames (those whose payloads exist while the rest are still being
    made: the first segment's, ``vision.parallel``), the rest split over every worker (``plan_parts``)."""
    if not 0 < prefix < n_frames:
        return plan_parts(n_frames, workers, lead=lead)
    return [(0, prefix)] + [(prefix + a, prefix + b) for a, b in plan_parts(n_frames - prefix, workers, lead=lead)]


def render_video(path: str | os.PathLike, out: str | os.PathLike, payloads: Sequence[Any] | PayloadStream,
                 draw: DrawFn, workers: int, table: FrameTable | None = None, info: SourceInfo | None = None,
                 on_progress: Callable[[int], None] | None = None, stop: threading.Event | None = None,
                 parts: Sequence[tuple[int, int]] | None = None) -> Path:
    """Draw ``payloads`` over every frame of the video file ``path`` into ``out`` (H.264 MP4), in
    ``workers`` parts on as many threads (and a ``PayloadStream``'s producer on one more). Raises
    ``SegmentError`` when the file's frames cannot be listed. Setting ``stop`` (from another thread)
    ends the parts within a frame (``RenderStopped``), as Ctrl+C on the calling thread does. ``parts``:
    the contiguous [first, stop) ranges to draw on a thread each (default ``plan_parts``)."""
    path, out = Path(path), Path(out)
    table = table if table is not None else scan_frames(path)
    if table is None:
        raise SegmentError(f"{path}: its frames cannot be listed for a partial decode.")
    if len(payloads) != len(table):
        raise ValueError(f"{len(payloads)} payloads for the {len(table)} frames of {path}")
    if info is None:
        with VideoFileSource(path) as probe:
            info = probe.info
    out.parent.mkdir(parents=True, exist_ok=True)
    # a producer beside the parts (its own, or the thread pushing a stream): the last part waits for it (plan_parts)
    lead = payloads.lead if isinstance(payloads, PayloadStream) else 0.0
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.parts-", dir=out.parent))
    try:
        jobs = [PartJob(str(path), a, b, table, info, str(scratch / f"part{k:03d}.mp4"), draw, payloads[a:b])
                for k, (a, b) in enumerate(parts if parts is not None else plan_parts(len(table), workers, lead=lead))]
        firsts, stops = [j.first for j in jobs], [j.stop for j in jobs]
        if firsts != [0, *stops[:-1]] or stops[-1] != len(table) or any(a >= b for a, b in zip(firsts, stops)):
            raise ValueError(f"parts {[(j.first, j.stop) for j in jobs]} do not cover the {len(table)} frames in order")
        # one thread per part; Ctrl+C stops them within a frame and is re-raised here; a part's error too
        work = [lambda own, progress, job=job: render_part(job, _Either(own, stop), progress) for job in jobs]
        if isinstance(payloads, PayloadStream) and not payloads.pushed:
            # its error or a stop ends the parts waiting for payloads
            work.append(lambda own, progress: payloads.produce(_Either(own, stop), progress))
        run_threads(work, "render", on_progress)
        return join_parts([Path(j.out) for j in jobs], out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class _Either:
    """Set when either event is (``None`` counts as never set)."""

    def __init__(self, a: threading.Event, b: threading.Event | None):
        self._a, self._b = a, b

    def is_set(self) -> bool:
        return self._a.is_set() or (self._b is not None and self._b.is_set())


class BackgroundRender:
    """``render_video`` on a thread of its own, its payloads handed over with the function ``start``
    returns (a ``PayloadStream`` being ``put``), so the caller writes its other outputs while the parts
    draw; ``wait`` ends it. Why: on 2 cores, writing the track's files before or after the render left
    one core idle. Handing it each pose while the parallel run's replay still made them was tried and not
    kept: the replay and the parts then share the GIL and the tail took longer (README "Speed"). What is
    kept: the poses of a finished prefix handed over at once, when the first segment ends
    (``vision.landmarks_job``), so the first part draws on the core that segment freed.
    A context manager: leaving it by an error or Ctrl+C stops the render within a frame and leaves no
    video, no partial file and no parts (what ``render_video`` leaves when it is stopped)."""

    def __init__(self, path: str | os.PathLike, out: str | os.PathLike, draw: DrawFn, workers: int,
                 info: SourceInfo | None = None, lead: float = 0.0):
        self._args = (path, out, draw, workers, info)
        self._lead = lead     # making a payload's cost, as a share of drawing a frame (``plan_parts``)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._poses: PayloadStream | None = None
        self._parts: Sequence[tuple[int, int]] | None = None
        self._result: Path | None = None
        self._error: BaseException | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self, n: int, parts: Sequence[tuple[int, int]] | None = None) -> Callable[[Any], None]:
        """The function each of the ``n`` frames' payloads is handed to, in frame order; the render's
        threads start with the first one. ``parts``: as ``render_video``'s."""
        self._poses = PayloadStream(n, lead=self._lead)
        self._parts = parts
        return self._put

    def put_final(self, payloads: Iterable[Any], count: int, n: int) -> None:
        """``run_parallel``'s ``on_poses`` for a render: the payloads of the next ``count`` of the ``n``
        frames, final. The first call starts the render with its frames as a part of their own and the
        rest split over every worker (``parts_after_prefix``): the first segment's frames draw on the core
        that segment freed while the last still runs. ``payloads`` may be a generator (e.g. the hold
        monitor's statuses), drawn as it yields."""
        if self._poses is None:
            self.start(n, parts_after_prefix(count, n, self._args[3], self._lead))
        for payload in payloads:
            self._put(payload)

    def _put(self, pose: Any) -> None:
        if self._thread is None:
            self._begin()
        self._poses.put(pose)

    def _begin(self) -> None:
        path, out, draw, workers, info = self._args
        payloads = self._poses

        def body() -> None:
            try:
                self._result = render_video(path, out, payloads, draw, workers=workers, info=info, stop=self._stop,
                                            parts=self._parts)
            except BaseException as exc:     # re-raised by wait()
                self._error = exc

        self._thread = threading.Thread(target=body, name="isb-render-bg", daemon=True)
        self._thread.start()

    def wait(self, poll_s: float = 0.2) -> Path:
        """The video, once every part is joined; the render's error if it failed. Ctrl+C while waiting
        stops it (``__exit__``)."""
        if self._thread is None:
            raise RuntimeError("the render was never started")
        self._poses.end(ValueError(f"the render was given {self._poses.made} poses for {self._poses.n} frames"))
        while self._thread.is_alive():
            self._thread.join(poll_s)
        if self._error is not None:
            raise self._error
        return self._result

    def cancel(self) -> None:
        """Stop the render, if it started, and wait for it: no video, no parts (as when left by an error)."""
        if self._thread is not None:
            self._stop.set()
            self._poses.end(RenderStopped("the render was cancelled"))
            self._thread.join()
            self._thread = None

    def __enter__(self) -> "BackgroundRender":
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        if self._thread is None or not self._thread.is_alive():
            return
        self._stop.set()
        self._poses.end(RenderStopped("the render was stopped"))
        self._thread.join(None if exc_type is None else STOP_WAIT_S + 1.0)


def draw_track_frame(rgb: np.ndarray, index: int, timestamp_ms: float, image_landmarks: np.ndarray) -> None:
    """The ``landmarks`` video: the subject's skeleton, frame number and time ("no person" in a gap)."""
    detected = bool(np.isfinite(image_landmarks[0, 0]))   # PoseFrame.detected's test
    draw_pose(rgb, image_landmarks)
    draw_label(rgb, f"frame {index}  {timestamp_ms / 1000:.2f} s" + ("" if detected else "  no person"))

