"""Hold overlay: what a person needs to see while holding — phase and repetition, the still-time
timer, a stillness gauge (deviation / band, with the band marked), and the joints to keep still
(green while still, red when moving, a ring around the joint that moved most).

Drawing only; it reads a ``HoldStatus`` and never changes the monitor.
"""

from __future__ import annotations

import numpy as np

from assessment.hold import HoldStatus, Phase, Stillness
from vision.drawing import draw_label, draw_pose
from vision.track import LANDMARK_INDEX

GREEN = (40, 200, 80)      # RGB
AMBER = (255, 190, 0)
RED = (230, 50, 50)
GREY = (170, 170, 170)

STILLNESS_COLOR = {Stillness.STILL: GREEN, Stillness.MOVING: AMBER, Stillness.RETURNING: AMBER,
                   Stillness.BROKEN: RED, Stillness.NOT_VISIBLE: GREY, Stillness.NOT_JUDGED: GREY}
GAUGE_MAX = 2.0            # the gauge spans 0..2 x band; the band edge sits in the middle


def status_lines(status: HoldStatus) -> list[str]:
    """The text lines of the overlay (also usable by a live UI)."""
    head = f"{status.phase.value.upper()}"
    if status.phase not in (Phase.CALIBRATE, Phase.DONE):
        head += f"  rep {status.rep}/{status.repetitions}"
    if status.phase is Phase.HOLD:
        timer = f"still {status.held_s:.1f}/{status.held_s + (status.phase_remaining_s or 0):.0f} s"
        if status.breaks:
            timer += f"  breaks {status.breaks}"
    elif status.phase_remaining_s is not None:
        timer = f"{status.phase_remaining_s:4.1f} s"
    else:
        timer = f"{status.phase_elapsed_s:4.1f} s"
    lines = [head, timer, status.message]
    if status.worst_channel and status.stillness in (Stillness.MOVING, Stillness.BROKEN) and status.worst_value is not None:
        unit = "deg" if status.worst_unit == "deg" else "x torso"
        lines.append(f"{status.worst_channel.replace('_', ' ')}: {status.worst_value:.2f} {unit}")
    return lines


def draw_hold_overlay(rgb: np.ndarray, status: HoldStatus, image_landmarks: np.ndarray | None,
                      still_landmarks: tuple[str, ...] = (), corner: str = "top-left") -> np.ndarray:
    """Draw skeleton, watched joints, text and stillness gauge onto ``rgb`` (in place) and return it."""
    import cv2

    h, w = rgb.shape[:2]
    color = STILLNESS_COLOR[status.stillness]
    if image_landmarks is not None and np.isfinite(image_landmarks[0, 0]):
        draw_pose(rgb, image_landmarks)
        r = max(6, round(min(h, w) / 60))
        for name in still_landmarks:
            j = LANDMARK_INDEX[name]
            x, y, vis = image_landmarks[j, 0], image_landmarks[j, 1], image_landmarks[j, 3]
            if not (np.isfinite(x) and np.isfinite(y)) or not vis >= 0.5:
                continue
            c = (int(round(x * w)), int(round(y * h)))
            cv2.circle(rgb, c, r, color, -1, cv2.LINE_AA)
            if name == status.worst_channel and status.stillness in (Stillness.MOVING, Stillness.BROKEN):
                cv2.circle(rgb, c, 2 * r, RED, max(2, r // 3), cv2.LINE_AA)
    for row, text in enumerate(status_lines(status)):
        draw_label(rgb, text, row=row, color=color if row == 0 else (255, 255, 255), corner=corner)
    _gauge(rgb, status.ratio, color)
    return rgb


def _gauge(rgb: np.ndarray, ratio: float, color: tuple[int, int, int]) -> None:
    """Horizontal bar at the bottom: filled to ratio/GAUGE_MAX, white tick at the band edge."""
    import cv2

    h, w = rgb.shape[:2]
    bh = max(10, h // 40)
    x0, x1, y0 = w // 10, w - w // 10, h - 2 * bh
    cv2.rectangle(rgb, (x0, y0), (x1, y0 + bh), (40, 40, 40), -1)
    if np.isfinite(ratio):
        fill = x0 + int((x1 - x0) * min(max(ratio, 0.0), GAUGE_MAX) / GAUGE_MAX)
        cv2.rectangle(rgb, (x0, y0), (fill, y0 + bh), color, -1)
    mid = (x0 + x1) // 2
    cv2.line(rgb, (mid, y0 - bh // 2), (mid, y0 + bh + bh // 2), (255, 255, 255), 2)
