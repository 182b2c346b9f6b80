"""The still-scene gate's measure on real clips: how much of the view away from the subject changes
between frames 10 apart (``vision.scene_change.SceneWatch.changed_share``, the figures its docstring
quotes and its thresholds rest on).

    .venv/bin/python bench/scene_change.py

Clips: the shared still-camera clips (tfjs_pose_1, tfjs_pose_squats, pose2sim_static_cam02, the four
Pose2Sim rig cameras), the composited crossing (tests/vision/crossing.py: a real man walks in at frame
30), and tfjs_pose_1 moved like a camera: a random-walk shake of 0.5, 1, 2 px (and 0.025, 0.05,
0.1 deg) a frame, 4 seeds each, and a pan of 0.5 and 1 px a frame. The subject's region is the tracked
landmarks' box (MediaPipe's VIDEO-mode tracker on each clip). No timing: these are counts.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sample_videos import locate  # noqa: E402
from sample_videos.locator import CHECKOUT_SHARED_VIDEOS  # noqa: E402
from tests.vision.clips import decode_all, shaken  # noqa: E402
from vision.scene_change import DIFF, SHARE, SceneWatch, _landmark_box  # noqa: E402

EVERY = 10


def panned(frames, px):
    import cv2

    return [cv2.warpAffine(rgb, np.float32([[1, 0, px * k], [0, 1, 0]]), rgb.shape[1::-1],
                           borderMode=cv2.BORDER_REFLECT) for k, rgb in enumerate(frames)]


def shares(frames, fps, model):
    """Changed share of every pair of frames EVERY apart (the gate's checks), tracked boxes masked."""
    from vision.landmarker import PoseEstimator

    watch = SceneWatch()
    with PoseEstimator(model, mode="video", num_poses=1) as est:
        boxes = [_landmark_box(est.process(rgb, k * 1000 / fps).image) for k, rgb in enumerate(frames)]
    thumbs = [watch.thumbnail(rgb) for rgb in frames]
    out = []
    for i in range(EVERY, len(frames), EVERY):
        s = watch.changed_share(thumbs[i - EVERY], thumbs[i], (boxes[i - EVERY], boxes[i]))
        out.append(np.nan if s is None else s)
    return np.array(out)


def main() -> None:
    from tests.vision.crossing import crossing_clip
    from vision.models import resolve_model

    model = resolve_model("full")
    rig = CHECKOUT_SHARED_VIDEOS / "pose2sim_balance"
    print(f"changed share of the view (|grey diff| > {DIFF} on the thumbnail, subject masked), frames "
          f"{EVERY} apart; threshold {SHARE:.1%}")
    clips = {name: locate(name) for name in ("tfjs_pose_1.mp4", "tfjs_pose_squats.mp4", "pose2sim_static_cam02.mp4")}
    clips.update({f"rig {c}": rig / f"{c}.mp4" for c in ("cam01", "cam02", "cam03", "cam04")})
    for name, path in clips.items():
        frames, info = decode_all(path)
        s = shares([f.rgb for f in frames], info.fps, model)
        print(f"  still camera  {name:26s} max {np.nanmax(s):6.2%}  (pairs {len(s)}, unjudged {np.isnan(s).sum()})")
    with tempfile.TemporaryDirectory() as tmp:
        c = crossing_clip(locate("tfjs_pose_1.mp4"), rig / "cam02.mp4", model, Path(tmp) / "crossing.mp4")
        frames, info = decode_all(c.path)
        s = shares([f.rgb for f in frames], info.fps, model)
        print(f"  crossing (walks in at {c.start}): " + " ".join(
            f"{i}:{v:.1%}" for i, v in zip(range(EVERY, len(frames), EVERY), s)))
    base = [f.rgb for f in decode_all(locate("tfjs_pose_1.mp4"))[0]]
    for px in (0.5, 1.0, 2.0):
        s = np.concatenate([shares(shaken(base, px, px * 0.05, 100 + seed), 30.0, model) for seed in range(4)])
        print(f"  handheld {px:3.1f} px/frame: min {np.nanmin(s):6.2%} median {np.nanmedian(s):6.2%}; "
              f"pairs at or below the threshold {np.mean(s <= SHARE):.0%} of {len(s)}")
    for px in (0.5, 1.0):
        s = shares(panned(base, px), 30.0, model)
        print(f"  pan {px:3.1f} px/frame: min {np.nanmin(s):6.2%}")


if __name__ == "__main__":
    main()
