"""Who is this? Identity cues that do not depend on where a person stands.

Position alone cannot tell the subject from someone who walks right across them: at the crossing
both stand in the same place. The cue kept per candidate pose is its ``appearance``: a hue /
saturation / value histogram of the torso (the quadrilateral of shoulders and hips, shrunk towards
its centre so background and arms stay out), i.e. the clothing colour. It is computed from the
frame right after inference, because the frame is gone later (the parallel path carries it with the
candidates). ``AppearanceBank`` keeps a few of the subject's own histograms (its look changes as it
bends and turns) and scores a candidate by its distance to the nearest one.

Body proportions from MediaPipe's world landmarks were measured as a second cue and rejected: the
median log-ratio of segment lengths varied up to 0.31 within one person moving her arms
(tfjs_pose_1) while a different man scored 0.05-0.2 against her (README, vision section).
"""

from __future__ import annotations


import numpy as np

# BlazePose landmark indices: shoulders 11/12, hips 23/24
_TORSO_QUAD = (11, 12, 24, 23)
HIST_BINS = (8, 4, 4)          # hue x saturation x value
APPEARANCE_SIZE = int(np.prod(HIST_BINS))
MIN_TORSO_PX = 150             # below this many torso pixels the colour is not judged
MIN_VISIBILITY = 0.5


def appearance(rgb: np.ndarray, image: np.ndarray, shrink: float = 0.25) -> np.ndarray:
    """(P, APPEARANCE_SIZE) torso colour histograms (sum 1) of poses ``image`` (P,33,5); NaN rows when
    the torso is not visible enough or too small to judge."""
    import cv2

    out = np.full((len(image), APPEARANCE_SIZE), np.nan, dtype=np.float32)
    if rgb.size == 0:
        return out
    h, w = rgb.shape[:2]
    quads = image[:, list(_TORSO_QUAD)]           # (P, 4, 5): one gather for every pose
    usable = np.isfinite(quads[:, :, :2]).all(axis=(1, 2)) & (quads[:, :, 3].min(axis=1) >= MIN_VISIBILITY)
    for p in np.flatnonzero(usable):
        px = quads[p, :, :2] * (w, h)
        centre = px.mean(axis=0)
        px = centre + (1.0 - shrink) * (px - centre)
        x0, y0 = np.floor(px.min(axis=0)).astype(int)
        x1, y1 = np.ceil(px.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        cv2.fillConvexPoly(mask, np.round(px - (x0, y0)).astype(np.int32), 1)
        if cv2.countNonZero(mask) < MIN_TORSO_PX:
            continue
        hsv = cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2HSV)   # OpenCV reads the strided crop in place
        hist = cv2.calcHist([hsv], [0, 1, 2], mask, list(HIST_BINS), [0, 180, 0, 256, 0, 256]).ravel()
        out[p] = hist / max(float(hist.sum()), 1.0)
    return out


def colour_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Hellinger (Bhattacharyya) distance of two histograms: 0 identical, 1 disjoint; NaN if unknown."""
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("nan")
    bc = float(np.sum(np.sqrt(np.clip(a, 0, None) * np.clip(b, 0, None))))
    return float(np.sqrt(max(0.0, 1.0 - min(bc, 1.0))))


def colour_distances(a: np.ndarray, looks: np.ndarray) -> np.ndarray:
    """``colour_distance(a, look)`` for every row of ``looks`` (L, D) in one pass, the same values to
    the bit (same dtypes and operations; each row's sum is numpy's pairwise sum along a contiguous row,
    as for one histogram): the subject's bank is compared with every candidate of every frame."""
    bc = np.sum(np.sqrt(np.clip(a, 0, None) * np.clip(looks, 0, None)), axis=-1).astype(np.float64)
    d = np.sqrt(np.maximum(0.0, 1.0 - np.minimum(bc, 1.0)))
    known = np.all(np.isfinite(looks), axis=-1) & bool(np.all(np.isfinite(a)))
    return np.where(known, d, np.nan)


# Hellinger distances measured on the shared single-person clips, each against its first frames
# (p95 / max): tfjs_pose_1 0.34 / 0.41, squats 0.59 / 0.60, rig cameras 0.38-0.70 / 0.42-0.73 with
# one fixed reference; the bank of several looks brings these down (tests/vision/test_subject.py).
# A different person (the composited crossing) scored 0.98-1.00, 0.78-0.83 while overlapping her.
SAME = 0.6        # at or below: the subject's look
OTHER = 0.9       # at or above: somebody else; in between: cannot tell


class AppearanceBank:
    """A few torso histograms of the subject; ``distance`` is to the nearest of them."""

    def __init__(self, size: int = 12, novelty: float = 0.2):
        self.size, self.novelty = size, novelty
        self.looks: list[np.ndarray] = []
        self._stacked: np.ndarray | None = None   # ``looks`` as one (L, D) array, rebuilt after a change

    def __bool__(self) -> bool:
        return bool(self.looks)

    def distance(self, hist: np.ndarray | None) -> float:
        if hist is None or not self.looks or not np.all(np.isfinite(hist)):
            return float("nan")
        if self._stacked is None:
            self._stacked = np.stack(self.looks)
        return float(np.min(colour_distances(hist, self._stacked)))

    def learn(self, hist: np.ndarray | None, distance: float | None = None) -> None:
        """Keep ``hist`` when it is a look not seen yet (the first look is kept for good).
        ``distance``: ``self.distance(hist)`` when the caller has it already (not computed twice)."""
        if hist is None or not np.all(np.isfinite(hist)):
            return
        if self.looks and (self.distance(hist) if distance is None else distance) < self.novelty:
            return
        if len(self.looks) >= self.size:
            del self.looks[1]
        self.looks.append(np.asarray(hist, dtype=np.float32))
        self._stacked = None
