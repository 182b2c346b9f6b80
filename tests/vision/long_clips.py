"""Longer clips built from the real sample clips, for the parallel tests and bench (never committed).

The samples are short (11-120 frames). A long clip is the real clip played forwards then backwards
(ping-pong, so motion stays continuous: no jump where a loop restarts), repeated, and encoded like a
phone upload: H.264 yuv420p, CRF 20, B-frames, a keyframe every ``keyint`` frames. Every frame is a
real decoded frame of the sample; only the order repeats.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from vision.sources import open_source


def pingpong_clip(src: Path, dst: Path, n_frames: int, keyint: int | None = None, crf: int = 20) -> Path:
    """Write ``n_frames`` frames of ``src`` played forwards, backwards, forwards... to ``dst``.

    ``keyint`` defaults to two seconds of frames (what phones and screen recorders commonly use).
    """
    import av

    with open_source(src) as s:
        frames = [f.rgb for f in s]
        fps = s.info.fps
    cycle = frames + frames[-2:0:-1] if len(frames) > 2 else frames
    rate = Fraction(fps).limit_denominator(1000)
    step_ms = 1000.0 / fps
    with av.open(str(dst), "w") as c:
        st = c.add_stream("libx264", rate=rate)
        st.width, st.height, st.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        st.time_base = st.codec_context.time_base = Fraction(1, 1000)
        st.options = {"crf": str(crf), "preset": "veryfast",
                      "g": str(keyint or max(int(round(2 * fps)), 2)), "keyint_min": "1"}
        for n in range(n_frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(cycle[n % len(cycle)]), format="rgb24")
            f.pts, f.time_base = int(round(n * step_ms)), Fraction(1, 1000)
            for p in st.encode(f):
                c.mux(p)
        for p in st.encode():
            c.mux(p)
    return dst


def cut_in_half(src: Path, folder: Path) -> Path:
    """``src`` remuxed with its index first, then cut to its first half of bytes: a file that breaks
    part-way (a failed upload or copy), whose first frames still decode."""
    import subprocess

    whole = folder / "whole.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(src), "-c", "copy", "-movflags", "+faststart",
                    str(whole)], check=True)
    cut = folder / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return cut
