"""MediaPipe PoseLandmarker as preprocess -> inference -> postprocess, returning plain numpy arrays.

Nothing outside this module touches MediaPipe result objects (see ``vision.track`` for the data type).
VIDEO mode is used for files (tracking across frames, strictly increasing timestamps), IMAGE mode for
unrelated stills, LIVE_STREAM mode for a webcam (asynchronous: frames the model is too busy for are
dropped instead of queued, so the view never lags behind the person).
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import os
import sys
import threading
import types
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


class _Deferred(types.ModuleType):
    """Stands in for a module while MediaPipe is imported; the real module is imported at the first
    attribute anyone reads through it."""

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self.__name__), attr)


# MediaPipe's task families isobalance never runs: ``mediapipe.tasks.python`` imports every family at
# its own import (audio alone is ~half of MediaPipe's import time: 0.255 -> 0.115 s wall for the import
# with these four deferred, 3 alternating pairs, load ~5); they are stand-ins too, imported at first use
UNUSED_TASKS = tuple(f"mediapipe.tasks.python.{family}" for family in ("audio", "text", "decision", "retrieval"))


def import_mediapipe():
    """``mediapipe``, imported without loading matplotlib or the task families isobalance never runs.

    ``mediapipe.tasks.python.vision`` imports its ``drawing_utils`` (plotting helpers isobalance never
    calls), which imports ``matplotlib.pyplot``: ~40 MB of RSS in every process that runs a model
    (measured: numpy + cv2 88 MB, + matplotlib 108 MB, + pyplot 128 MB). While MediaPipe is imported
    ``matplotlib`` and ``matplotlib.pyplot`` are stand-ins (``_Deferred``) that drawing_utils keeps;
    they are removed from ``sys.modules`` right after, so anyone importing matplotlib later gets the
    real one, and a drawing_utils call imports it then. Nothing changes when matplotlib is loaded
    already. The same for ``UNUSED_TASKS``: ``mediapipe.tasks.python.audio`` is a stand-in until an
    attribute is read through it. tests/vision/test_landmarker.py checks both."""
    if "mediapipe.tasks.python.vision" in sys.modules:
        import mediapipe

        return mediapipe
    names = [*(() if "matplotlib" in sys.modules else ("matplotlib", "matplotlib.pyplot")),
             *(name for name in UNUSED_TASKS if name not in sys.modules)]
    stand_ins = {name: _Deferred(name) for name in names}
    if "matplotlib" in stand_ins:
        stand_ins["matplotlib"].pyplot = stand_ins["matplotlib.pyplot"]
    sys.modules.update(stand_ins)
    try:
        import mediapipe
        import mediapipe.tasks.python.vision  # noqa: F401 - the part that imports drawing_utils
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    return mediapipe


def preload_mediapipe() -> None:
    """Import MediaPipe and load its native library on the calling thread, before model threads start.

    MediaPipe's Tasks API loads ``libmediapipe.so`` (ctypes, holding the GIL) when the first landmarker
    is created. Since the search stopped being a MediaPipe graph, that happened first on the parallel
    path's segment threads: the import and the load on two threads at once (py-spy: one inside
    ``ctypes.CDLL`` holding the GIL) while the main thread, which handles Ctrl+C, waits. Done here
    once, it is over before any thread starts. (It did NOT fix the slow Ctrl+C seen in fresh-clone
    runs of the whole suite, 10-25 s for ``batch`` and ``landmarks``; see issue #14's note.)
    Versions without the lazy loader only need the import."""
    import_mediapipe()
    try:
        from mediapipe.tasks.python.core import mediapipe_c_bindings
    except ImportError:
        return
    load = getattr(mediapipe_c_bindings, "load_raw_library", None)
    if load is not None:
        load()


MODES = ("video", "image", "live")
# Load the graphs from the bundle with every weight stored float32 (vision.models.unpacked_bundle) instead
# of the bundle itself: XNNPACK packs the same weights (every pose bit-identical) but keeps no unpacked
# float32 copy of the float16/sparse ones beside them, ~7 MB less per graph (two on the parallel path);
# and without the landmark model's segmentation head, ~29 % of its CPU (bench/mask_head.py).
UNPACKED_WEIGHTS = True


def graph_bundle(model_path: str | os.PathLike) -> Path:
    """The file a landmarker graph loads for the bundle ``model_path``: its float32 twin from the model
    cache (made on first use, ~3 s once per bundle), else the bundle itself (``UNPACKED_WEIGHTS`` off,
    or the twin cannot be made). Found once per process and file version: the twin's sha256 check reads
    25 MB, and the segments of a parallel run ask at once. The twin has no segmentation head
    (``vision.models.unpacked_bundle``): a graph that asks for masks must load the bundle itself, as
    tests/vision/crossing.py does."""
    path = Path(model_path)
    if not UNPACKED_WEIGHTS:
        return path
    try:
        st = path.stat()
    except OSError:
        return path                      # the load reports the missing file, with the bundle's name
    from vision.models import models_dir

    key = (str(path), st.st_mtime_ns, st.st_size, str(models_dir()))
    with _GRAPH_BUNDLE_LOCK:
        found = _graph_bundle(*key)
        if found != path and not found.is_file():    # the twin deleted since (``models list``: safe to delete)
            _graph_bundle.cache_clear()
            found = _graph_bundle(*key)
        return found


_GRAPH_BUNDLE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=8)
def _graph_bundle(path: str, mtime_ns: int, size: int, cache: str) -> Path:
    from vision.memory import release_free_memory
    from vision.models import ModelError, unpacked_bundle

    try:
        return unpacked_bundle(path) or Path(path)
    except ModelError:                   # not a bundle: its load says so, with its own name
        return Path(path)
    finally:
        release_free_memory()            # what making the twin took (first use only), before any graph loads


# Run VIDEO and IMAGE frames through MediaPipe's Tasks C API (libmediapipe's MpPoseLandmarkerDetect*,
# the library its Python wrapper calls) on the calling thread, the poses read with numpy (``_CCalls``),
# instead of through the wrapper: it sends every call to a thread of its own and back (two hops a frame),
# re-registers ~20 ctypes signatures for every mp.Image and builds 66 landmark dataclasses a frame that
# postprocess reads one by one. Same graph, same inputs: poses bit-identical (tests/vision/test_landmarker.py);
# ~0.5 ms less CPU a frame outside MediaPipe's threads (bench/graph_cost.py). Off, or a MediaPipe whose
# wrapper does not look as expected: the wrapper's public calls.
# Off by default: with two segments calling it, the process grew with the clip's length (landmarks, 6000
# frames: tree 352 MB, private 235, against 312 / 202 with the wrapper, 302 / 193 at 1200 frames either way;
# one thread alone over 3000 frames stays flat, so likely the heap of the two calling threads, not traced),
# and its wall gain was within the noise (3 quiet alternating pairs: 22.9 / 20.2 / 22.2 s on, 22.2 / 22.4 /
# 22.3 off). README "Speed: the landmark model without its mask head".
DIRECT_CALLS = False


@dataclass(frozen=True)
class _CCalls:
    """The C functions a VIDEO or IMAGE frame needs, with their own ctypes prototypes (the wrapper's, which
    it re-sets on the shared library object, are left alone), and the landmark struct as a numpy dtype."""

    image_from_uint8: Callable
    image_free: Callable
    detect_image: Callable
    detect_video: Callable
    close_result: Callable
    error_free: Callable
    handle_status: Callable              # MediaPipe's own status -> exception mapping
    result_type: type
    landmark: np.dtype
    srgb: int

    def detect(self, handle: ctypes.c_void_p, rgb: np.ndarray, timestamp_ms: int | None) -> Poses:
        """One frame through the landmarker ``handle``: ``timestamp_ms`` None = IMAGE mode. The caller holds
        the estimator's lock (one call at a time per landmarker, as the wrapper's own thread ensures)."""
        rgb = np.ascontiguousarray(rgb)
        height, width = rgb.shape[:2]
        error, image = ctypes.c_char_p(), ctypes.c_void_p()
        self._check(self.image_from_uint8(self.srgb, width, height, rgb.ctypes.data, rgb.size,
                                          ctypes.byref(image), ctypes.byref(error)), error)
        try:
            result = self.result_type()
            if timestamp_ms is None:
                status = self.detect_image(handle, image, None, ctypes.byref(result), ctypes.byref(error))
            else:
                status = self.detect_video(handle, image, None, timestamp_ms, ctypes.byref(result),
                                           ctypes.byref(error))
            self._check(status, error)                    # on failure there is no result to close
            try:
                return self._poses(result)
            finally:
                self.close_result(ctypes.byref(result))
        finally:
            self.image_free(image)

    def _check(self, status: int, error: ctypes.c_char_p) -> None:
        try:
            self.handle_status(status, error)
        finally:
            if error.value is not None:
                self.error_free(error)

    def _poses(self, result) -> Poses:
        """The result's landmarks as postprocess makes them: float32 -> float64 exactly, an unset
        visibility or presence -> nan; copied before the result is closed."""
        if not result.pose_landmarks_count:
            return Poses.none()
        image = np.array([self._landmarks(result.pose_landmarks[i], 5)
                          for i in range(result.pose_landmarks_count)], dtype=np.float64)
        world = np.array([self._landmarks(result.pose_world_landmarks[i], 3)
                          for i in range(result.pose_world_landmarks_count)], dtype=np.float64)
        return Poses(image, world)

    def _landmarks(self, landmarks, columns: int) -> np.ndarray:
        size = landmarks.landmarks_count * self.landmark.itemsize
        raw = np.frombuffer(ctypes.string_at(ctypes.cast(landmarks.landmarks, ctypes.c_void_p).value, size)
                            if size else b"", self.landmark)
        out = np.empty((len(raw), columns), dtype=np.float64)
        out[:, 0], out[:, 1], out[:, 2] = raw["x"], raw["y"], raw["z"]
        if columns == 5:
            out[:, 3] = np.where(raw["has_visibility"], raw["visibility"], np.nan)
            out[:, 4] = np.where(raw["has_presence"], raw["presence"], np.nan)
        return out


@functools.lru_cache(maxsize=1)
def _c_calls() -> _CCalls | None:
    """The C calls, or None when this MediaPipe's wrapper is not the ctypes one they were written against
    (then the wrapper's public calls are used)."""
    try:
        from mediapipe.tasks.python.components.containers import landmark_c
        from mediapipe.tasks.python.core import mediapipe_c_bindings, mediapipe_c_utils
        from mediapipe.tasks.python.vision import pose_landmarker
        from mediapipe.tasks.python.vision.core.image import ImageFormat

        lib = mediapipe_c_bindings.load_raw_library()
        result_type = pose_landmarker.MpPoseLandmarkerResultC
        normalized, world = landmark_c.MpNormalizedLandmarkC, landmark_c.MpLandmarkC
        fields = ("x", "y", "z", "has_visibility", "visibility", "has_presence", "presence")
        layout = [(f, getattr(normalized, f).offset) for f in fields]
        if (ctypes.sizeof(world) != ctypes.sizeof(normalized)
                or layout != [(f, getattr(world, f).offset) for f in fields]
                or [getattr(normalized, f).size for f in fields] != [4, 4, 4, 1, 4, 1, 4]):
            return None
        landmark = np.dtype({"names": list(fields), "formats": ["<f4"] * 3 + ["?", "<f4", "?", "<f4"],
                             "offsets": [o for _, o in layout], "itemsize": ctypes.sizeof(normalized)})

        def c(name: str, restype, *argtypes):
            fn = lib[name]                    # a new function object: its prototype is ours alone
            fn.restype, fn.argtypes = restype, list(argtypes)
            return fn

        vp, err, res = ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(result_type)
        return _CCalls(
            image_from_uint8=c("MpImageCreateFromUint8Data", ctypes.c_int, ctypes.c_int, ctypes.c_int,
                               ctypes.c_int, vp, ctypes.c_int, ctypes.POINTER(vp), err),
            image_free=c("MpImageFree", None, vp),
            detect_image=c("MpPoseLandmarkerDetectImage", ctypes.c_int, vp, vp, vp, res, err),
            detect_video=c("MpPoseLandmarkerDetectForVideo", ctypes.c_int, vp, vp, vp, ctypes.c_int64, res, err),
            close_result=c("MpPoseLandmarkerCloseResult", None, res),
            error_free=c("MpErrorFree", None, vp), handle_status=mediapipe_c_utils.handle_status,
            result_type=result_type, landmark=landmark, srgb=int(ImageFormat.SRGB))
    except (ImportError, AttributeError, OSError, TypeError, ValueError):
        return None


# Drop the bundle's file pages from memory once this landmarker has packed its weights (its first frame
# with a pose): MediaPipe never reads them again, 9 MB per graph (vision.memory.release_file_pages).
RELEASE_MODEL_PAGES = True


class PoseEstimator:
    """One PoseLandmarker. Use as a context manager: MediaPipe objects must be closed explicitly."""

    def __init__(self, model_path: str | os.PathLike, mode: str = "video", num_poses: int = 2,
                 min_detection_confidence: float = 0.5, min_presence_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5,
                 on_live_result: Callable[[int, Poses], None] | None = None):
        import_mediapipe()
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

        def create(asset: Path):
            options = vision.PoseLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(asset)),
                running_mode=running, num_poses=num_poses,
                min_pose_detection_confidence=min_detection_confidence,
                min_pose_presence_confidence=min_presence_confidence,
                min_tracking_confidence=min_tracking_confidence, **kwargs)
            return vision.PoseLandmarker.create_from_options(options)

        # the file the graph maps (graph_bundle): the bundle's float32 twin, or the bundle when that fails
        self.asset_path = graph_bundle(self.model_path)
        try:
            try:
                self._landmarker = create(self.asset_path)
            except (RuntimeError, ValueError, OSError):      # OSError: the twin deleted in between
                if self.asset_path == self.model_path:
                    raise
                self.asset_path = self.model_path
                self._landmarker = create(self.asset_path)
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(f"cannot load pose model {self.model_path}: {exc}") from None
        self._lock = threading.Lock()
        self._last_ts = -1
        handle = getattr(self._landmarker, "_handle", None)
        self._c = _c_calls() if DIRECT_CALLS and mode != "live" and isinstance(handle, ctypes.c_void_p) \
            and handle.value else None
        self._packed = not RELEASE_MODEL_PAGES   # True once the model pages were released (or never will be)
        if not self._packed:
            # what the load read (the bundle's index, the detector's weights) is read no more either; the
            # landmark model's pages come back from the page cache when its first frame packs them
            from vision.memory import release_file_pages

            release_file_pages(self.asset_path)

    def process(self, rgb: np.ndarray, timestamp_ms: float = 0.0) -> Poses:
        """Run the model on one RGB frame (video/image mode)."""
        if self.mode == "live":
            raise RuntimeError("live mode: use submit()")
        if self._c is not None:
            check_rgb(rgb)
            with self._lock:
                if self._landmarker is None:      # closed: no poses, as the wrapper's closed dispatcher gives
                    return Poses.none()
                poses = self._c.detect(self._landmarker._handle, rgb,
                                       None if self.mode == "image" else self._next_ts(timestamp_ms))
        else:
            image = preprocess(rgb)
            with self._lock:
                if self._landmarker is None:
                    return Poses.none()
                if self.mode == "image":
                    result = self._landmarker.detect(image)
                else:
                    result = self._landmarker.detect_for_video(image, self._next_ts(timestamp_ms))
            poses = postprocess(result)
        if not self._packed and len(poses):
            self._release_model_pages()
        return poses

    def _release_model_pages(self) -> None:
        """A pose was found: the detector and the landmark model have both run, so XNNPACK has packed
        their weights and the bundle's mapping is read no more (vision.memory)."""
        from vision.memory import release_file_pages

        self._packed = True
        release_file_pages(self.asset_path)

    def submit(self, rgb: np.ndarray, timestamp_ms: float) -> None:
        """Live mode: hand a frame to the model; its poses arrive through ``on_live_result``."""
        with self._lock:
            if self._landmarker is not None:
                self._landmarker.detect_async(preprocess(rgb), self._next_ts(timestamp_ms))

    def _next_ts(self, timestamp_ms: float) -> int:
        ts = int(round(timestamp_ms))
        if ts <= self._last_ts:  # MediaPipe rejects non-increasing timestamps
            ts = self._last_ts + 1
        self._last_ts = ts
        return ts

    def close(self) -> None:
        with self._lock:                  # not while a direct call is using the handle
            landmarker, self._landmarker = self._landmarker, None
        if landmarker is not None:
            landmarker.close()

    def __enter__(self) -> "PoseEstimator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_rgb(rgb: np.ndarray) -> None:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("expected an (H, W, 3) uint8 RGB image")


def preprocess(rgb: np.ndarray):
    mp = import_mediapipe()

    check_rgb(rgb)
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
