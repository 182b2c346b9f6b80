"""Landmark smoothing filters behind one small interface (swappable, norfair-style).

The Tasks API has no landmark smoothing and users report jitter (mediapipe issues 4507, 4670, 5520).
The One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) is a low-pass filter whose cut-off rises
with speed: strong smoothing when the person is still (where jitter matters for posture and holds),
little lag when they move. It uses the real time between frames, so variable frame rates are fine.

Missing frames (nobody detected) give NaN out and do not update the state; a gap longer than
``max_gap_ms`` resets the filter so a person re-entering the frame is not dragged from where they left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class LandmarkFilter(Protocol):
    def reset(self) -> None: ...

    def __call__(self, timestamp_ms: float, values: np.ndarray, scale: float | np.ndarray = 1.0) -> np.ndarray:
        """Filter one frame's values (any shape). NaN values mean 'missing' and stay NaN.

        ``scale`` is the subject's size in the values' units, so speed is judged relative to the body
        (the same filter suits a child far away and an adult close up); an array broadcast against
        ``values`` gives parts of them their own size.
        """
        ...


class NoFilter:
    """Passes values through: the raw model output."""

    def reset(self) -> None:
        pass

    def __call__(self, timestamp_ms: float, values: np.ndarray, scale: float | np.ndarray = 1.0) -> np.ndarray:
        return np.array(values, dtype=np.float64, copy=True)


@dataclass(frozen=True)
class OneEuroParams:
    """Speed is measured in body sizes per second (MediaPipe's legacy smoother did the same, with
    min_cutoff 0.05 / beta 80, which barely touches still jitter). These defaults were chosen on
    synthetic data (tests/vision/test_smoothing.py): still jitter of 0.6% of a body size is cut
    about 3x, and a 1 body-size/s movement lags by under 0.03 body sizes."""

    min_cutoff: float = 0.3   # Hz; lower = smoother when still
    beta: float = 10.0        # cut-off growth per body-size/s of speed; higher = less lag when moving
    d_cutoff: float = 1.0     # Hz; cut-off for the speed estimate
    max_gap_ms: float = 500.0


class OneEuroFilter:
    """Element-wise One-Euro filter over arrays of any fixed shape."""

    def __init__(self, params: OneEuroParams = OneEuroParams()):
        self.params = params
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None
        self._t_seen: np.ndarray | None = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, timestamp_ms: float, values: np.ndarray, scale: float | np.ndarray = 1.0) -> np.ndarray:
        x = np.asarray(values, dtype=np.float64)
        valid = np.isfinite(x)
        p = self.params
        if self._x is None or (self._t is not None and timestamp_ms - self._t > p.max_gap_ms):
            self.reset()
            self._x = np.where(valid, x, np.nan)
            self._dx = np.zeros_like(x)
            self._t = timestamp_ms
            self._t_seen = np.where(valid, timestamp_ms, -np.inf)
            return self._x.copy()
        dt = max((timestamp_ms - self._t) / 1000.0, 1e-3)
        # Elements that were missing before (or for too long) restart from the new value.
        fresh = valid & (~np.isfinite(self._x) | (timestamp_ms - self._t_seen > p.max_gap_ms))
        dx = np.where(valid, (x - self._x) / dt, 0.0)
        a_d = self._alpha(p.d_cutoff, dt)
        dx_hat = a_d * dx + (1 - a_d) * self._dx
        cutoff = p.min_cutoff + p.beta * np.abs(dx_hat) / np.maximum(scale, 1e-6)
        a = self._alpha(cutoff, dt)
        x_hat = a * x + (1 - a) * self._x
        new_x = np.where(fresh, x, np.where(valid, x_hat, self._x))
        self._dx = np.where(valid & ~fresh, dx_hat, np.where(fresh, 0.0, self._dx))
        self._x = new_x
        self._t = timestamp_ms
        self._t_seen = np.where(valid, timestamp_ms, self._t_seen)
        return np.where(valid, new_x, np.nan)


def make_filter(kind: str = "one_euro", **params: float) -> LandmarkFilter:
    """Build a filter by name: ``one_euro`` (default) or ``none``."""
    if kind == "none":
        return NoFilter()
    if kind == "one_euro":
        return OneEuroFilter(OneEuroParams(**params))
    raise ValueError(f"unknown smoothing filter {kind!r}; choose 'one_euro' or 'none'")
