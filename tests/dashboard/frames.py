"""Frames as the browser's fake webcam sends them, shared by the dashboard tests and bench/live_overlay.py."""

from __future__ import annotations

import numpy as np


def letterbox(rgb: np.ndarray, angle_deg: float = 0.0) -> np.ndarray:
    """Scale to 480 px tall, centre on a black 640x480 canvas, then turn by ``angle_deg`` (counter-clockwise)."""
    import cv2

    h, w = rgb.shape[:2]
    s = 480 / h
    small = cv2.resize(rgb, (round(w * s), 480), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((480, 640, 3), np.uint8)
    x0 = (640 - small.shape[1]) // 2
    canvas[:, x0:x0 + small.shape[1]] = small
    if angle_deg:
        canvas = cv2.warpAffine(canvas, cv2.getRotationMatrix2D((320, 240), angle_deg, 1.0), (640, 480))
    return canvas


def write_y4m(frames: list[np.ndarray], path, fps: int = 15):
    """RGB frames -> a YUV4MPEG2 (4:2:0) file, the format Chromium's fake webcam plays (and loops)."""
    import cv2

    h, w = frames[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path
