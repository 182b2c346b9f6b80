"""Synthetic hold recordings with known movement: a still standing pose (exact skeleton from
``synthetic.py``), MediaPipe-like jitter, and movements of known size injected at known times.

Jitter model (``Jitter``), in fractions of the torso length (shoulder-hip midpoints), per axis:
a common-mode part shared by all landmarks (white SD 0.8 % plus a slow AR(1) wobble SD 0.6 %,
time constant 300 ms), an independent part per landmark (white SD 0.6 %), and one-frame spikes of
15 % on a random landmark in 1 % of frames. Why: on the standing frames of tfjs_pose_squats.mp4 the
full model gave robust SDs of 0.3-2.4 % per axis for shoulders and hips, while short segments stayed
steady (ear-line tilt SD 0.1-0.9 deg, shoulder-line 0.5-1.1 deg): MediaPipe's jitter is mostly shared
by neighbouring landmarks. Users report visible frame-to-frame jitter in the Tasks API [GH4507];
spikes stand for the occasional mis-detected frame. Timestamps get +-3 ms jitter (webcams are not
perfectly regular).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tests.assessment.synthetic import Pose, make_track
from vision.track import LANDMARK_INDEX, LandmarkTrack, TrackMeta


@dataclass(frozen=True)
class Jitter:
    white: float = 0.008          # common mode
    wobble: float = 0.006         # common mode, AR(1)
    own: float = 0.006            # independent per landmark
    wobble_tau_ms: float = 300.0
    spike_rate: float = 0.01
    spike_size: float = 0.15
    timestamp_ms: float = 3.0


NO_JITTER = Jitter(0.0, 0.0, 0.0, 300.0, 0.0, 0.0, 0.0)


@dataclass
class Recording:
    """Plain arrays: normalized image landmarks (N,33,5), timestamps, frame size, torso in pixels."""

    image: np.ndarray
    timestamp_ms: np.ndarray
    width: int
    height: int
    torso_px: float

    def track(self, source: str = "synthetic hold") -> LandmarkTrack:
        n = len(self.timestamp_ms)
        return LandmarkTrack(np.arange(n), self.timestamp_ms, self.image, np.zeros((n, 33, 3)),
                             np.ones(n, dtype=np.int64),
                             TrackMeta(source=source, width=self.width, height=self.height))

    def pixels(self) -> np.ndarray:
        return self.image[..., :2] * np.array([self.width, self.height])

    def set_pixels(self, px: np.ndarray) -> None:
        self.image[..., :2] = px / np.array([self.width, self.height])


def still_recording(duration_s: float, fps: float = 30.0, jitter: Jitter = Jitter(), seed: int = 0,
                    pose: Pose | None = None) -> Recording:
    base = make_track(pose or Pose(plane="frontal"))
    w, h = base.meta.width, base.meta.height
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * fps))
    ts = np.arange(n) * 1000.0 / fps
    if jitter.timestamp_ms:
        ts = ts + rng.uniform(-jitter.timestamp_ms, jitter.timestamp_ms, n)
        ts[0] = 0.0
    image = np.repeat(base.image[:1], n, axis=0)
    rec = Recording(image, ts, w, h, torso_length_px(base.image[0], w, h))
    px = rec.pixels()
    t = rec.torso_px
    noise = rng.normal(0.0, jitter.own * t, px.shape)
    common = rng.normal(0.0, jitter.white * t, (n, 1, 2))
    if jitter.wobble:
        a = np.exp(-1000.0 / fps / jitter.wobble_tau_ms)
        e = rng.normal(0.0, jitter.wobble * t * np.sqrt(1 - a * a), (n, 2))
        wob = np.zeros((n, 2))
        wob[0] = rng.normal(0.0, jitter.wobble * t, 2)
        for i in range(1, n):
            wob[i] = a * wob[i - 1] + e[i]
        common = common + wob[:, None, :]
    noise += common
    if jitter.spike_rate:
        rows = np.flatnonzero(rng.random(n) < jitter.spike_rate)
        for r in rows:
            j = rng.integers(0, 33)
            ang = rng.uniform(0, 2 * np.pi)
            noise[r, j] += jitter.spike_size * t * np.array([np.cos(ang), np.sin(ang)])
    rec.set_pixels(px + noise)
    return rec


def torso_length_px(image: np.ndarray, w: int, h: int) -> float:
    px = image[:, :2] * np.array([w, h])
    sh = (px[LANDMARK_INDEX["left_shoulder"]] + px[LANDMARK_INDEX["right_shoulder"]]) / 2
    hp = (px[LANDMARK_INDEX["left_hip"]] + px[LANDMARK_INDEX["right_hip"]]) / 2
    return float(np.linalg.norm(sh - hp))


def min_jerk(s: np.ndarray) -> np.ndarray:
    s = np.clip(s, 0.0, 1.0)
    return s ** 3 * (10 - 15 * s + 6 * s * s)


@dataclass(frozen=True)
class Move:
    """Move ``landmarks`` by ``size`` torso lengths in ``direction_deg`` (image, 0 = +x, 90 = down):
    rise over ``rise_ms`` (minimum-jerk; 0 = step) from ``start_ms``, stay ``hold_ms``, return."""

    landmarks: tuple[str, ...]
    start_ms: float
    size: float
    hold_ms: float = 1000.0
    rise_ms: float = 0.0
    direction_deg: float = 0.0

    def profile(self, t: np.ndarray) -> np.ndarray:
        """Displacement (torso lengths) at times ``t``."""
        if self.rise_ms > 0:
            up = min_jerk((t - self.start_ms) / self.rise_ms)
            down = min_jerk((t - self.start_ms - self.rise_ms - self.hold_ms) / self.rise_ms)
        else:
            up = (t >= self.start_ms).astype(float)
            down = (t >= self.start_ms + self.hold_ms).astype(float)
        return self.size * (up - down)

    def crossing_ms(self, band: float) -> float:
        """When the true displacement first exceeds ``band`` (NaN if never)."""
        t = np.arange(self.start_ms, self.start_ms + self.rise_ms + 1.0, 0.1)
        above = np.flatnonzero(self.profile(t) > band)
        return float(t[above[0]]) if above.size else float("nan")


def inject(rec: Recording, moves: list[Move]) -> Recording:
    px = rec.pixels()
    for m in moves:
        d = m.profile(rec.timestamp_ms) * rec.torso_px
        vec = np.array([np.cos(np.radians(m.direction_deg)), np.sin(np.radians(m.direction_deg))])
        for name in m.landmarks:
            px[:, LANDMARK_INDEX[name]] += d[:, None] * vec
    out = Recording(rec.image.copy(), rec.timestamp_ms.copy(), rec.width, rec.height, rec.torso_px)
    out.set_pixels(px)
    return out


def transformed(rec: Recording, scale: float, shift_px: tuple[float, float]) -> Recording:
    """The same recording of a person ``scale`` times larger (or closer) and shifted in the frame."""
    px = rec.pixels()
    centre = np.array([rec.width, rec.height]) / 2
    out = Recording(rec.image.copy(), rec.timestamp_ms.copy(), rec.width, rec.height, rec.torso_px * scale)
    out.set_pixels(centre + (px - centre) * scale + np.array(shift_px))
    return out
