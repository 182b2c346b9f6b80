"""One tracked pose per frame, plus a bounded search for other people.

MediaPipe's landmarker runs its person detector on every frame while it tracks fewer than
``num_poses`` people, so asking for two people with one in view costs a detector run per frame (about
1.8x the CPU of ``num_poses=1``, bench/subject_search.py). ``TrackedSearch`` tracks one pose (detector
only when the tracker loses it) and looks for everybody with the person detector alone
(``vision.person_detector``: the bundle's ``pose_detector.tflite`` on a LiteRT interpreter, no landmark
model, no MediaPipe graph) only on some frames:

* every ``every``-th frame (by frame index, so a segment of a parallel run searches the same frames
  as a sequential run) unless the view away from the subject is the same as ``every`` frames before
  (``vision.scene_change.SceneWatch``: a still camera and nobody coming in; at least every
  ``still_ms`` all the same; a moving camera changes the view, so it searches every ``every``-th
  frame as before);
* when the tracked pose appears, disappears or jumps (torso centre moved by more than half the torso
  length, or that length changed by more than 30 %) — what a tracker that switched people looks like — but never
  twice within ``min_gap`` frames.

The detector answers one question: is anybody in view besides the tracked pose? Its hip and shoulder
centres are compared with the tracked pose's (``_only_the_tracked``). When every detection is the
tracked person (or there is none) the frame keeps the tracked pose and counts as searched. When it
shows somebody else — a detection off the tracked body, or two people while nothing is tracked —
that very frame goes to "company": a VIDEO-mode landmarker for everybody (``SEARCH_POSES``) runs on every frame
instead of the tracker (opened the first time company is needed, so a one-person clip never loads a
second landmarker graph), giving full landmarks and torso colours of every person to
``vision.subject``, until it has found at most one person for ``every`` frames. (Re-detecting every
frame in company, IMAGE mode, was tried: while the bystander walked across the subject it gave her a
pose off by a quarter of a torso that still matched her colours.)

One detector serves every segment of a parallel run (thread-safe, ~44 MB once instead of the ~75 MB
IMAGE-mode landmarker graph the search used before; README, subject following; ~11 MB less since its
weights load as float32 from the model cache, ``vision.person_detector.unpacked_model``). Every returned
``Poses`` carries each pose's torso colour histogram for ``vision.subject``'s identity check and says
whether the frame was searched.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading

import numpy as np

from vision.identity import appearance
from vision.landmarker import PoseEstimator, Poses
from vision.person_detector import HIP, SHOULDER, Detections, PersonDetector
from vision.scene_change import MAX_STILL_MS, SceneWatch

SEARCH_POSES = 2
# A detection is the tracked pose when its hip and shoulder centres both lie within this many tracked
# torso lengths of the pose's: measured on the one-person clips, detector against landmarks, max 0.26
# (tfjs_pose_1) and 0.13 (squats); a bystander beside the subject is more than a torso length away.
SAME_PERSON = 0.5


class TrackedSearch:
    """``process(rgb, ts) -> Poses`` like ``PoseEstimator``; a context manager closing its models
    (the detector only when it opened it: a shared one is closed by its owner).

    Counts: ``frames`` seen; ``searches`` frames searched (the detector found nobody besides the
    tracked person, or the company landmarker ran); ``company_frames`` frames the company landmarker
    ran; ``escalations`` frames where the detector found somebody else and the company landmarker ran
    on that same frame; ``still_skips`` every-``every``-th frames not searched because the view had
    not changed (``SceneWatch``; ``still_ms`` <= 0: never skipped). So
    ``search.calls + company_frames - escalations == searches`` with a detector of its own."""

    def __init__(self, model_path: str | os.PathLike, every: int = 10, min_gap: int = 3,
                 search: PersonDetector | SharedDetector | None = None, still_ms: float = MAX_STILL_MS,
                 **confidences: float):
        self.tracker = PoseEstimator(model_path, mode="video", num_poses=1, **confidences)
        self._model_path, self._confidences = model_path, confidences
        self._company: PoseEstimator | None = None
        self._owns_search = search is None
        self.search = search if search is not None else PersonDetector(
            model_path, confidences.get("min_detection_confidence", 0.5))
        self.every, self.min_gap = max(1, int(every)), max(1, int(min_gap))
        self.max_poses = SEARCH_POSES           # a frame holds the tracked pose, or the company's
        self.frames = self.searches = 0
        self.company_frames = self.escalations = self.still_skips = 0
        self.scene = SceneWatch(still_ms)
        self._index = 0
        self._last_search = -10 ** 9
        self._company_quiet = -1               # -1: not in company; else frames since two were seen
        self._previous: np.ndarray | None = None  # (centre x, centre y, size) of the last tracked pose

    def process(self, rgb: np.ndarray, timestamp_ms: float, frame_index: int | None = None) -> Poses:
        i = self._index if frame_index is None else int(frame_index)
        self._index = i + 1
        self.frames += 1
        if self._company_quiet >= 0:
            return self._follow_company(rgb, timestamp_ms, i)
        tracked = self.tracker.process(rgb, timestamp_ms)
        box = _box(tracked.image)
        event = (box is None) != (self._previous is None) or (
            box is not None and self._previous is not None and _jumped(self._previous, box))
        self._previous = box
        periodic = i % self.every == 0 and self.scene.check(rgb, tracked.image, timestamp_ms)
        due = periodic or (event and i - self._last_search >= self.min_gap)
        if not due:
            self.still_skips += i % self.every == 0
            return Poses(tracked.image, tracked.world, appearance(rgb, tracked.image))
        self._last_search = i
        if _only_the_tracked(self.search.detect(rgb), tracked.image, rgb.shape):
            self.searches += 1
            return Poses(tracked.image, tracked.world, appearance(rgb, tracked.image), searched=True)
        self.escalations += 1                  # somebody else in view: company now
        self._company_quiet = 0
        return self._follow_company(rgb, timestamp_ms, i)

    def _follow_company(self, rgb: np.ndarray, timestamp_ms: float, i: int) -> Poses:
        """Someone else in view: a VIDEO-mode landmarker follows them all (tracked landmarks, steadier
        than re-detecting every frame while they overlap), opened the first time company is found;
        left after ``every`` frames with at most one person."""
        if self._company is None:
            self._company = PoseEstimator(self._model_path, mode="video", num_poses=SEARCH_POSES,
                                          **self._confidences)
        self.searches += 1
        self.company_frames += 1
        self._last_search = i
        found = self._company.process(rgb, timestamp_ms)
        poses = _distinct(Poses(found.image, found.world, appearance(rgb, found.image), searched=True))
        self._company_quiet = 0 if len(poses) >= 2 else self._company_quiet + 1
        if self._company_quiet > 0:
            # at most one person now: the tracker follows again, so that when company ends its track
            # is current (resumed from where company began, it gave the subject a pose off by up to a
            # fifth of a torso for several frames: crossing clip, second segment)
            self._previous = _box(self.tracker.process(rgb, timestamp_ms).image)
        if self._company_quiet >= self.every:
            self._company_quiet = -1
            self.scene.forget()                # the view is judged afresh: the next periodic frame searches
        return poses

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


def _only_the_tracked(found: Detections, image: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Nobody besides the tracked pose: counting the tracked person once, the detector shows at most
    one person. A detection is the tracked person when its hip and shoulder centres lie within
    ``SAME_PERSON`` torso lengths of the pose's, or both inside the pose's landmark box (the detector's
    own fit of that body can be far off: on the back-view clip it fits the legs, as the landmarker
    does when its detector runs on every frame, tests/dashboard/test_guidance.py). Nobody found while a
    pose is tracked is not somebody else (the detector misses bodies the tracker keeps)."""
    if len(image) == 0:
        return len(found) <= 1                 # the tracker, finding nobody, runs its own detector
    px = np.array([shape[1], shape[0]], dtype=np.float64)
    lm = image[0, :, :2] * px
    hip, shoulder = lm[[23, 24]].mean(axis=0), lm[[11, 12]].mean(axis=0)
    torso = max(float(np.linalg.norm(shoulder - hip)), 1e-6)
    points = found.keypoints[:, [HIP, SHOULDER]] * px                  # (N, 2, 2)
    near = (np.linalg.norm(points - [hip, shoulder], axis=2) <= SAME_PERSON * torso).all(axis=1)
    inside = ((points >= lm.min(axis=0)) & (points <= lm.max(axis=0))).all(axis=(1, 2))
    return bool((near | inside).all())


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
                   search: PersonDetector | SharedDetector | None = None):
    """The estimator a pipeline run uses: ``TrackedSearch`` for video with ``num_poses == 1`` and a
    search period (sharing ``search`` when given), else one landmarker with ``settings.num_poses``
    (stills are unrelated frames)."""
    confidences = _confidences(settings)
    if _tracks(settings, mode):
        return TrackedSearch(model_path, every=settings.search_every, search=search,
                             still_ms=settings.search_still_ms, **confidences)
    n = max(settings.num_poses, SEARCH_POSES) if mode == "image" else settings.num_poses
    return SingleLandmarker(PoseEstimator(model_path, mode=mode, num_poses=n, **confidences), n)


def open_search(model_path: str | os.PathLike, settings):
    """The person detector a parallel run's segments share (None when ``open_estimator`` would not
    search), loading on its own thread from this call on (``SharedDetector``)."""
    if _tracks(settings, "video"):
        return SharedDetector(model_path, settings.min_detection_confidence)
    return contextlib.nullcontext(None)


class SharedDetector:
    """A ``PersonDetector`` loaded on its own thread while the caller goes on (the segments of a parallel
    run load their landmarkers meanwhile: MediaPipe's load runs outside the GIL, and the first search
    comes only after a segment's first frame); ``detect`` and ``close`` wait for the load. A load error
    is raised by ``detect`` and by ``raise_load_error``. The thread is named like ``run_threads``' so
    that a command interrupted during the load ends without waiting for it (``isobalance.cli``)."""

    def __init__(self, model_path: str | os.PathLike, min_detection_confidence: float = 0.5):
        from vision.threads import THREAD_PREFIX, name_os_thread

        _make_unpacked_detector(model_path)
        self._detector: PersonDetector | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()

        def load() -> None:
            name_os_thread(f"{THREAD_PREFIX}detector")
            try:
                self._detector = PersonDetector(model_path, min_detection_confidence)
            except BaseException as exc:  # raised where the detector is used
                self._error = exc
            finally:
                self._ready.set()

        threading.Thread(target=load, name=f"{THREAD_PREFIX}detector", daemon=True).start()

    def detector(self) -> PersonDetector:
        self._ready.wait()
        self.raise_load_error()
        return self._detector

    def raise_load_error(self) -> None:
        """The load's error, if it failed (waits for the load)."""
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def detect(self, rgb: np.ndarray) -> Detections:
        return self.detector().detect(rgb)

    @property
    def calls(self) -> int:
        return self.detector().calls

    def close(self) -> None:
        self._ready.wait()
        if self._detector is not None:
            self._detector.close()

    def __enter__(self) -> "SharedDetector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _make_unpacked_detector(model_path: str | os.PathLike) -> None:
    """The first run with a bundle makes its float32 detector (``vision.models.unpacked_detector``)
    here, on the calling thread before the segments load their graphs: made beside them, its ~35 MB of
    transient memory added to theirs (first run's peak 490 MB against 457 MB once made). Any error is
    left to the detector's own load, which reports it as before."""
    from vision.memory import release_free_memory
    from vision.models import unpacked_detector, unpacked_detector_made

    if unpacked_detector_made(model_path):
        return
    try:
        unpacked_detector(model_path)
    except Exception:  # noqa: BLE001 - reported by PersonDetector's load on the detector's thread
        return
    release_free_memory()


def _tracks(settings, mode: str) -> bool:
    return mode == "video" and settings.num_poses == 1 and settings.search_every > 0


def _confidences(settings) -> dict[str, float]:
    return dict(min_detection_confidence=settings.min_detection_confidence,
                min_presence_confidence=settings.min_presence_confidence,
                min_tracking_confidence=settings.min_tracking_confidence)


def _box(image: np.ndarray) -> np.ndarray | None:
    """Torso centre and length (shoulders and hips: arms and legs moving are not a jump).

    Plain float arithmetic on the four landmarks: it runs on every tracked frame, where numpy's
    fancy indexing, means and norm of 2-vectors cost ~0.25 ms a frame (12x this; the same means, the
    norm equal to the last bit or so, tests/vision/test_search.py)."""
    if len(image) == 0:
        return None
    lm = image[0].tolist()
    (lsx, lsy), (rsx, rsy) = lm[11][:2], lm[12][:2]
    (lhx, lhy), (rhx, rhy) = lm[23][:2], lm[24][:2]
    sx, sy, hx, hy = (lsx + rsx) / 2, (lsy + rsy) / 2, (lhx + rhx) / 2, (lhy + rhy) / 2
    return np.array([(sx + hx) / 2, (sy + hy) / 2, max(math.hypot(sx - hx, sy - hy), 1e-6)])


def _jumped(a: np.ndarray, b: np.ndarray) -> bool:
    moved = math.hypot(a[0] - b[0], a[1] - b[1]) / max(a[2], 1e-6)
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
