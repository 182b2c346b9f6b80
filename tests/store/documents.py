"""Real documents to save: assessment reports and hold results computed by the real assessment code
on synthetic landmarks whose angles are known by construction (tests/assessment/synthetic.py)."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

from tests.assessment.synthetic import Pose, jitter_track, make_track


@functools.lru_cache(maxsize=None)
def _report(shoulder_tilt: float, seed: int, n_frames: int) -> dict:
    from assessment.assess import assess

    track = jitter_track(make_track([Pose(shoulder_line_tilt=shoulder_tilt)] * n_frames, fps=30.0,
                                    source="synthetic front view"), 1.0, seed=seed)
    return assess(track).to_dict()


def report(shoulder_tilt: float = 8.0, seed: int = 1, created_utc: str | None = None, n_frames: int = 60) -> dict:
    """A real report of a person standing still with the left shoulder ``shoulder_tilt`` deg higher."""
    r = copy.deepcopy(_report(float(shoulder_tilt), seed, n_frames))
    if created_utc:
        r["created_utc"] = created_utc
    return r


@functools.lru_cache(maxsize=None)
def _hold(seed: int, duration_s: float) -> dict:
    from assessment.exercises import load_catalog
    from assessment.hold import HoldProtocol, HoldSettings, check_hold
    from tests.assessment.hold_synth import still_recording

    protocol = HoldProtocol.from_exercise(load_catalog().get("upper-trapezius-pir"))
    protocol = HoldProtocol(protocol.exercise_id, hold_s=5.0, relax_s=1.0, stretch_s=1.0, repetitions=2,
                            still_landmarks=protocol.still_landmarks, still_angles=protocol.still_angles,
                            name=protocol.name, technique=protocol.technique)
    rec = still_recording(duration_s, fps=15.0, seed=seed)
    return check_hold(rec.track(source="synthetic hold clip"), protocol, HoldSettings()).to_dict()


HOLD_EXERCISE = "upper-trapezius-pir"
PLAN_ITEMS = [{"exercise_id": "upper-trapezius-pir", "side": "right", "hold_s": 6, "relax_s": 2, "stretch_s": 8,
               "repetitions": 4, "per_week": 3},
              {"exercise_id": "lower-trapezius-low-row-hold", "side": "right", "hold_s": 12, "relax_s": 5,
               "stretch_s": 0, "repetitions": 6, "per_week": 5}]


def hold(seed: int = 0, duration_s: float = 20.0) -> dict:
    """A real hold result: 2 repetitions of 5 s of a still synthetic person (jitter only)."""
    return copy.deepcopy(_hold(seed, duration_s))


def some_files(folder: Path, tag: str = "a") -> dict[str, Path]:
    """A track-like CSV and a video-like binary file with distinct content."""
    folder.mkdir(parents=True, exist_ok=True)
    track = folder / f"track-{tag}.csv"
    track.write_text("frame,x\n" + "".join(f"{i},{i * 0.5}\n" for i in range(200)) + f"# {tag}\n")
    video = folder / f"clip-{tag}.mp4"
    video.write_bytes(bytes(range(256)) * 400 + tag.encode())
    return {"track": track, "video": video}
