"""Reads manifest.json, the single description of the sample clips (source, license, sha256, facts)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

MANIFEST_PATH = Path(__file__).with_name("manifest.json")


@dataclass(frozen=True)
class Segment:
    """Frames [start_frame, end_frame] (inclusive) in which the clip shows ``label``."""

    label: str
    start_frame: int
    end_frame: int


@dataclass(frozen=True)
class Clip:
    name: str
    kind: str  # "video" or "image"
    url: str
    url_status: str
    sha256: str
    bytes: int
    license: str
    source: dict
    subject: str
    view: str
    activity: str
    width: int
    height: int
    fps: float | None
    frames: int
    facts: str
    segments: tuple[Segment, ...]

    def segments_labelled(self, label: str) -> tuple[Segment, ...]:
        return tuple(s for s in self.segments if s.label == label)


def load_manifest(path: str | os.PathLike = MANIFEST_PATH) -> dict[str, Clip]:
    """Clips by file name, in manifest order."""
    raw = json.loads(Path(path).read_text())
    clips = {}
    for entry in raw["clips"]:
        fields = dict(entry, segments=tuple(Segment(**s) for s in entry["segments"]))
        clips[entry["name"]] = Clip(**fields)
    return clips


def load_licenses(path: str | os.PathLike = MANIFEST_PATH) -> dict[str, dict]:
    return json.loads(Path(path).read_text())["licenses"]
