"""Decode one part of a video file, with the frame numbers and timestamps a full decode would give.

A parallel run hands each worker a slice of frames ``[first, stop)``. ``scan_frames`` lists every
frame's presentation time once, from the container's packets (demuxing only, no decoding: it takes a
few milliseconds), so a frame's index is its rank in that list whatever order the decoder delivers it
in (B-frames) and whatever the frame rate does (variable-rate phone clips). ``SegmentSource`` seeks to
the keyframe at or before ``first``, decodes forward, drops the frames before ``first`` without
converting them, and stops at ``stop``. Timestamps are ``(pts - first pts) * time_base`` in ms, the
same formula ``VideoFileSource`` uses, so segment frames are the sequential decode's frames exactly
(tests/vision/test_parallel.py compares pixels, indices and timestamps).

``scan_frames`` returns None for files whose packets cannot be trusted to match the decoder's output
(missing or repeated pts, fewer packets than the header announces): callers then decode sequentially,
which handles damaged files and reports how far they got.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from vision.errors import SourceError
from vision.sources import Frame, FrameSource, SourceInfo, VideoFileSource, frame_rgb, rotate_upright


@dataclass(frozen=True)
class FrameTable:
    """Presentation times of every frame of a video stream, in presentation order."""

    pts: np.ndarray            # (N,) int64, strictly increasing, in ``time_base`` units
    keyframes: np.ndarray      # (K,) int64 frame indices of the keyframes (where a seek can land)
    time_base: Fraction

    def __len__(self) -> int:
        return len(self.pts)

    def timestamps_ms(self) -> np.ndarray:
        """(N,) ms from the first frame: what a sequential decode stamps each frame with.

        Same float operations as ``VideoFileSource`` (PyAV's ``frame.time`` is ``float(pts) * num / den``,
        then ``(t - t0) * 1000``), so the values are bit-identical, not merely close.
        """
        seconds = self.pts.astype(np.float64) * self.time_base.numerator / self.time_base.denominator
        return (seconds - seconds[0]) * 1000.0

    def index_of(self, pts: int) -> int | None:
        i = int(np.searchsorted(self.pts, pts))
        return i if i < len(self.pts) and self.pts[i] == pts else None


def scan_frames(path: str | os.PathLike) -> FrameTable | None:
    """The frame table of ``path``'s first video stream, or None when it cannot be trusted."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            announced = stream.frames or 0
            pts, keys = [], []
            for packet in container.demux(stream):
                if packet.size == 0:      # the flush packet at the end
                    continue
                if packet.pts is None:
                    return None
                pts.append(packet.pts)
                keys.append(packet.is_keyframe)
            time_base = stream.time_base
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError):
        return None
    if not pts or time_base is None:
        return None
    pts_arr = np.asarray(pts, dtype=np.int64)
    order = np.argsort(pts_arr, kind="stable")
    sorted_pts = pts_arr[order]
    if np.any(np.diff(sorted_pts) <= 0) or (announced and len(sorted_pts) != announced):
        return None
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    keyframes = np.sort(rank[np.asarray(keys, dtype=bool)])
    if len(keyframes) == 0 or keyframes[0] != 0:
        return None
    return FrameTable(sorted_pts, keyframes.astype(np.int64), Fraction(time_base))


class SegmentError(SourceError):
    """A segment could not be decoded as the frame table promised (the caller falls back)."""


class SegmentSource(FrameSource):
    """Frames ``[first, stop)`` of a video file, numbered and timed as in a full sequential decode."""

    def __init__(self, path: str | os.PathLike, first: int, stop: int, table: FrameTable | None = None,
                 info: SourceInfo | None = None):
        import av

        self.path = Path(path)
        self.table = table if table is not None else scan_frames(self.path)
        if self.table is None:
            raise SegmentError(f"{self.path}: its frames cannot be listed for a partial decode.")
        if not 0 <= first < stop <= len(self.table):
            raise ValueError(f"segment [{first}, {stop}) outside the {len(self.table)} frames of {self.path}")
        self.first, self.stop = first, stop
        if info is None:
            with VideoFileSource(self.path) as full:  # reads the rotation flag from the first frame
                info = full.info
        self.info = SourceInfo(info.kind, info.name, info.fps, info.width, info.height, info.rotation,
                               stop - first)
        self._container = av.open(str(self.path))
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"

    def _decoded(self, seek_index: int) -> Iterator:
        """Decoded frames from the keyframe at or before ``seek_index`` onwards."""
        if seek_index == 0:
            self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
        else:
            self._container.seek(int(self.table.pts[seek_index]), stream=self._stream, backward=True,
                                 any_frame=False)
        return self._container.decode(self._stream)

    def __iter__(self) -> Iterator[Frame]:
        import av

        table, ts_ms = self.table, self.table.timestamps_ms()
        keyframe = int(self.table.keyframes[np.searchsorted(self.table.keyframes, self.first, "right") - 1])
        for attempt, start_at in enumerate((keyframe, 0)):
            expected = self.first
            try:
                for frame in self._decoded(start_at):
                    index = table.index_of(frame.pts) if frame.pts is not None else None
                    if index is None:
                        raise SegmentError(f"{self.path}: decoded a frame (pts {frame.pts}) that is not "
                                           f"in its packet list.")
                    if index < expected:
                        continue                      # before the segment: dropped undecoded to RGB
                    if index > expected:
                        if expected == self.first and attempt == 0:
                            break                     # the seek landed past ``first``: retry from the start
                        raise SegmentError(f"{self.path}: frame {expected} was never decoded "
                                           f"(next was {index}).")
                    rgb = rotate_upright(frame_rgb(frame), self.info.rotation)
                    yield Frame(index, float(ts_ms[index]), rgb)
                    expected += 1
                    if expected >= self.stop:
                        return
            except av.error.FFmpegError as exc:
                self.error = SegmentError(f"{self.path}: decoding stopped at frame {expected} ({exc}).")
                return
            if expected > self.first:
                break
        self.error = SegmentError(f"{self.path}: the video ended at frame {expected}, before the "
                                  f"segment's end {self.stop}.")

    def close(self) -> None:
        self._container.close()
