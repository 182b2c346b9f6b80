"""Sample clips: described in manifest.json, found locally or fetched (minimal first version)."""

from __future__ import annotations

from pathlib import Path

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "videos"


def locate(name: str) -> Path:
    p = _SHARED / name
    if p.is_file():
        return p
    raise FileNotFoundError(name)
