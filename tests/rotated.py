"""Whole frames rotated by a known angle (scene included), cropped so no fill shows.

Why a crop: rotating a frame leaves empty corners, and the straight edge between the picture and any
fill is a line at exactly the rotation angle, which would hand a line detector the answer. The
largest centred rectangle of the original aspect ratio that stays inside the rotated picture is kept
(for a 720x1280 frame at 25 deg: 60 % of each side), so only the real scene remains.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Iterator

import numpy as np

from vision.sources import Frame, FrameSource, open_source


def inscribed_scale(w: int, h: int, deg: float) -> float:
    """Largest s such that the centred (s*w, s*h) rectangle fits inside the frame rotated by ``deg``."""
    a = math.radians(abs(deg))
    c, s = math.cos(a), math.sin(a)
    return min(w / (w * c + h * s), h / (w * s + h * c))


def rotate_crop(rgb: np.ndarray, deg: float) -> np.ndarray:
    """Rotate counter-clockwise on screen by ``deg`` about the centre, crop to the inscribed rectangle."""
    import cv2

    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), deg, 1.0)     # + = counter-clockwise (OpenCV)
    out = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR)
    k = inscribed_scale(w, h, deg) * 0.99
    cw, ch = int(w * k) // 2 * 2, int(h * k) // 2 * 2
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return np.ascontiguousarray(out[y0:y0 + ch, x0:x0 + cw])


class RotatedSource(FrameSource):
    """A video whose frames are rotated by ``deg`` and cropped (see module docstring); ``every``
    keeps one frame in that many (a lower frame rate, timestamps kept) to bound test time."""

    def __init__(self, path, deg: float, every: int = 1):
        self._inner = open_source(str(path))
        self.deg, self.every = deg, every
        info = self._inner.info
        k = inscribed_scale(info.width, info.height, deg) * 0.99
        n = None if info.n_frames is None else -(-info.n_frames // every)
        self.info = dataclasses.replace(info, width=int(info.width * k) // 2 * 2, height=int(info.height * k) // 2 * 2,
                                        n_frames=n, fps=info.fps / every)

    @property
    def error(self):
        return self._inner.error

    def __iter__(self) -> Iterator[Frame]:
        for f in self._inner:
            if f.index % self.every == 0:
                yield Frame(f.index, f.timestamp_ms, rotate_crop(f.rgb, self.deg))

    def close(self) -> None:
        self._inner.close()
