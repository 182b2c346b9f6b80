"""Pose model provisioning (minimal first version; extended with download/verify/offline build)."""

from __future__ import annotations

import os
from pathlib import Path

from vision.errors import IsobalanceError


class ModelNotFoundError(IsobalanceError):
    pass


def resolve_model(name: str = "full", path: str | os.PathLike | None = None) -> Path:
    candidates = [path, os.environ.get("ISOBALANCE_MODEL"),
                  Path(__file__).resolve().parents[1].parent / "shared" / "models" / f"pose_landmarker_{name}.task"]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    raise ModelNotFoundError(f"no pose model '{name}' found")
