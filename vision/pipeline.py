"""Frames -> landmark track: source -> pose estimator -> subject selection -> smoothing.

Decoding runs in a background thread that stays a few frames ahead of inference (FFmpeg and
MediaPipe both release the GIL), and frames stream through: memory does not grow with clip length.
``stream_poses`` is the single per-frame path used offline and live; ``extract_track`` collects it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from vision.errors import IsobalanceError, SourceError
from vision.landmarker import PoseEstimator
from vision.scene_roll import SceneRollSampler
from vision.search import open_estimator
from vision.smoothing import LandmarkFilter, NoFilter, make_filter
from vision.sources import Frame, FrameSource, open_source
from vision.subject import SubjectSelector
from vision.threads import prefetched
from vision.track import LandmarkTrack, PoseFrame, TrackMeta


class PartialTrackError(IsobalanceError):
    """The input broke part-way; ``track`` holds every frame processed before the break."""

    exit_code = 4

    def __init__(self, message: str, track: LandmarkTrack):
        super().__init__(message)
        self.track = track


@dataclass(frozen=True)
class PipelineSettings:
    num_poses: int = 1                      # 1 = MediaPipe's tracker + a search for others (vision.search); 2+ = detector every frame
    search_every: int = 10                  # num_poses == 1: look for everybody every N frames (0 = never)
    search_still_ms: float = 2000.0         # ... but while the view stays still, at least every this many ms (0 = every N frames)
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    smoothing: str = "one_euro"             # "one_euro" | "none"
    smoothing_params: dict = field(default_factory=dict)
    # decoded frames kept ready ahead of inference (per segment thread on the parallel path; each RGB
    # frame is W x H x 3 bytes, ~1 MB at 576x576): decoding takes ~2 ms a frame against ~25 ms of
    # inference, so two hide a decoder stall of ~50 ms
    prefetch: int = 2
    scene_roll: bool = True                 # camera roll from scene lines on a few frames (vision.scene_roll)


class BodySmoother:
    """Applies a landmark filter to image x,y,z and world x,y,z, with speed judged in body sizes.

    One filter over both (66, 3) with each half's own body size as its scale: the filter is
    element-wise, so this is exactly two filters, one per half (tests/vision/test_pipeline.py), at
    half the per-frame numpy calls (it runs on the main thread over the whole clip after the
    parallel segments, i.e. in the serial tail)."""

    def __init__(self, make: Callable[[], LandmarkFilter]):
        self._filter = make()

    def __call__(self, pose: PoseFrame) -> PoseFrame:
        if not pose.detected:
            return pose
        n = len(pose.image)
        both = np.concatenate([pose.image[:, :3], pose.world])
        scale = np.empty((2 * n, 1))
        scale[:n], scale[n:] = _bbox_size(pose.image[:, :2]), _bbox_size(pose.world[:, :2])
        smoothed = self._filter(pose.timestamp_ms, both, scale)
        image = pose.image.copy()
        image[:, :3] = smoothed[:n]
        return PoseFrame(pose.frame_index, pose.timestamp_ms, image, smoothed[n:], pose.n_people)


def _bbox_size(xy: np.ndarray) -> float:
    """Mean side of the landmarks' bounding box, NaN landmarks left out.

    The model's x, y are never NaN, and without NaN the plain reductions give the nan-functions'
    values exactly (tests/vision/test_pipeline.py) at a fraction of their cost: this runs twice a frame
    in the serial tail, where the nan-functions were ~40 % of the smoothing's CPU."""
    if np.isnan(xy).any():
        span = np.nanmax(xy, axis=0) - np.nanmin(xy, axis=0)
        return float(np.nanmean(span)) or 1.0
    span = xy.max(axis=0) - xy.min(axis=0)
    return float(span.mean()) or 1.0


def stream_poses(source: FrameSource, estimator: PoseEstimator, selector: SubjectSelector | None = None,
                 smoother: BodySmoother | None = None, prefetch: int = 2
                 ) -> Iterator[tuple[Frame, PoseFrame]]:
    """Yield (frame, the subject's pose) for every frame of ``source``; gaps are PoseFrame.missing."""
    selector = selector or SubjectSelector()
    aspect = source.info.width / source.info.height
    for frame in prefetched(iter(source), 0 if source.live else prefetch):
        poses = estimator.process(frame.rgb, frame.timestamp_ms)
        idx = selector.choose(poses.image, frame.timestamp_ms, aspect, poses.appearance, frame.index,
                              poses.searched)
        if idx is None:   # nobody, or nobody who is recognisably the subject: a gap (reason in the selector)
            pose = PoseFrame.missing(frame.index, frame.timestamp_ms)
            pose.n_people = len(poses)
        else:
            pose = PoseFrame(frame.index, frame.timestamp_ms, poses.image[idx], poses.world[idx], len(poses))
        if smoother is not None:
            pose = smoother(pose)
        yield frame, pose


def make_smoother(settings: PipelineSettings) -> BodySmoother | None:
    if settings.smoothing == "none":
        return None
    make_filter(settings.smoothing, **settings.smoothing_params)  # validate the name and parameters now
    return BodySmoother(lambda: make_filter(settings.smoothing, **settings.smoothing_params))


def extract_track(source: str | os.PathLike | int | FrameSource, model_path: str | os.PathLike,
                  settings: PipelineSettings = PipelineSettings(),
                  on_frame: Callable[[Frame, PoseFrame], None] | None = None) -> LandmarkTrack:
    """Run the whole vision pipeline on one input and return its track.

    ``on_frame`` sees every frame with its pose as it is produced (drawing, progress bars, live
    checks). Raises ``PartialTrackError`` (with the partial track) when the input breaks part-way.
    A track with nobody in it is returned as it is (all gap rows): callers decide how to report it.
    """
    src = source if isinstance(source, FrameSource) else open_source(source)
    poses: list[PoseFrame] = []
    selector = SubjectSelector()
    smoother = make_smoother(settings)
    mode = "image" if src.info.kind in ("image", "folder") else "video"
    scene = SceneRollSampler(src.info.width, src.info.height, src.info.n_frames, src.info.fps) if settings.scene_roll else None
    try:
        with open_estimator(model_path, settings, mode) as est:
            for frame, pose in stream_poses(src, est, selector, smoother, settings.prefetch):
                poses.append(pose)
                if scene is not None:
                    scene.offer(frame.rgb, pose.image if pose.detected else None)
                if on_frame is not None:
                    on_frame(frame, pose)
    finally:
        if src is not source:
            src.close()
    info = src.info
    notes: tuple[str, ...] = ()
    if src.error is not None:
        notes = (str(src.error),)
    meta = TrackMeta(source=str(getattr(src, "path", info.name)), fps=info.fps, width=info.width,
                     height=info.height, rotation=info.rotation, model=str(model_path),
                     smoothing={"filter": settings.smoothing, **settings.smoothing_params},
                     notes=notes, scene_roll=scene.result() if scene else {}, **selector.meta())
    track = LandmarkTrack.from_frames(poses, meta)
    if src.error is not None:
        raise PartialTrackError(str(src.error), track)
    if not poses:
        raise SourceError(f"{info.name} has no frames.")
    return track
