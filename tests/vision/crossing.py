"""A second real person walking across the subject, composited from two shared clips (never committed).

Subject: ``tfjs_pose_1.mp4`` (one woman, front view, 576x576, 30 fps, 120 frames), untouched outside
the crossing. Bystander: the man of the Pose2Sim rig (``pose2sim_balance/cam02.mp4``), cut out of his
lab by MediaPipe's own segmentation mask (the landmarker's ``output_segmentation_masks``), scaled to
``height`` px and slid horizontally across the frame, in front of the subject, from frame ``start`` to
``stop``. Everything about the construction is known, so the ground truth is: the subject's landmarks
are the clean clip's, and the bystander's box in every frame is returned with the clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.vision.clips import decode_all, write_lossless


@dataclass(frozen=True)
class Crossing:
    path: Path
    start: int                       # first frame showing the bystander
    stop: int                        # first frame after he has left
    boxes: dict[int, tuple[int, int, int, int]]   # frame -> bystander (x0, y0, x1, y1) px, clipped to the frame


def bystander_cutouts(rig_clip: Path, model_path: Path, n: int, step: int = 2) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` (rgb, alpha) crops of the rig's person, every ``step``-th frame (60 fps -> 30 fps)."""
    from mediapipe.tasks.python import BaseOptions, vision

    from vision.landmarker import preprocess

    frames, _ = decode_all(rig_clip)
    options = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(model_path)),
                                           running_mode=vision.RunningMode.IMAGE, num_poses=1,
                                           output_segmentation_masks=True)
    out = []
    with vision.PoseLandmarker.create_from_options(options) as lm:
        for k in range(n):
            rgb = frames[(k * step) % len(frames)].rgb[::2, ::2].copy()   # half size: enough for a 400 px cut-out
            res = lm.detect(preprocess(rgb))
            assert res.segmentation_masks, "the rig's person must be found for the cut-out"
            alpha = np.clip(res.segmentation_masks[0].numpy_view().squeeze(), 0, 1).astype(np.float32)
            ys, xs = np.nonzero(alpha > 0.5)
            y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
            out.append((rgb[y0:y1, x0:x1], alpha[y0:y1, x0:x1]))
    return out


def crossing_clip(subject_clip: Path, rig_clip: Path, model_path: Path, dst: Path, start: int = 30,
                  stop: int = 75, height: int = 400, foot_y: float = 0.93) -> Crossing:
    """Composite the bystander walking left to right in front of the subject over ``[start, stop)``."""
    import cv2

    frames, info = decode_all(subject_clip)
    cutouts = bystander_cutouts(rig_clip, model_path, stop - start)
    w, h = info.width, info.height
    out, boxes = [], {}
    for f in frames:
        rgb = f.rgb.copy()
        k = f.index - start
        if 0 <= k < stop - start:
            crop, alpha = cutouts[k]
            scale = height / crop.shape[0]
            cw = max(1, int(round(crop.shape[1] * scale)))
            crop = cv2.resize(crop, (cw, height), interpolation=cv2.INTER_AREA)
            alpha = cv2.resize(alpha, (cw, height), interpolation=cv2.INTER_AREA)
            # left edge goes from just outside the left border to just outside the right border
            x0 = int(round(-cw + (w + cw) * (k + 0.5) / (stop - start)))
            y0 = int(round(foot_y * h)) - height
            fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + cw, w), min(y0 + height, h)
            if fx1 > fx0:
                a = alpha[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0, None]
                src = crop[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0].astype(np.float32)
                dst_px = rgb[fy0:fy1, fx0:fx1].astype(np.float32)
                rgb[fy0:fy1, fx0:fx1] = np.round(a * src + (1 - a) * dst_px).astype(np.uint8)
                boxes[f.index] = (fx0, fy0, fx1, fy1)
        out.append(rgb)
    write_lossless(dst, out, [f.timestamp_ms for f in frames])
    return Crossing(dst, start, stop, boxes)
