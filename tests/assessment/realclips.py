"""Real landmark tracks for assessment tests: the real MediaPipe model on the real sample clips.

``flipped=True`` mirrors the *pixels* before the model sees them, so a mirror test compares two
real model runs (not just relabelled landmarks). Cached per process: each clip runs once.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterator

from vision.pipeline import PipelineSettings, extract_track
from vision.sources import Frame, FrameSource, open_source
from vision.track import LandmarkTrack


class FlippedSource(FrameSource):
    """A video whose frames are mirrored left-right (what a mirrored camera would record)."""

    def __init__(self, path: str | Path):
        self._inner = open_source(str(path))
        self.info = self._inner.info

    @property
    def error(self):
        return self._inner.error

    def __iter__(self) -> Iterator[Frame]:
        for f in self._inner:
            yield Frame(f.index, f.timestamp_ms, f.rgb[:, ::-1].copy())

    def close(self) -> None:
        self._inner.close()


@lru_cache(maxsize=32)
def real_track(path: str, model_path: str, flipped: bool = False, num_poses: int | None = None) -> LandmarkTrack:
    """The default pipeline's track, or with ``num_poses`` given that setting (2: the every-frame detector)."""
    source = FlippedSource(path) if flipped else path
    settings = PipelineSettings() if num_poses is None else PipelineSettings(num_poses=num_poses)
    try:
        return extract_track(source, model_path=model_path, settings=settings)
    finally:
        if flipped:
            source.close()
