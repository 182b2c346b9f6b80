"""Where the on-video instructions go: in the frame's corner that keeps them off the person's head.

Why: a webcam user stands in the middle of the picture, and text stacked at the top-left covered
the head (issue #13). The lines are short (wrapped narrow) and placed in the first corner, top
corners first, whose label bands do not cross the head's box (nose, eyes, ears, padded).
"""

from __future__ import annotations

import textwrap

import numpy as np

from vision.drawing import CORNERS, label_box
from vision.track import LANDMARK_INDEX

HEAD = tuple(LANDMARK_INDEX[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth_left",
                                         "mouth_right"))
WRAP = 26                      # characters per on-video line (about a third of a 640-px frame)


def wrap_lines(lines: list[str], width: int = WRAP) -> list[str]:
    return [part for line in lines for part in (textwrap.wrap(line, width) or [""])]


def head_box(image_landmarks: np.ndarray | None, shape: tuple[int, ...]) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) pixels around the head, padded by half the head's size (None when unseen)."""
    if image_landmarks is None:
        return None
    h, w = shape[:2]
    pts = image_landmarks[list(HEAD), :2] * (w, h)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) == 0:
        return None
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    size = max(x1 - x0, y1 - y0, 0.04 * h)
    pad = 0.6 * size
    return x0 - pad, y0 - 1.2 * pad, x1 + pad, y1 + pad       # more room above the eyes (forehead, hair)


def _crosses(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def text_corner(shape: tuple[int, ...], lines: list[str], image_landmarks: np.ndarray | None) -> str:
    """The first corner (top-left, top-right, bottom-left, bottom-right) whose text stays off the head;
    top-left when the head is unseen or every corner crosses it."""
    head = head_box(image_landmarks, shape)
    if head is None:
        return CORNERS[0]
    for corner in CORNERS:
        if not any(_crosses(label_box(shape, text, row, corner), head) for row, text in enumerate(lines)):
            return corner
    return CORNERS[0]
