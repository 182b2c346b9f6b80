"""Build derived clips for metamorphic tests from the real sample clips (never committed).

Every construction is exact and documented: frames are decoded once, transformed with numpy
(mirror, rotation, crop, side-by-side), and written losslessly (H.264 qp=0) or served from memory.
"""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from vision.sources import Frame, FrameSource, SourceInfo, open_source


def decode_all(path: Path) -> tuple[list[Frame], SourceInfo]:
    with open_source(path) as src:
        return list(src), src.info


def write_lossless(path: Path, frames: list[np.ndarray], timestamps_ms: list[float]) -> Path:
    """Encode RGB frames losslessly with the given timestamps (ms time base)."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264rgb", rate=30)
        s.width, s.height, s.pix_fmt = w, h, "rgb24"
        s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        s.options = {"qp": "0", "preset": "ultrafast"}
        for rgb, ts in zip(frames, timestamps_ms):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            f.pts, f.time_base = int(round(ts)), Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def with_rotation_flag(src: Path, dst: Path, degrees: int) -> Path:
    """Stream-copy ``src`` with a display-matrix rotation tag (what a phone writes). Needs ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg (Debian package) is required; .ci/run installs it"
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(src), "-c", "copy",
                    "-metadata:s:v:0", f"rotate={degrees}", str(dst)], check=True)
    return dst


class MappedSource(FrameSource):
    """Frames of a real source transformed in memory (no re-encoding, so the transform is exact)."""

    def __init__(self, frames: list[Frame], info: SourceInfo, fn: Callable[[np.ndarray], np.ndarray]):
        self.frames, self.fn = frames, fn
        first = fn(frames[0].rgb)
        self.info = SourceInfo(info.kind, info.name + "+mapped", info.fps, first.shape[1], first.shape[0],
                               0, len(frames))

    def __iter__(self) -> Iterator[Frame]:
        for f in self.frames:
            yield Frame(f.index, f.timestamp_ms, np.ascontiguousarray(self.fn(f.rgb)))


def shaken(frames: list[np.ndarray], px: float = 2.0, deg: float = 0.1, seed: int = 7) -> list[np.ndarray]:
    """A handheld camera by construction: the view translated and rotated by a random walk (``px`` pixels
    and ``deg`` degrees standard deviation a frame), edges reflected. Used by tests/vision/test_search.py
    and bench/scene_change.py."""
    import cv2

    rng = np.random.default_rng(seed)
    t, a, out = np.zeros(2), 0.0, []
    for rgb in frames:
        t += rng.normal(0, px, 2)
        a += rng.normal(0, deg)
        h, w = rgb.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), a, 1.0)
        m[:, 2] += t
        out.append(cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT))
    return out
