"""Has the view away from the subject changed? The gate that lets the bystander search skip still scenes.

The periodic search (``vision.search.TrackedSearch``) runs the person detector (~19 ms CPU) to learn
whether anybody besides the tracked subject is in view. Nobody can have come into view while the view
itself stays the same: with a still camera and an empty room the detector only confirms what it said
before. ``SceneWatch.check`` compares a tiny grey copy of the frame (``SIZE`` x ``SIZE``, area-averaged:
video noise averages out) with the one at the previous check, ignoring the subject's own region (the
box of the tracked landmarks at both frames, widened by ``MARGIN`` of its larger side: arms, hair,
clothes and shadow move with her). The view counts as changed (so the caller searches) when more than
``SHARE`` of the frame's thumbnail pixels away from the subject changed by more than ``DIFF`` grey
levels, when less than ``MIN_VIEW`` of the frame is left to judge, when there is no previous check to
compare with, and at least every ``max_still_ms`` (whenever a multiple of it lies between the two
checks' timestamps: a bound on the gap, decided from timestamps alone so that a segment of a parallel
run decides as a sequential run does).

The decision depends only on this frame and the previous check's (the caller checks every N frames), so
someone entering (moving through the view) or a moving camera (everything shifts) makes it search;
measured (64 px thumbnails, pairs of frames 10 apart, bench/scene_change.py): the shared still-camera
clips (tfjs_pose_1, squats, the static trial and the four rig cameras, the subject swinging arms and
trunk) changed at most 0.44 % of the frame (rig cam01, the subject's shadow on the floor); the composited
crossing 9.1 % when the bystander walks in (frame 40); tfjs_pose_1 under a random-walk handheld shake
of 2 px a frame (0.1 deg) at least 3.3 % on every pair (4 seeds), a pan of 0.5 px a frame at least
8.0 %. ``SHARE`` 1 % sits between (2.3x above the still maximum, 3.3x below the shaken minimum). A shake
of 1 px a frame left 2 % of the pairs at or below it and one of 0.5 px 30 %: the view had barely
changed, so nobody can have entered it either, and ``max_still_ms`` bounds what a miss could cost.
"""

from __future__ import annotations

import math

import numpy as np

SIZE = 64            # thumbnail side (px): 9 source px per thumbnail px on a 576 px frame
DIFF = 12            # grey levels (of 255) a thumbnail pixel must change by to count
SHARE = 0.01         # changed share of the thumbnail, away from the subject, that counts as a new view
MARGIN = 0.2         # the subject's landmark box is widened by this share of its larger side, each way
MIN_VIEW = 0.25      # less of the frame than this left beside the subject: cannot tell, search
MAX_STILL_MS = 2000.0


class SceneWatch:
    """``check(rgb, image, timestamp_ms) -> bool``: True when the view away from the subject may have
    changed since the previous check (search), False when it is the same (the search may be skipped).
    ``image`` is the tracked poses (P,33,5), normalized; the first is the subject. ``forget`` makes the
    next check say True (e.g. after a stretch in company). ``still`` counts the checks that said False."""

    def __init__(self, max_still_ms: float = MAX_STILL_MS, size: int = SIZE, diff: int = DIFF,
                 share: float = SHARE, margin: float = MARGIN, min_view: float = MIN_VIEW):
        self.max_still_ms = float(max_still_ms)
        self.size, self.diff, self.share, self.margin, self.min_view = size, diff, share, margin, min_view
        self._last: tuple[np.ndarray, tuple[float, float, float, float] | None, float] | None = None
        self.checks = self.still = 0

    def check(self, rgb: np.ndarray, image: np.ndarray, timestamp_ms: float) -> bool:
        thumb, box = self.thumbnail(rgb), _landmark_box(image)
        last, self._last = self._last, (thumb, box, float(timestamp_ms))
        self.checks += 1
        if self.max_still_ms <= 0 or last is None:
            return True
        if math.floor(timestamp_ms / self.max_still_ms) != math.floor(last[2] / self.max_still_ms):
            return True
        changed = self.changed_share(last[0], thumb, (last[1], box))
        if changed is None or changed > self.share:
            return True
        self.still += 1
        return False

    def forget(self) -> None:
        self._last = None

    def thumbnail(self, rgb: np.ndarray) -> np.ndarray:
        """(size, size) uint8 grey, area-averaged (shrunk first: the grey conversion runs on 4096 px)."""
        import cv2

        small = cv2.resize(rgb, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)

    def changed_share(self, a: np.ndarray, b: np.ndarray, boxes) -> float | None:
        """Share of the thumbnail changed by more than ``diff`` outside the widened ``boxes``
        (normalized x0, y0, x1, y1, or None), or None when less than ``min_view`` is left outside."""
        view = np.ones(a.shape, bool)
        s = self.size
        for box in boxes:
            if box is None:
                continue
            x0, y0, x1, y1 = box
            d = self.margin * max(x1 - x0, y1 - y0)
            xa, xb = _clip(math.floor((x0 - d) * s), s), _clip(math.ceil((x1 + d) * s), s)
            ya, yb = _clip(math.floor((y0 - d) * s), s), _clip(math.ceil((y1 + d) * s), s)
            view[ya:yb, xa:xb] = False
        if view.mean() < self.min_view:
            return None
        moved = np.abs(a.astype(np.int16) - b.astype(np.int16)) > self.diff
        return float(np.count_nonzero(moved & view)) / moved.size


def _landmark_box(image: np.ndarray) -> tuple[float, float, float, float] | None:
    """The first pose's landmark box (normalized x0, y0, x1, y1), None without a pose or finite landmarks."""
    if len(image) == 0:
        return None
    xy = np.asarray(image[0, :, :2], dtype=np.float64)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) == 0:
        return None
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def _clip(v: int, s: int) -> int:
    return min(max(v, 0), s)
