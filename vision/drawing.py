"""Drawing, kept apart from inference: skeleton overlay and labels on RGB frames, and an annotated
video writer (a context manager) that encodes H.264 so browsers can play the result.
"""

from __future__ import annotations

import functools
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from vision.track import POSE_CONNECTIONS

LEFT_COLOR = (255, 140, 0)    # RGB: subject's left in orange
RIGHT_COLOR = (0, 160, 255)   # subject's right in blue
MID_COLOR = (230, 230, 230)


def _side_color(i: int, j: int) -> tuple[int, int, int]:
    from vision.track import LANDMARK_NAMES

    a, b = LANDMARK_NAMES[i], LANDMARK_NAMES[j]
    if a.startswith("left") and b.startswith("left"):
        return LEFT_COLOR
    if a.startswith("right") and b.startswith("right"):
        return RIGHT_COLOR
    return MID_COLOR


# (i, j, colour) of every skeleton line, worked out once: draw_pose runs on every frame of a video
_LINES = tuple((i, j, _side_color(i, j)) for i, j in POSE_CONNECTIONS)


def draw_pose(rgb: np.ndarray, image_landmarks: np.ndarray, min_visibility: float = 0.5) -> np.ndarray:
    """Draw the skeleton of one pose (33,5 normalized) onto ``rgb`` in place and return it.

    Points go to OpenCV as Python ints from one ``tolist``: converting numpy points one by one took half
    of the 0.9 ms a pose cost on every frame of an annotated video (0.4 ms now, same pixels)."""
    import cv2

    if not np.isfinite(image_landmarks[0, 0]):
        return rgb
    h, w = rgb.shape[:2]
    thick = max(2, round(min(h, w) / 200))
    pts = [tuple(p) for p in np.round(image_landmarks[:, :2] * (w, h)).astype(int).tolist()]
    seen = (image_landmarks[:, 3] >= min_visibility).tolist()        # NaN compares False: not seen
    for i, j, color in _LINES:
        if seen[i] and seen[j]:
            cv2.line(rgb, pts[i], pts[j], color, thick, cv2.LINE_AA)
    for p, visible in zip(pts, seen):
        if visible:
            cv2.circle(rgb, p, thick + 1, (255, 255, 255), -1, cv2.LINE_AA)
    return rgb


CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


def _label_layout(shape: tuple[int, ...], text: str, row: int, corner: str
                  ) -> tuple[tuple[int, int, int, int], int, float, int]:
    """(band box, text height, font scale, stroke) of a label: one ``getTextSize`` for both callers."""
    return _layout(int(shape[0]), int(shape[1]), text, row, corner)


@functools.lru_cache(maxsize=256)
def _layout(h: int, w: int, text: str, row: int, corner: str) -> tuple[tuple[int, int, int, int], int, float, int]:
    """``_label_layout`` of a frame ``h`` x ``w``, kept for the labels drawn again and again (a hold's
    lines; ``getTextSize`` costs ~0.03 ms a call)."""
    import cv2

    scale = max(0.5, min(h, w) / 700)
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    step = th + base + 10
    bw, bh = tw + 10, th + base + 8
    x0 = 4 if corner.endswith("left") else w - 4 - bw
    y0 = 8 + row * step if corner.startswith("top") else h - 8 - bh - row * step
    return (x0, y0, x0 + bw, y0 + bh), th, scale, thick


def label_box(shape: tuple[int, ...], text: str, row: int = 0, corner: str = "top-left"
              ) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixels of the dark band ``draw_label`` paints for ``text`` at ``row``, rows
    stacking away from ``corner`` (one of ``CORNERS``) - so callers can keep labels off the person."""
    return _label_layout(shape, text, row, corner)[0]


def draw_label(rgb: np.ndarray, text: str, row: int = 0, color=(255, 255, 255), corner: str = "top-left"
               ) -> np.ndarray:
    """Write ``text`` on a dark band in a corner of the frame (``row`` stacks several lines).

    The band is opaque and the text stays inside it, so a label is the same pixels on every frame: the
    last ones drawn are kept (``_label_pixels``) and copied in again. A hold's overlay repeats most of
    its four lines from frame to frame (phase and repetition, message); drawing one cost ~0.13 ms
    (``getTextSize`` 0.03, ``putText`` 0.09), copying it ~0.01 ms. A band that leaves the frame, or a
    frame that is not 8-bit RGB (RGBA), is drawn in place."""
    import cv2

    h, w = rgb.shape[:2]
    color = tuple(int(c) for c in color)
    box, th, scale, thick = _label_layout(rgb.shape, text, row, corner)
    x0, y0, x1, y1 = box
    if x0 >= 0 and y0 >= 0 and x1 < w and y1 < h and rgb.shape[2:] == (3,) and rgb.dtype == np.uint8:
        rgb[y0:y1 + 1, x0:x1 + 1] = _label_pixels(x1 - x0 + 1, y1 - y0 + 1, text, th, scale, thick, color)
        return rgb
    cv2.rectangle(rgb, (x0, y0), (x1, y1), (0, 0, 0), -1)
    cv2.putText(rgb, text, (x0 + 5, y0 + th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)
    return rgb


@functools.lru_cache(maxsize=64)
def _label_pixels(width: int, height: int, text: str, th: int, scale: float, thick: int,
                  color: tuple[int, int, int]) -> np.ndarray:
    """A label's band (``width`` x ``height``) with its text, as ``draw_label`` draws it in place (the
    same OpenCV calls, moved by whole pixels: the same pixels; tests/vision/test_drawing.py). Read-only:
    it is shared by every frame that shows the label. A few dozen labels are kept (~25 KB each)."""
    import cv2

    band = np.zeros((height, width, 3), np.uint8)
    cv2.putText(band, text, (5, th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)
    band.flags.writeable = False
    return band


def yuv420p_frame(rgb: np.ndarray):
    """``rgb`` (even width and height) as a yuv420p ``av.VideoFrame``, the H.264 / VP8 encoders' own format,
    converted by OpenCV: 0.3 ms against 2.2-4 ms for PyAV's swscale conversion inside the encoder (which
    also starts threads for every frame), 576x576; values within 3 of it. The frame wraps OpenCV's fresh
    array (``from_numpy_buffer``, which holds a reference to it): ``from_ndarray`` would copy it twice more,
    plane by plane (0.3-0.8 ms). Nothing writes to that array afterwards, so an encoder may keep it.
    ``from_numpy_buffer`` takes the height as ``rows // 6 * 4`` (PyAV 18), 2 rows short when the height is
    2 more than a multiple of 4, so those frames are copied instead."""
    import av
    import cv2

    i420 = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    if rgb.shape[0] % 4 == 0:
        return av.VideoFrame.from_numpy_buffer(i420, format="yuv420p")
    return av.VideoFrame.from_ndarray(i420, format="yuv420p")


# The annotated videos' H.264 settings. One encoder thread: the render runs one part per core and the
# sequential path overlaps one encoder with inference, so x264's own threads would only add work.
# ``ultrafast`` (not ``veryfast``): half the encoder's CPU (2.0-2.6 against 4.0-4.4 ms per 576x576
# frame) at the same SSIM to the drawn frames (0.986) and a higher PSNR (45.4 against 41.6 dB), for
# files ~3x larger (7.4 against 2.5 MB per minute at 576x576) - README "Speed", the annotated video.
X264_OPTIONS = {"crf": "23", "preset": "ultrafast", "threads": "1"}


class AnnotatedVideoWriter:
    """Writes RGB frames to an H.264 MP4 with each frame's own timestamp (variable frame rate kept).

    The file appears under its name only when closed cleanly; until then it is ``NAME.partial``.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps_hint: float = 30.0):
        self.path = Path(path)
        self.width, self.height = width + width % 2, height + height % 2  # yuv420p needs even sizes
        self.fps_hint = fps_hint if fps_hint == fps_hint and fps_hint > 0 else 30.0
        self._tmp = self.path.with_name(self.path.name + ".partial.mp4")
        self._container = None
        self._stream = None
        self._last_pts = -1
        self.frames_written = 0

    def __enter__(self) -> "AnnotatedVideoWriter":
        import av

        self.path.parent.mkdir(parents=True, exist_ok=True)
        # faststart: the index goes first so a browser can start playing before the whole file loads
        self._container = av.open(str(self._tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        stream = self._container.add_stream(codec, rate=Fraction(self.fps_hint).limit_denominator(1000))
        stream.width, stream.height = self.width, self.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)  # keep real timestamps
        if codec == "libx264":
            stream.options = dict(X264_OPTIONS)
        # no B-frames: packets come in presentation order, so parts encoded in parallel with these
        # settings join by copying packets (vision.render.join_parts)
        stream.codec_context.max_b_frames = 0
        self._stream = stream
        return self

    def write(self, rgb: np.ndarray, timestamp_ms: float) -> None:
        if rgb.shape[1] != self.width or rgb.shape[0] != self.height:
            padded = np.zeros((self.height, self.width, 3), np.uint8)
            padded[: rgb.shape[0], : rgb.shape[1]] = rgb
            rgb = padded
        frame = yuv420p_frame(np.ascontiguousarray(rgb))
        pts = max(int(round(timestamp_ms)), self._last_pts + 1)
        frame.pts, frame.time_base = pts, Fraction(1, 1000)
        self._last_pts = pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def __exit__(self, exc_type, *exc: object) -> None:
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()
        if self.frames_written:
            self._tmp.replace(self.path)
        else:
            self._tmp.unlink(missing_ok=True)
