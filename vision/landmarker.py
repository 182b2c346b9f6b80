"""MediaPipe PoseLandmarker as preprocess -> inference -> postprocess, returning plain numpy arrays.

Nothing outside this module touches MediaPipe result objects (see ``vision.track`` for the data type).
VIDEO mode is used for files (tracking across frames, strictly increasing timestamps), IMAGE mode for
unrelated stills, LIVE_STREAM mode for a webcam (asynchronous: frames the model is too busy for are
dropped instead of queued, so the view never lags behind the person).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from vision.errors import IsobalanceError
from vision.track import N_LANDMARKS


@dataclass(frozen=True)
class Poses:
    """All poses found in one frame: image (P,33,5) normalized x,y,z,visibility,presence; world (P,33,3) m.

    ``appearance`` (P, D) holds each pose's torso colour histogram (``vision.identity``) when the
    producer computed it; ``searched`` says every person in the frame was looked for (a detector ran
    for up to two people), not only the one being tracked.
    """

    image: np.ndarray
    world: np.ndarray
    appearance: np.ndarray | None = None
    searched: bool = False

    def __len__(self) -> int:
        return len(self.image)

    @classmethod
    def none(cls) -> "Poses":
        return cls(np.zeros((0, N_LANDMARKS, 5)), np.zeros((0, N_LANDMARKS, 3)))


class ModelLoadError(IsobalanceError):
    pass


MODES = ("video", "image", "live")


class PoseEstimator:
    """One PoseLandmarker. Use as a context manager: MediaPipe objects must be closed explicitly."""

    def __init__(self, model_path: str | os.PathLike, mode: str = "video", num_poses: int = 2,
                 min_detection_confidence: float = 0.5, min_presence_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5,
                 on_live_result: Callable[[int, Poses], None] | None = None):
        from mediapipe.tasks.python import BaseOptions, vision

        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode = mode
        self.model_path = Path(model_path)
        running = {"video": vision.RunningMode.VIDEO, "image": vision.RunningMode.IMAGE,
                   "live": vision.RunningMode.LIVE_STREAM}[mode]
        kwargs = {}
        if mode == "live":
            if on_live_result is None:
                raise ValueError("live mode needs on_live_result(timestamp_ms, poses)")
            kwargs["result_callback"] = lambda result, _image, ts: on_live_result(ts, postprocess(result))
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=running, num_poses=num_poses,
            min_pose_detection_confidence=min_detection_confidence,
            min_pose_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence, **kwargs)
        try:
            self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(f"cannot load pose model {self.model_path}: {exc}") from None
        self._lock = threading.Lock()
        self._last_ts = -1

    def process(self, rgb: np.ndarray, timestamp_ms: float = 0.0) -> Poses:
        """Run the model on one RGB frame (video/image mode)."""
        image = preprocess(rgb)
        with self._lock:
            if self.mode == "image":
                result = self._landmarker.detect(image)
            elif self.mode == "video":
                result = self._landmarker.detect_for_video(image, self._next_ts(timestamp_ms))
            else:
                raise RuntimeError("live mode: use submit()")
        return postprocess(result)

    def submit(self, rgb: np.ndarray, timestamp_ms: float) -> None:
        """Live mode: hand a frame to the model; its poses arrive through ``on_live_result``."""
        with self._lock:
            self._landmarker.detect_async(preprocess(rgb), self._next_ts(timestamp_ms))

    def _next_ts(self, timestamp_ms: float) -> int:
        ts = int(round(timestamp_ms))
        if ts <= self._last_ts:  # MediaPipe rejects non-increasing timestamps
            ts = self._last_ts + 1
        self._last_ts = ts
        return ts

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self) -> "PoseEstimator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def preprocess(rgb: np.ndarray):
    import mediapipe as mp

    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("expected an (H, W, 3) uint8 RGB image")
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))


def postprocess(result) -> Poses:
    """MediaPipe PoseLandmarkerResult -> plain arrays (the only place that reads its fields)."""
    if not result.pose_landmarks:
        return Poses.none()
    image = np.array([[(lm.x, lm.y, lm.z, _f(lm.visibility), _f(lm.presence)) for lm in pose]
                      for pose in result.pose_landmarks], dtype=np.float64)
    world = np.array([[(lm.x, lm.y, lm.z) for lm in pose] for pose in result.pose_world_landmarks],
                     dtype=np.float64)
    return Poses(image, world)


def _f(value) -> float:
    return float("nan") if value is None else float(value)
