"""Live webcam processing for the dashboard: the frame callbacks behind streamlit-webrtc.

Why this shape: streamlit-webrtc calls ``LiveSession.on_frames`` in a worker thread with the webcam
frames that arrived since its last call. That thread must not touch ``st.*``, so each session keeps its
own state behind a lock and publishes an immutable ``LiveSnapshot`` the page polls
(``st.fragment(run_every=...)``).

One VIDEO-mode estimator (``make_estimator``: MediaPipe's tracker plus the bounded two-person search) is
shared by all sessions (``shared_estimator``, cached with ``st.cache_resource``); its landmarkers have
their own locks, and frames get strictly increasing timestamps from ``time.monotonic()``. Subject selection and One-Euro smoothing are per session, exactly as in
``vision.pipeline.stream_poses``. Everything the pages judge comes from assessment/ code:

- ``GuidedCapture`` (self-assessment): each step ("front", then "side") is checked live on the last
  second of poses with ``assessment.views`` (whole body in frame, which view, camera roll) and
  ``assessment.static.landmark_speed`` (still), and captured once every check has passed for
  ``still_s`` seconds. The captured frames are then assessed by ``assessment.assess.assess``.
- ``LiveHold`` (guided exercise): ``assessment.hold.HoldMonitor`` fed frame by frame and drawn with
  ``assessment.hold_drawing.draw_hold_overlay`` - the same code path as ``isobalance hold``.
"""

from __future__ import annotations

import atexit
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import streamlit as st

from assessment.angles import BACK, FRONT, LEFT_SIDE, RIGHT_SIDE, UNKNOWN
from dashboard.overlay import text_corner, wrap_lines
from vision.drawing import yuv420p_frame
from vision.errors import IsobalanceError
from vision.pipeline import PipelineSettings, make_smoother
from vision.sources import frame_rgb
from vision.subject import SubjectSelector
from vision.track import LandmarkTrack, PoseFrame, TrackMeta

Clock = Callable[[], float]            # seconds, monotonic


def monotonic_ms_clock(clock: Clock = time.monotonic) -> Callable[[], float]:
    return lambda: clock() * 1000.0


# ============================================================================ the shared model
def make_estimator(model_path: str | Path, settings: PipelineSettings):
    """One VIDEO-mode estimator for the live pages, closed at interpreter exit (MediaPipe needs an
    explicit close): MediaPipe's one-person tracker plus the bounded two-person search
    (``vision.search.TrackedSearch``: everybody looked for every ``search_every`` frames, whenever the
    tracked pose appears, vanishes or jumps, and on every frame while two people are in view), also when
    the configuration asks for two poses (`--num-poses 2`). Why: a two-person landmarker runs its person
    detector on every frame while one person is in view, 49 ms CPU a 640x480 frame against 25 ms for the
    tracker, and at a 30-fps camera on 2 cores that decides how many frames are processed (README
    "Dashboard"). More than two poses keep one landmarker for that many; ``search_every = 0`` with one
    pose keeps the bare tracker."""
    from vision.search import SEARCH_POSES, open_estimator

    live = replace(settings, num_poses=1) if settings.num_poses <= SEARCH_POSES and settings.search_every > 0 \
        else settings
    est = open_estimator(model_path, live, mode="video")
    _close_at_exit(est)
    return est


def _close_at_exit(est) -> None:
    """Close before MediaPipe's worker pool shuts down (threading's exit hooks run before atexit's)."""
    register = getattr(threading, "_register_atexit", None)
    try:
        (register or atexit.register)(est.close)
    except RuntimeError:          # interpreter already shutting down
        pass


RTC_CONFIGURATION = {"iceServers": []}           # one machine: no STUN/TURN server needed
MEDIA_CONSTRAINTS = {"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}, "audio": False}


def webrtc_view(key: str, session: "LiveSession"):
    """The live webcam component, its frames processed by ``session.on_frame`` in a worker thread.

    Under AppTest (no server) a caption stands in for it; the browser tests cover the real thing.
    """
    from dashboard.common import server_runtime

    if not server_runtime():
        st.caption("Live video needs the dashboard server (`isobalance dashboard`).")
        return None
    from streamlit_webrtc import webrtc_streamer

    return webrtc_streamer(key=key, queued_video_frames_callback=session.on_frames,
                           rtc_configuration=RTC_CONFIGURATION, media_stream_constraints=MEDIA_CONSTRAINTS,
                           async_processing=True)


def live_workers() -> int:
    """Landmarker threads behind the hand-over (``$ISOBALANCE_LIVE_WORKERS``, default 0: the webrtc
    callback processes each frame itself, as before).

    With N >= 1 the callback only hands frames over and returns each frame with the newest overlay
    (``LiveSession``): the video keeps the camera's rate. Why it is not the default: in the guided-capture
    browser test the page then processed no frame after "Start over" (twice with 2 threads at load 14-17,
    once in 2 runs with 1 thread at load 17-20; cause not found: the same reset and idle restart without a
    browser process frames again). A second thread could use the second core (MediaPipe's
    ``detect_for_video`` releases the GIL), but on 2 cores Chromium and the webrtc transport already take
    most of one at 25-30 fps (README "Dashboard")."""
    import os

    try:
        return max(0, min(4, int(os.environ.get("ISOBALANCE_LIVE_WORKERS", "0"))))
    except ValueError:
        return 0


def shared_estimator(model_path: str | Path, settings: PipelineSettings, workers: int | None = None):
    """The process-wide estimators for this model and settings (``st.cache_resource``): a tuple of
    VIDEO-mode landmarkers, one per live worker thread (at least one)."""
    return _cached_estimator(str(model_path), settings.num_poses, settings.min_detection_confidence,
                             settings.min_presence_confidence, settings.min_tracking_confidence,
                             max(1, workers if workers is not None else live_workers()))


@st.cache_resource(show_spinner="Loading the pose model…")
def _cached_estimator(model_path: str, num_poses: int, det: float, pres: float, track: float, workers: int = 1):
    settings = PipelineSettings(num_poses=num_poses, min_detection_confidence=det, min_presence_confidence=pres,
                                min_tracking_confidence=track)
    return tuple(make_estimator(model_path, settings) for _ in range(workers))


class PoseStream:
    """Per-session pose path: shared estimator -> own subject selector -> own smoother."""

    def __init__(self, estimator, settings: PipelineSettings, now_ms: Callable[[], float] | None = None):
        self.estimator = estimator
        self.settings = settings
        self.now_ms = now_ms or monotonic_ms_clock()
        self.selector = SubjectSelector()
        self.smoother = make_smoother(settings)
        self.index = 0

    def pose(self, rgb: np.ndarray) -> PoseFrame:
        t = self.now_ms()
        return self.select(with_appearance(self.estimator.process(rgb, t), rgb), t, rgb.shape[1] / rgb.shape[0])

    def select(self, poses, t: float, aspect: float) -> PoseFrame:
        """The subject among ``poses`` (model output at time ``t``), smoothed; calls in time order. With
        the poses' torso colour histograms (``with_appearance``) the selector also checks the person
        still looks like the subject, as ``vision.pipeline.stream_poses`` does for files."""
        idx = self.selector.choose(poses.image, t, aspect, poses.appearance, self.index, poses.searched)
        if idx is None:
            pose = PoseFrame.missing(self.index, t)
        else:
            pose = PoseFrame(self.index, t, poses.image[idx], poses.world[idx], len(poses))
        if self.smoother is not None:
            pose = self.smoother(pose)
        self.index += 1
        return pose


def with_appearance(poses, rgb: np.ndarray):
    """``poses`` with each pose's torso colour histogram (``vision.identity.appearance``, ~1 ms)."""
    from vision.identity import appearance
    from vision.landmarker import Poses

    if poses.appearance is not None or not len(poses):
        return poses
    return Poses(poses.image, poses.world, appearance(rgb, poses.image), poses.searched)


# ============================================================================ guided capture
STEPS = ("front", "side")
STEP_VIEWS = {"front": (FRONT,), "side": (LEFT_SIDE, RIGHT_SIDE)}
STEP_PROMPTS = {"front": "Stand facing the camera, arms relaxed at your sides",
                "side": "Turn to your side (either side) and stand relaxed"}
MIN_WINDOW_POSES = 3                   # the live checks judge at least this many poses
CHECK_NAMES = ("person", "in_frame", "view", "level", "still")
CHECK_LABELS = {"person": "Someone in view", "in_frame": "Whole body in frame", "view": "Right view",
                "level": "Camera level", "still": "Standing still"}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None          # None = cannot be checked in this step (says why in ``message``)
    message: str


@dataclass(frozen=True)
class CaptureSettings:
    still_s: float = 3.0               # every check must pass this long before a view is captured
    window_s: float = 1.0              # checks look at the last second of poses
    check_every_ms: float = 200.0      # the checks run at most this often (the drawing runs every frame)


@dataclass
class CapturedView:
    """One captured step: the poses and the clean frames of the still period that passed."""

    step: str
    poses: list[PoseFrame]
    frames: list[np.ndarray]

    def track(self, model: str = "", smoothing: dict | None = None) -> LandmarkTrack:
        """The captured frames as a track (frames renumbered from 0, time from 0)."""
        t0 = self.poses[0].timestamp_ms
        poses = [PoseFrame(i, p.timestamp_ms - t0, p.image, p.world, p.n_people) for i, p in enumerate(self.poses)]
        h, w = self.frames[0].shape[:2]
        dur = (poses[-1].timestamp_ms - poses[0].timestamp_ms) / 1000.0
        fps = (len(poses) - 1) / dur if dur > 0 else float("nan")
        meta = TrackMeta(source=f"webcam ({self.step} view, guided capture)", fps=fps, width=w, height=h,
                         model=model, smoothing=smoothing or {}, subject="largest person in view")
        return LandmarkTrack.from_frames(poses, meta)


def step_checks(track: LandmarkTrack, step: str, level_track: LandmarkTrack | None = None,
                min_detected: float = 0.8) -> list[Check]:
    """Plain-language checks of one step on a short window of poses, in CHECK_NAMES order.

    The camera level is judged on ``level_track`` (the last few seconds, default ``track``): one
    second of body-axis jitter can tip an estimate either way.

    All measurement is assessment/ code: framing and view from ``assessment.views``, camera roll from
    ``assessment.roll`` (the scene's verticals, measured on recent frames and carried in
    ``level_track``'s metadata, with the body axis; the same estimate as ``assess``), stillness from
    ``assessment.static.landmark_speed``.
    """
    from assessment.roll import estimate_track_roll, level_advice
    from assessment.static import STILL_SPEED, landmark_speed
    from assessment.views import VIEW_WORDS, check_framing, summarize_views

    n = len(track)
    detected = track.detected
    frac = float(detected.mean()) if n else 0.0
    if n == 0 or frac < min_detected:
        return [Check("person", False, "Step into view: nobody is seen yet")] + [
            Check(c, False, "waiting for a person") for c in CHECK_NAMES[1:]]
    checks = [Check("person", True, "a person is in view")]
    framing = check_framing(track, min_fraction=1.0)
    if framing.ok and head_to_feet_fraction(track) < min_detected:
        # every landmark is inside the picture, but not as a standing body: e.g. a small, far person
        # whose whole skeleton the model fitted on the legs (the head found below the hips)
        checks.append(Check("in_frame", False, "Your head and feet must both be seen: come closer or "
                                               "move the camera so it sees your whole body clearly"))
    elif framing.ok:
        checks.append(Check("in_frame", True, "head to feet are in the picture"))
    else:
        worst = max(framing.cut_off.items(), key=lambda kv: kv[1])[0] if framing.cut_off else ""
        part = worst.replace("left_", "").replace("right_", "")
        where = {"ankle": "your feet", "knee": "your knees", "nose": "your head", "hip": "your hips",
                 "shoulder": "your shoulders"}.get(part, "your whole body")
        checks.append(Check("in_frame", False, f"Step back or move the camera so {where} "
                                               "and the rest of your body are in the picture"))
    views = summarize_views(track)
    wanted = STEP_VIEWS[step]
    seen = VIEW_WORDS.get(views.dominant, views.dominant)
    if views.dominant in wanted:
        checks.append(Check("view", True, f"{seen}"))
    elif step == "front":
        advice = "turn to face the camera" if views.dominant != BACK else "turn around to face the camera"
        checks.append(Check("view", False, f"Not a front view yet ({seen}): {advice}"))
    else:
        checks.append(Check("view", False, f"Not a side view yet ({seen}): turn a quarter turn so your "
                                           "shoulder points at the camera"))
    if step == "front" and views.dominant == FRONT:
        lt = level_track if level_track is not None else track
        ok, words = level_advice(estimate_track_roll(lt, np.flatnonzero(lt.detected)))
        checks.append(Check("level", ok, words))
    elif step == "front":
        checks.append(Check("level", False, "Camera level is checked once you face the camera"))
    else:
        checks.append(Check("level", None, "Checked in the front view; keep the camera where it was"))
    speed = landmark_speed(track)
    speed = speed[np.isfinite(speed)]
    if len(speed) and float(speed.max()) < STILL_SPEED:
        checks.append(Check("still", True, "standing still"))
    else:
        checks.append(Check("still", False, "Stand still, arms relaxed"))
    return checks


HEAD_TO_FEET = (("nose",), ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
                ("left_knee", "right_knee"), ("left_ankle", "right_ankle"))


def head_to_feet_fraction(track: LandmarkTrack, min_visibility: float = 0.5) -> float:
    """Share of the frames with a pose in which head, shoulders, hips, knees and ankles are all visible
    and stacked top to bottom in that order, as in a standing person (image y grows downward)."""
    from vision.track import LANDMARK_INDEX

    img = track.image[track.detected]
    if not len(img):
        return 0.0
    levels, seen = [], np.ones(len(img), bool)
    for names in HEAD_TO_FEET:
        idx = [LANDMARK_INDEX[n] for n in names]
        seen &= (np.nan_to_num(img[:, idx, 3]) >= min_visibility).all(axis=1)
        levels.append(img[:, idx, 1].mean(axis=1))
    y = np.stack(levels, axis=1)
    stacked = (np.diff(y, axis=1) > 0).all(axis=1)
    return float((seen & stacked).mean())


class GuidedCapture:
    """Front, then side: each step is captured after every check has passed for ``still_s`` seconds.

    Not thread-safe by itself (``LiveSession`` serialises calls). ``feed`` returns the text drawn
    on the frame.
    """

    def __init__(self, settings: CaptureSettings = CaptureSettings(), steps: tuple[str, ...] = STEPS):
        self.settings = settings
        self.steps = steps
        self.step_index = 0
        self.captured: dict[str, CapturedView] = {}
        self.checks: list[Check] = []
        self.ok_since: float | None = None
        self._buf: deque[tuple[PoseFrame, np.ndarray]] = deque()
        self._last_check = -np.inf
        self._size: tuple[int, int] | None = None
        self._scene_segments: deque[np.ndarray] = deque(maxlen=3)
        self._scene_t = -np.inf
        self._scene: dict = {}

    @property
    def step(self) -> str | None:
        return self.steps[self.step_index] if self.step_index < len(self.steps) else None

    @property
    def done(self) -> bool:
        return self.step is None

    def held_s(self, now_ms: float) -> float:
        return 0.0 if self.ok_since is None else (now_ms - self.ok_since) / 1000.0

    def prompt(self, now_ms: float) -> str:
        if self.done:
            return "Both views captured: see your assessment below"
        failing = [c for c in self.checks if c.ok is False]
        if not self.checks:
            return STEP_PROMPTS[self.step]
        if failing:
            return failing[0].message
        left = max(1, math.ceil(self.settings.still_s - self.held_s(now_ms)))
        return f"Good - hold still for {left} more second{'s' if left != 1 else ''}"

    def feed(self, pose: PoseFrame, rgb: np.ndarray) -> None:
        if self.done:
            return
        t = pose.timestamp_ms
        self._size = (rgb.shape[1], rgb.shape[0])
        keep_ms = (self.settings.still_s + self.settings.window_s) * 1000.0
        self._buf.append((pose, rgb))
        while self._buf and self._buf[0][0].timestamp_ms < t - keep_ms:
            self._buf.popleft()
        if t - self._last_check < self.settings.check_every_ms:
            return
        self._last_check = t
        poses = [p for p, _ in self._buf]
        window = [p for p in poses if p.timestamp_ms >= t - self.settings.window_s * 1000.0]
        if len(window) < MIN_WINDOW_POSES:
            # a slow machine processes under 2 frames a second: a speed needs at least two poses, so
            # "still" could never pass; judge the last few poses instead (their real time apart)
            window = poses[-MIN_WINDOW_POSES:]
        w, h = self._size
        meta = TrackMeta(width=w, height=h)
        self.checks = step_checks(LandmarkTrack.from_frames(window, meta), self.step,
                                  LandmarkTrack.from_frames(poses,
                                                            meta.replace(scene_roll=self._scene_roll(pose, rgb))))
        if all(c.ok is not False for c in self.checks):
            if self.ok_since is None:
                self.ok_since = window[0].timestamp_ms
            elif t - self.ok_since >= self.settings.still_s * 1000.0:
                self._capture(t)
        else:
            self.ok_since = None

    def _scene_roll(self, pose: PoseFrame, rgb: np.ndarray) -> dict:
        """The scene's roll (vision.scene_roll) pooled over the last few frames sampled once per
        ``LIVE_EVERY_S``; re-estimated only when a new frame is sampled."""
        from vision import scene_roll as scene

        if pose.timestamp_ms - self._scene_t < scene.LIVE_EVERY_S * 1000.0:
            return self._scene
        self._scene_t = pose.timestamp_ms
        found = scene.pose_points(pose.image, *self._size) if pose.detected else None
        xy, floor_y, hip = found if found is not None else (None, None, None)
        self._scene_segments.append(scene.frame_segments(rgb, xy, floor_y))
        est = scene.estimate_scene_roll(list(self._scene_segments), self._size, hip)
        self._scene = {} if est is None else est.to_dict()
        return self._scene

    def _capture(self, t: float) -> None:
        rows = [(p, f) for p, f in self._buf if p.timestamp_ms >= self.ok_since]
        self.captured[self.step] = CapturedView(self.step, [p for p, _ in rows], [f for _, f in rows])
        self.step_index += 1
        self.ok_since = None
        self.checks = []
        self._buf.clear()
        self._last_check = -np.inf

    def overlay_text(self, now_ms: float) -> list[str]:
        if self.done:
            return ["Both views captured"]
        n = self.step_index + 1
        return wrap_lines([f"Step {n}/{len(self.steps)}: {self.step} view", self.prompt(now_ms)])


def assess_captured(view: CapturedView, folder: Path, model: str = "", smoothing: dict | None = None
                    ) -> tuple[Any, dict[int, str]]:
    """Assess one captured view with the CLI's ``assess``; return (report, evidence key frames).

    The clean frames are written to ``folder`` as an H.264 clip under a generated name (video stays
    on this machine) so the report's key frames show the real picture with the skeleton drawn.
    """
    import uuid

    from assessment.assess import assess
    from assessment.report import MAX_KEY_FRAMES_PER_FINDING, key_frame_images
    from vision.drawing import AnnotatedVideoWriter

    track = view.track(model, smoothing)
    folder.mkdir(parents=True, exist_ok=True)
    video = folder / f"capture-{uuid.uuid4().hex}-{view.step}.mp4"
    h, w = view.frames[0].shape[:2]
    fps = track.meta.fps if np.isfinite(track.meta.fps) else 15.0
    with AnnotatedVideoWriter(video, w, h, fps) as writer:
        for frame, ts in zip(view.frames, track.timestamp_ms):
            writer.write(frame, ts)
    report = assess(track, video_path=video)
    wanted = [fr for f in report.findings if f.flagged for fr in f.frames[:MAX_KEY_FRAMES_PER_FINDING]]
    if not wanted:
        wanted = [int(track.frame_index[len(track) // 2])]
    return report, key_frame_images(track, wanted, video)


# ============================================================================ hold monitor
class LiveHold:
    """``HoldMonitor`` fed frame by frame, drawn like ``isobalance hold``; created at the first frame
    (the monitor needs the frame size). Adds the patient's guidance (``dashboard.guidance``): why the
    hold has not started, which joint left the still zone and which way back; and a rest calibration
    that starts again when the person moves (``calibration_restarts`` counts them)."""

    def __init__(self, protocol, settings):
        self.protocol = protocol
        self.settings = settings
        self.monitor = None
        self.status = None
        self.finished = False
        self.guidance = None
        self.calibration_restarts = 0
        self.calibration_moved: str | None = None      # the joint that moved in the last refused calibration
        self._guard = None
        self._recent: deque[tuple[float, np.ndarray]] = deque()
        self._size: tuple[int, int] | None = None

    def feed(self, pose: PoseFrame, rgb: np.ndarray) -> None:
        from assessment.hold import HoldMonitor, Phase

        from dashboard.guidance import CalibrationGuard, hold_guidance

        if self.finished:
            return
        if self.monitor is None:
            self._size = (rgb.shape[1], rgb.shape[0])
            self.monitor = HoldMonitor(self.protocol, self._size, self.settings)
            self._guard = CalibrationGuard(self.protocol.channels, self._size)
        self.status = self.monitor.update(pose)
        if self.status.phase is Phase.CALIBRATE and pose.detected:
            moved = self._guard.moving(pose.timestamp_ms, pose.image)
            if moved is not None:             # calibration refused: start it again from this frame
                self.calibration_restarts += 1
                self.calibration_moved = moved
                self.monitor = HoldMonitor(self.protocol, self._size, self.settings)
                self._guard.reset()
                self.status = self.monitor.update(pose)
        self._remember(pose)
        if self.status.phase is Phase.DONE:
            self.finished = True
        ref = None
        if self.status.phase is Phase.HOLD and self.monitor.reps:
            ref = self.monitor.reps[-1].reference.points
        elif self._recent:
            ref = np.nanmedian(np.stack([p for _, p in self._recent]), axis=0)
        self.guidance = hold_guidance(self.status, pose.image if pose.detected else None, self._size,
                                      self.protocol.channels, ref, self.settings.settle_s)
        if self.status.phase is Phase.CALIBRATE and self.calibration_moved:
            from dashboard.guidance import Guidance, joint_words

            self.guidance = Guidance(f"Calibration started again: your {joint_words(self.calibration_moved)} "
                                     "moved. Stand relaxed and keep still.", self.calibration_moved)
        elif self.status.phase is not Phase.CALIBRATE:
            self.calibration_moved = None

    def _remember(self, pose: PoseFrame) -> None:
        """The watched joints' pixels over the last settle time (the position phase's reference)."""
        from vision.track import LANDMARK_INDEX

        t = pose.timestamp_ms
        idx = [LANDMARK_INDEX[n] for n in self.protocol.still_landmarks]
        if pose.detected and idx:
            self._recent.append((t, pose.image[idx, :2] * np.asarray(self._size, float)))
        while self._recent and self._recent[0][0] < t - self.settings.settle_s * 1000.0:
            self._recent.popleft()

    def draw(self, rgb: np.ndarray, pose: PoseFrame, status=None) -> None:
        """The hold overlay of ``status`` (default: the current one) and ``pose`` on ``rgb``, in place."""
        from assessment.hold_drawing import draw_hold_overlay, status_lines

        status = status or self.status
        if status is not None:
            corner = text_corner(rgb.shape, status_lines(status), pose.image if pose.detected else None)
            draw_hold_overlay(rgb, status, pose.image, self.protocol.still_landmarks, corner)

    def result(self):
        """Close the session and return the monitor's ``HoldResult`` (NotMeasurableError if nothing seen)."""
        from assessment.stillness import NotMeasurableError

        self.finished = True
        if self.monitor is None:
            raise NotMeasurableError("no webcam frames arrived: press START and allow the camera")
        return self.monitor.result()


# ============================================================================ the session
def _open_trace():
    """``$ISOBALANCE_LIVE_TRACE``: a file that gets one JSON line per processed frame (model and analysis
    ms, landmarks ready after arrival, the thread's native id) and per returned frame (overlay lag), for
    ``bench/live_fps.py``."""
    import os

    path = os.environ.get("ISOBALANCE_LIVE_TRACE")
    return open(path, "a", buffering=1) if path else None


@dataclass(frozen=True)
class LiveSnapshot:
    """What the page shows; replaced as a whole by the worker thread after every frame."""

    frames: int = 0
    frames_with_pose: int = 0
    last_frame_ms: float | None = None
    size: tuple[int, int] | None = None
    inference_ms: float = float("nan")       # running mean over the last frames
    overlay_ms: float = float("nan")         # analysis + drawing
    fps: float = float("nan")                # frames processed per second, over the last frames
    camera_fps: float = float("nan")         # frames the camera sends per second (their own timestamps), all
                                             # counted, processed or skipped
    skipped: int = 0                         # frames the machine had no time for (never processed, never queued)
    lag_p50_ms: float = float("nan")         # overlay age when its frame is ready: now - the drawn pose's arrival
    lag_p95_ms: float = float("nan")         # (median / 95th percentile over the last returned frames)
    error: str = ""
    # guided capture
    step: str | None = None
    prompt: str = ""
    checks: tuple[Check, ...] = ()
    held_s: float = 0.0
    captured: tuple[str, ...] = ()
    # hold
    hold: Any = None                          # assessment.hold.HoldStatus
    hold_finished: bool = False
    guidance: Any = None                      # dashboard.guidance.Guidance: what to tell the patient now
    calibration_restarts: int = 0

    @property
    def pose_seen(self) -> bool:
        return self.frames_with_pose > 0


@dataclass(frozen=True)
class Overlay:
    """What is drawn on the returned video: the newest processed frame's landmarks and text, frozen when
    that frame was processed, so the webrtc thread can draw them on every newer frame without a lock."""

    t: float                                  # arrival time (ms) of the frame these landmarks are from
    draw: Callable[[np.ndarray], None]        # draws them on a frame in place


class LiveSession:
    """One browser session's live processing (capture or hold), callable from the webrtc thread.

    ``estimator`` is one landmarker or a tuple of them (``shared_estimator``). The webrtc callback is
    ``on_frames``: it gets every frame that arrived since its last call, counts them all, and passes the
    newest to ``on_frame`` (the older ones are skipped, counted). By default (``handover`` False,
    ``live_workers() == 0``) ``on_frame`` processes the frame itself and returns it annotated
    (streamlit-webrtc repeats the last returned frame meanwhile).
    With ``handover`` it never waits for the model: it hands the frame over (``offer``) and returns that
    same frame with the newest overlay drawn on it (``compose``), so the video keeps the camera's rate
    and the skeleton trails it by the processing time (measured either way: ``lag_p50_ms`` /
    ``lag_p95_ms``, the overlay's age when its frame is ready). One worker
    thread per landmarker takes the newest waiting frame (older waiting frames are skipped, and counted,
    never queued), runs the model outside any session lock, then the analysis in time order under it.
    Each frame keeps the time it arrived, so the hold timer and the capture's "still for 3 s" count
    camera seconds however many frames are skipped; a frame finished after a newer one is dropped, never
    fed out of order. ``process`` runs one frame start to end in the caller's thread (the tests' path).
    """

    IDLE_S = 5.0                      # a worker with no frame for this long ends (a closed tab leaves none)

    def __init__(self, estimator, settings: PipelineSettings, task: GuidedCapture | LiveHold,
                 now_ms: Callable[[], float] | None = None, draw_skeleton: bool = True,
                 handover: bool | None = None):
        self.estimators = tuple(estimator) if isinstance(estimator, (tuple, list)) else (estimator,)
        self.handover = live_workers() > 0 if handover is None else handover
        self.stream = PoseStream(self.estimators[0], settings, now_ms)
        self.task = task
        self.draw_skeleton = draw_skeleton
        self._lock = threading.Lock()
        self._snapshot = LiveSnapshot()
        self._times: deque[tuple[float, float]] = deque(maxlen=30)      # (model ms, analysis ms)
        self._stamps: deque[float] = deque(maxlen=30)
        # hand-over between on_frame and the workers (guarded by _inbox_lock)
        self._inbox_lock = threading.Condition()
        self._inbox: tuple[np.ndarray, float] | None = None              # (rgb, arrival t ms)
        self._idle = list(self.estimators)                               # landmarkers without a worker thread
        self._overlay: Overlay | None = None
        self._arrivals: deque[float] = deque(maxlen=60)
        self._camera: deque[float] = deque(maxlen=60)                   # every received frame's own time, ms
        self._lags: deque[float] = deque(maxlen=90)                      # overlay age on returned frames, ms
        self._fed_t = -math.inf
        self.skipped = 0
        self._trace = _open_trace()

    # ---------------------------------------------------------------- webrtc thread
    async def on_frames(self, frames: list) -> list:
        """streamlit-webrtc ``queued_video_frames_callback``: every frame that arrived since the last call
        (it queues them while this one runs). Each is counted, by its own timestamp (``camera_fps``: what
        the camera sends, not what the callback got); the newest goes through ``on_frame`` and the older
        ones are skipped and counted (``skipped``). Skipping never bends the hold timer or "still for 3 s":
        every processed frame carries the time it was taken, so they count camera seconds."""
        with self._inbox_lock:
            self.skipped += len(frames) - 1
            for frame in frames:
                if frame.pts is not None and frame.time_base is not None:
                    t = float(frame.pts * frame.time_base) * 1000.0
                    if self._camera and t <= self._camera[-1]:
                        self._camera.clear()               # a new connection restarts the stream's clock
                    self._camera.append(t)
        return [self.on_frame(frames[-1])]

    def on_frame(self, frame):
        """One av.VideoFrame in, the same frame with the newest overlay out, in yuv420p (processed here
        first unless ``handover``)."""
        rgb = frame_rgb(frame)   # on this thread: PyAV would start conversion threads for every frame
        try:
            if self.handover:
                self.offer(rgb)
                out = self.compose(rgb)
            else:
                out = self.process(rgb)
        except Exception as exc:  # noqa: BLE001 - an exception here ends live processing for good
            # (streamlit-webrtc then falls back to plain loopback video and only logs the error): show it,
            # return the frame as it came, and process the next one
            with self._lock:
                self._snapshot = replace(self._snapshot, error=f"a frame could not be processed: {exc}")
            out = rgb
        # back in the VP8 encoder's own format: streamlit-webrtc sends the last returned frame again for
        # every camera frame that arrives while the next one is processed, and aiortc's encoder would
        # convert any other format on every send
        new = yuv420p_frame(out)
        new.pts, new.time_base = frame.pts, frame.time_base
        return new

    def offer(self, rgb: np.ndarray) -> None:
        """Hand a frame, stamped with its arrival time, to the worker threads (starting them when
        needed); never waits for the model."""
        t = self.stream.now_ms()
        with self._inbox_lock:
            if self._inbox is not None:
                self.skipped += 1                          # replaced before any worker took it
            self._inbox = (rgb, t)
            self._arrivals.append(t)
            if self._idle:
                threading.Thread(target=self._work, args=(self._idle.pop(),), daemon=True,
                                 name="isobalance-live").start()
            self._inbox_lock.notify()

    def compose(self, rgb: np.ndarray) -> np.ndarray:
        """``rgb`` with the newest overlay drawn on a copy (``rgb`` itself if nothing is processed yet);
        records the overlay's age when the frame is ready (``lag_*_ms``)."""
        with self._inbox_lock:
            overlay = self._overlay
        if overlay is None:
            return rgb
        out = rgb.copy()
        overlay.draw(out)
        lag = self.stream.now_ms() - overlay.t
        with self._inbox_lock:
            self._lags.append(lag)
        self._write_trace(at=round(lag + overlay.t, 1), lag=round(lag, 1))
        return out

    def overlay(self) -> Overlay | None:
        """The newest overlay (None before the first processed frame)."""
        with self._inbox_lock:
            return self._overlay

    def _work(self, estimator) -> None:
        try:
            while True:
                with self._inbox_lock:
                    if not self._inbox_lock.wait_for(lambda: self._inbox is not None, timeout=self.IDLE_S):
                        return
                    rgb, t = self._inbox
                    self._inbox = None
                try:
                    self._process_at(rgb, t, estimator)
                except Exception as exc:  # noqa: BLE001 - one bad frame must not end live processing for good
                    with self._lock:
                        self._snapshot = replace(self._snapshot, error=f"a frame could not be processed: {exc}")
        finally:
            with self._inbox_lock:
                self._idle.append(estimator)   # the next offered frame starts a worker for it again

    # ---------------------------------------------------------------- one frame
    def process(self, rgb: np.ndarray) -> np.ndarray:
        """Pose, analysis and drawing for one RGB frame in this thread; returns the annotated frame."""
        t = self.stream.now_ms()
        with self._inbox_lock:
            self._arrivals.append(t)
        self._process_at(rgb, t, self.stream.estimator, wait=True)
        return self.compose(rgb)

    def _process_at(self, rgb: np.ndarray, t: float, estimator, wait: bool = False) -> None:
        """The model (outside the session lock unless ``wait``: one frame at a time), then subject choice
        and analysis in time order, then the new overlay; nothing when a newer frame was already fed."""
        t0 = time.perf_counter()
        try:
            if wait:
                with self._lock:
                    poses = estimator.process(rgb, t)
            else:
                poses = estimator.process(rgb, t)
            poses = with_appearance(poses, rgb)
        except (IsobalanceError, RuntimeError, ValueError) as exc:
            with self._lock:
                self._snapshot = replace(self._snapshot, error=f"pose model failed on a frame: {exc}")
            return
        t1 = time.perf_counter()
        with self._lock:
            if t <= self._fed_t:
                with self._inbox_lock:
                    self.skipped += 1                      # a newer frame overtook it: never fed out of order
                return
            self._fed_t = t
            pose = self.stream.select(poses, t, rgb.shape[1] / rgb.shape[0])
            t2 = time.perf_counter()
            error = ""
            try:
                self.task.feed(pose, rgb)
                draw = self._overlay_for(pose, rgb.shape)
            except IsobalanceError as exc:
                error, draw = str(exc), (lambda out: None)
            t3 = time.perf_counter()
            self._times.append(((t1 - t0) * 1000.0, (t3 - t2) * 1000.0))
            with self._inbox_lock:
                self._overlay = Overlay(t, draw)
            self._publish(pose, rgb, error)
            self._write_trace(t=round(t, 1), model_ms=round((t1 - t0) * 1000.0, 1),
                              analysis_ms=round((t3 - t2) * 1000.0, 1), ready_ms=round(self.stream.now_ms() - t, 1),
                              tid=threading.get_native_id())

    def _overlay_for(self, pose: PoseFrame, shape: tuple[int, ...]) -> Callable[[np.ndarray], None]:
        """The drawing of this pose and the task's current text, frozen now (drawn later, on newer frames)."""
        from vision.drawing import draw_label, draw_pose

        skeleton = pose.image if self.draw_skeleton and pose.detected else None
        if isinstance(self.task, LiveHold):
            task = self.task
            if task.status is None:
                return lambda out: skeleton is not None and draw_pose(out, skeleton)
            status = task.status
            return lambda out: task.draw(out, pose, status)
        lines = self.task.overlay_text(pose.timestamp_ms)
        corner = text_corner(shape, lines, pose.image if pose.detected else None)

        def draw(out: np.ndarray) -> None:
            if skeleton is not None:
                draw_pose(out, skeleton)
            for row, text in enumerate(lines):
                draw_label(out, text, row=row, corner=corner)
        return draw

    def _publish(self, pose: PoseFrame, rgb: np.ndarray, error: str) -> None:
        times = np.array(self._times)
        self._stamps.append(pose.timestamp_ms)
        span = (self._stamps[-1] - self._stamps[0]) / 1000.0
        with self._inbox_lock:
            arrivals = list(self._camera) if len(self._camera) > 1 else list(self._arrivals)
            lags = list(self._lags)
            skipped = self.skipped
        cam_span = (arrivals[-1] - arrivals[0]) / 1000.0 if len(arrivals) > 1 else 0.0
        snap = self._snapshot
        common = dict(frames=snap.frames + 1, frames_with_pose=snap.frames_with_pose + int(pose.detected),
                      last_frame_ms=pose.timestamp_ms, size=(rgb.shape[1], rgb.shape[0]),
                      inference_ms=float(times[:, 0].mean()), overlay_ms=float(times[:, 1].mean()),
                      lag_p50_ms=float(np.percentile(lags, 50)) if lags else float("nan"),
                      lag_p95_ms=float(np.percentile(lags, 95)) if lags else float("nan"),
                      fps=(len(self._stamps) - 1) / span if span > 0 else float("nan"),
                      camera_fps=(len(arrivals) - 1) / cam_span if cam_span > 0 else float("nan"), skipped=skipped,
                      error=error)
        task = self.task
        if isinstance(task, GuidedCapture):
            self._snapshot = LiveSnapshot(**common, step=task.step, prompt=task.prompt(pose.timestamp_ms),
                                          checks=tuple(task.checks), held_s=task.held_s(pose.timestamp_ms),
                                          captured=tuple(task.captured))
        else:
            self._snapshot = LiveSnapshot(**common, hold=task.status, hold_finished=task.finished,
                                          guidance=task.guidance, calibration_restarts=task.calibration_restarts)

    def _write_trace(self, **row) -> None:
        if self._trace is not None:
            import json

            self._trace.write(json.dumps(row) + "\n")

    # ---------------------------------------------------------------- page thread
    def snapshot(self) -> LiveSnapshot:
        with self._lock:
            return self._snapshot

    def captured(self) -> dict[str, CapturedView]:
        with self._lock:
            return dict(self.task.captured) if isinstance(self.task, GuidedCapture) else {}

    def hold_result(self):
        with self._lock:
            return self.task.result()

    def reset(self, task: GuidedCapture | LiveHold) -> None:
        with self._lock:
            self.task = task
            self._snapshot = LiveSnapshot()
            self._times.clear()
            self._stamps.clear()
            with self._inbox_lock:
                self._overlay = None                       # no old step's text on the new capture's video
                self._lags.clear()
                self.skipped = 0
