"""The Pose2Sim 4-camera rig (../shared/videos/pose2sim_balance): real model runs cached per process.

Each camera is 100 frames of 1920 px; the project's own pipeline (default settings, scene roll
sampled) runs once per camera per test session, whichever test asks first.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from vision.pipeline import extract_track
from vision.track import LandmarkTrack

RIG = Path(__file__).resolve().parents[1].parent / "shared" / "videos" / "pose2sim_balance"
CAMERAS = ("cam01", "cam02", "cam03", "cam04")
# True roll at the subject from the rig's calibration, as measured in ../shared/notes/capture-geometry.md.
NOTE_TRUE_ROLL = {"cam01": -12.6, "cam02": 2.1, "cam03": 3.3, "cam04": 26.5}


@lru_cache(maxsize=4)
def rig_track(camera: str, model_path: str) -> LandmarkTrack:
    path = RIG / f"{camera}.mp4"
    if not path.is_file():
        raise FileNotFoundError(f"the rig's clips are needed beside the checkout: {path}")
    return extract_track(path, model_path)
