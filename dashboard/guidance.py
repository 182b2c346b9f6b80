"""Live guidance for the guided exercise, in the patient's words: why the hold has not started, which
joint is outside the stillness band and which way to move it back, and a rest calibration that is
refused (started again) while the person moves.

Why here and not in ``assessment.hold``: the monitor judges (the same code for the CLI and the page);
this module only turns its status, the current pose and the watched joints' recent positions into
sentences and decides when the dashboard restarts a calibration. Measurement reuses
``assessment.stillness`` (reference of a window, deviations in body-scale fractions, the default band).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from assessment.hold import HoldStatus, Phase, Stillness
from assessment.stillness import Band, Channels, deviations, reference_from_window, visible_mask

CALIBRATION_WINDOW_S = 0.6    # movement during calibration is judged on this much recent time


def joint_words(channel: str) -> str:
    """``left_shoulder`` -> "left shoulder"; an angle id -> its words."""
    return channel.replace("_", " ")


def direction_words(dx: float, dy: float, facing_camera: bool | None, min_px: float = 0.0) -> str:
    """Plain words for moving a joint by (dx, dy) image pixels (y down), in the person's own left and
    right: facing the camera the picture's right is the person's left; from behind it is their right.
    ``facing_camera`` None (side view or unknown): "left/right on the screen" is avoided and only up /
    down (and "forward / back" is not guessed) are said."""
    parts = []
    if abs(dy) >= min_px and abs(dy) >= 0.5 * abs(dx):
        parts.append("up" if dy < 0 else "down")
    if abs(dx) >= min_px and abs(dx) >= 0.5 * abs(dy) and facing_camera is not None:
        to_their_left = (dx > 0) == facing_camera
        parts.append("to your left" if to_their_left else "to your right")
    return " and ".join(parts)


def facing_camera(image: np.ndarray) -> bool | None:
    """True facing the camera, False from behind, None when the shoulders are too close to tell."""
    from vision.track import LANDMARK_INDEX

    ls, rs = image[LANDMARK_INDEX["left_shoulder"]], image[LANDMARK_INDEX["right_shoulder"]]
    if not (np.isfinite(ls[0]) and np.isfinite(rs[0])):
        return None
    width = ls[0] - rs[0]
    if abs(width) < 0.03:        # side view: shoulders overlap in the picture
        return None
    return bool(width > 0)       # the person's left shoulder on the picture's right: they face it


@dataclass(frozen=True)
class Guidance:
    """One sentence for the patient, and the joint it is about (None when it is about no joint)."""

    text: str
    joint: str | None = None


def hold_guidance(status: HoldStatus | None, image: np.ndarray | None, frame_size: tuple[int, int],
                  channels: Channels, reference_points: np.ndarray | None, settle_s: float) -> Guidance:
    """What to tell the patient after this frame.

    ``reference_points`` are the held position's landmark pixels (the current repetition's reference,
    or during the position phase the recent median) in ``channels.landmarks`` order.
    """
    if status is None:
        return Guidance("Stand so that the joints to keep still are in view.")
    joint = status.worst_channel
    if status.stillness is Stillness.NOT_VISIBLE:
        return Guidance("I cannot see the joints to keep still: step into view so your "
                        + ", ".join(joint_words(c) for c in channels.landmarks) + " are in the picture.")
    if status.phase is Phase.CALIBRATE:
        return Guidance("Stand relaxed and keep still while the camera measures its own jitter "
                        f"({status.phase_remaining_s or 0:.0f} s left).")
    if status.phase is Phase.POSITION:
        if joint is None or not np.isfinite(status.ratio):
            if image is None or not np.isfinite(image[0, 0]):
                return Guidance("The hold has not started: nobody is seen. Step into view.")
            return Guidance(f"The hold starts once you have kept still for {settle_s:g} s in the start position.")
        way = _way_back(joint, image, frame_size, channels, reference_points)
        return Guidance(f"The hold has not started: your {joint_words(joint)} is moving. Keep it still"
                        + (f" (it drifted {way})" if way else "") + f" for {settle_s:g} s.", joint)
    if status.phase is Phase.HOLD and status.stillness in (Stillness.MOVING, Stillness.BROKEN) and joint:
        way = _way_back(joint, image, frame_size, channels, reference_points, back=True)
        return Guidance(f"Your {joint_words(joint)} moved out of the still zone: bring it back"
                        + (f" {way}" if way else " to where it was") + ".", joint)
    if status.phase is Phase.HOLD and status.stillness is Stillness.RETURNING:
        return Guidance("Good, back in place: keep still.")
    if status.phase is Phase.HOLD:
        return Guidance("Push gently and keep still: the timer runs while you are still.")
    if status.phase is Phase.RELAX:
        return Guidance("Relax and breathe out.")
    if status.phase is Phase.STRETCH:
        return Guidance("Ease gently into the new stretch.")
    return Guidance("Done: well done. Your summary is below.")


def _way_back(joint: str, image: np.ndarray | None, frame_size: tuple[int, int], channels: Channels,
              reference_points: np.ndarray | None, back: bool = False) -> str:
    """Direction words from the joint's current position to its reference (``back``) or from the
    reference to the current position (how it drifted); "" for an angle or when unknown."""
    if image is None or reference_points is None or joint not in channels.landmarks:
        return ""
    from vision.track import LANDMARK_INDEX

    k = channels.landmarks.index(joint)
    cur = image[LANDMARK_INDEX[joint], :2] * np.asarray(frame_size, float)
    ref = reference_points[k]
    if not (np.all(np.isfinite(cur)) and np.all(np.isfinite(ref))):
        return ""
    d = (ref - cur) if back else (cur - ref)
    return direction_words(float(d[0]), float(d[1]), facing_camera(image), min_px=2.0)


class CalibrationGuard:
    """Refuses a rest calibration while the person moves: the caller restarts the calibration when
    ``moving`` says so. Movement = a watched joint beyond the default stillness band (6 % of the body
    scale, ``assessment.stillness``) from the median of the last ``CALIBRATION_WINDOW_S``."""

    def __init__(self, channels: Channels, frame_size: tuple[int, int], window_s: float = CALIBRATION_WINDOW_S):
        self.channels = channels
        self.window_ms = window_s * 1000.0
        self._wh = np.asarray(frame_size, float)
        self._band = np.array(Band.default(channels).values)
        self._buf: deque[tuple[float, np.ndarray, np.ndarray]] = deque()

    def reset(self) -> None:
        self._buf.clear()

    def moving(self, t_ms: float, image: np.ndarray) -> str | None:
        """The watched joint that moved (None when still or not yet judged)."""
        self._buf.append((t_ms, image[:, :2] * self._wh, visible_mask(image)))
        while self._buf and self._buf[0][0] < t_ms - self.window_ms:
            self._buf.popleft()
        if len(self._buf) < 3 or self._buf[-1][0] - self._buf[0][0] < 0.5 * self.window_ms:
            return None
        P = np.stack([b[1] for b in self._buf])
        V = np.stack([b[2] for b in self._buf])
        A = np.full((len(P), len(self.channels.angles)), np.nan)
        ref = reference_from_window(P, V, A, self.channels)
        if ref is None:
            return None
        dev = deviations(P, V, A, ref, self.channels)[:, :len(self.channels.landmarks)] / self._band[:len(self.channels.landmarks)]
        with np.errstate(invalid="ignore"):
            worst = np.nanmax(np.where(np.isfinite(dev), dev, -np.inf), axis=0)
        if not len(worst) or not np.isfinite(worst).any() or worst.max() <= 1.0:
            return None
        return self.channels.landmarks[int(np.argmax(worst))]
