"""One tracked pose per frame, plus a bounded search for other people.

MediaPipe's landmarker runs its person detector on every frame while it tracks fewer than
``num_poses`` people, so asking for two people with one in view costs a detector run per frame (about
1.8x the CPU of ``num_poses=1``, bench/subject_search.py). ``TrackedSearch`` tracks one pose (detector
only when the tracker loses it) and looks for everybody with ``SearchLandmarker`` only on some frames:

* every ``every``-th frame (by frame index, so a segment of a parallel run searches the same frames
  as a sequential run);
* when the tracked pose appears, disappears or jumps (torso centre moved by more than half the torso
  length, or that length changed by more than 30 %) — what a tracker that switched people looks like — but never
  twice within ``min_gap`` frames;
* while a search keeps finding two people ("company": the tracker alone would follow whoever is in
  front), a VIDEO-mode landmarker for everybody runs on every frame instead of the tracker (opened the
  first time company is seen, so a one-person clip never loads it), until it has found at most one
  person for ``every`` frames.

``SearchLandmarker`` is an IMAGE-mode landmarker: the person detector, then the landmark model once
per person found, no tracking state. Per searched frame it costs about what the VIDEO-mode two-person
landmarker it replaces cost when given every tenth frame (bench/subject_search.py: 53 vs 49 ms CPU,
load ~4.5), but being stateless one instance serves every segment of a parallel run (one model graph,
~77 MB, instead of one per segment) and gives a frame the same answer whatever was searched before
it (the VIDEO-mode one could report its stale track and a new detection of the same person). The
tracked pose comes first in a searched frame (its landmarks are the continuous ones), then the others
found. So with one person in view the search sees about 1/``every`` of the frames. (Re-detecting
every frame in company, IMAGE mode, was tried: while the bystander walked across the subject it gave
her a pose off by a quarter of a torso that still matched her colours.) Every returned ``Poses``
carries each pose's torso colour histogram for ``vision.subject``'s identity check and says whether
the frame was searched.
"""

from __future__ import annotations

import contextlib
import os
import threading

import numpy as np

from vision.identity import appearance
from vision.landmarker import PoseEstimator, Poses

SEARCH_POSES = 2


class SearchLandmarker:
    """Everybody in one frame (up to ``SEARCH_POSES``), from an IMAGE-mode landmarker; thread-safe.

    ``calls`` counts the frames searched (every segment's, when shared)."""

    def __init__(self, model_path: str | os.PathLike, **confidences: float):
        self.num_poses = SEARCH_POSES
        self.estimator = PoseEstimator(model_path, mode="image", num_poses=self.num_poses, **confidences)
        self.calls = 0
        self._lock = threading.Lock()

    def process(self, rgb: np.ndarray) -> Poses:
        found = self.estimator.process(rgb)
        with self._lock:
            self.calls += 1
        return _distinct(Poses(found.image, found.world, appearance(rgb, found.image), searched=True))

    def close(self) -> None:
        self.estimator.close()

    def __enter__(self) -> "SearchLandmarker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TrackedSearch:
    """``process(rgb, ts) -> Poses`` like ``PoseEstimator``; a context manager closing its models
    (the search only when it opened it: a shared one is closed by its owner)."""

    def __init__(self, model_path: str | os.PathLike, every: int = 10, min_gap: int = 3,
                 search: SearchLandmarker | None = None, **confidences: float):
        self.tracker = PoseEstimator(model_path, mode="video", num_poses=1, **confidences)
        self._model_path, self._confidences = model_path, confidences
        self._company: PoseEstimator | None = None
        self._owns_search = search is None
        self.search = search if search is not None else SearchLandmarker(model_path, **confidences)
        self.every, self.min_gap = max(1, int(every)), max(1, int(min_gap))
        self.max_poses = self.search.num_poses + 1
        self.frames = self.searches = 0        # frames seen / frames searched (by either model below)
        self.company_frames = 0                # of those, frames the company landmarker followed everybody
        self._index = 0
        self._last_search = -10 ** 9
        self._company_quiet = -1               # -1: not in company; else frames since two were seen
        self._previous: np.ndarray | None = None  # (centre x, centre y, size) of the last tracked pose

    def process(self, rgb: np.ndarray, timestamp_ms: float, frame_index: int | None = None) -> Poses:
        i = self._index if frame_index is None else int(frame_index)
        self._index = i + 1
        self.frames += 1
        if self._company_quiet >= 0:
            poses = self._follow_company(rgb, timestamp_ms, i)
            self._company_quiet = 0 if len(poses) >= 2 else self._company_quiet + 1
            if self._company_quiet >= self.every:
                self._company_quiet = -1
            return poses
        tracked = self.tracker.process(rgb, timestamp_ms)
        box = _box(tracked.image)
        event = (box is None) != (self._previous is None) or (
            box is not None and self._previous is not None and _jumped(self._previous, box))
        self._previous = box
        due = i % self.every == 0 or (event and i - self._last_search >= self.min_gap)
        if not due:
            return Poses(tracked.image, tracked.world, appearance(rgb, tracked.image))
        self.searches += 1
        self._last_search = i
        found = self.search.process(rgb)
        if len(found) >= 2:
            self._company_quiet = 0
        # the tracked pose first (its landmarks are the continuous ones), then the others found
        return _distinct(Poses(np.concatenate([tracked.image, found.image]),
                               np.concatenate([tracked.world, found.world]),
                               np.concatenate([appearance(rgb, tracked.image), found.appearance]), searched=True))

    def _follow_company(self, rgb: np.ndarray, timestamp_ms: float, i: int) -> Poses:
        """Two people in view: a VIDEO-mode landmarker follows them all (tracked landmarks, steadier
        than re-detecting every frame while they overlap), opened the first time company is found."""
        if self._company is None:
            self._company = PoseEstimator(self._model_path, mode="video", num_poses=self.search.num_poses,
                                          **self._confidences)
        self.searches += 1
        self.company_frames += 1
        self._last_search = i
        found = self._company.process(rgb, timestamp_ms)
        return _distinct(Poses(found.image, found.world, appearance(rgb, found.image), searched=True))

    def close(self) -> None:
        self.tracker.close()
        if self._company is not None:
            self._company.close()
        if self._owns_search:
            self.search.close()

    def __enter__(self) -> "TrackedSearch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SingleLandmarker:
    """A plain ``PoseEstimator`` (``num_poses`` >= 2, or stills) whose poses carry their appearance."""

    def __init__(self, estimator: PoseEstimator, num_poses: int):
        self.estimator, self.max_poses = estimator, num_poses
        self.searched = num_poses >= SEARCH_POSES

    def process(self, rgb: np.ndarray, timestamp_ms: float, frame_index: int | None = None) -> Poses:
        p = self.estimator.process(rgb, timestamp_ms)
        return Poses(p.image, p.world, appearance(rgb, p.image), searched=self.searched)

    def close(self) -> None:
        self.estimator.close()

    def __enter__(self) -> "SingleLandmarker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_estimator(model_path: str | os.PathLike, settings, mode: str = "video",
                   search: SearchLandmarker | None = None):
    """The estimator a pipeline run uses: ``TrackedSearch`` for video with ``num_poses == 1`` and a
    search period (sharing ``search`` when given), else one landmarker with ``settings.num_poses``
    (stills are unrelated frames)."""
    confidences = _confidences(settings)
    if _tracks(settings, mode):
        return TrackedSearch(model_path, every=settings.search_every, search=search, **confidences)
    n = max(settings.num_poses, SEARCH_POSES) if mode == "image" else settings.num_poses
    return SingleLandmarker(PoseEstimator(model_path, mode=mode, num_poses=n, **confidences), n)


def open_search(model_path: str | os.PathLike, settings):
    """The search a parallel run's segments share (None when ``open_estimator`` would not search)."""
    if _tracks(settings, "video"):
        return SearchLandmarker(model_path, **_confidences(settings))
    return contextlib.nullcontext(None)


def _tracks(settings, mode: str) -> bool:
    return mode == "video" and settings.num_poses == 1 and settings.search_every > 0


def _confidences(settings) -> dict[str, float]:
    return dict(min_detection_confidence=settings.min_detection_confidence,
                min_presence_confidence=settings.min_presence_confidence,
                min_tracking_confidence=settings.min_tracking_confidence)


def _box(image: np.ndarray) -> np.ndarray | None:
    """Torso centre and length (shoulders and hips: arms and legs moving are not a jump)."""
    if len(image) == 0:
        return None
    shoulders, hips = image[0, [11, 12], :2].mean(axis=0), image[0, [23, 24], :2].mean(axis=0)
    return np.array([*(shoulders + hips) / 2, max(float(np.linalg.norm(shoulders - hips)), 1e-6)])


def _jumped(a: np.ndarray, b: np.ndarray) -> bool:
    moved = np.linalg.norm(a[:2] - b[:2]) / max(a[2], 1e-6)
    return bool(moved > 0.5 or not (1 / 1.3 <= b[2] / max(a[2], 1e-6) <= 1.3))


def _distinct(poses: Poses) -> Poses:
    """``poses`` without repeats of one person (a pose whose landmarks lie, on average, within half
    an earlier pose's torso length of it): a two-person landmarker that resumes after a pause can
    report its stale track and a new detection of the same person."""
    keep: list[int] = []
    for k in range(len(poses)):
        if all(np.linalg.norm(poses.image[k, :, :2] - poses.image[j, :, :2], axis=1).mean()
               > 0.5 * _box(poses.image[j:j + 1])[2] for j in keep):
            keep.append(k)
    if len(keep) == len(poses):
        return poses
    return Poses(poses.image[keep], poses.world[keep],
                 None if poses.appearance is None else poses.appearance[keep], poses.searched)
