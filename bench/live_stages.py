"""CPU cost of each server-side stage of one live 640x480 frame, without a browser: what a 2-core machine
must spend per frame besides the pose model. aiortc's own VP8 decoder and encoder classes (the ones the
webrtc connection uses), PyAV's conversions as ``LiveSession.on_frame`` calls them, and the session's
overlay drawn on each returned frame (``LiveSession.compose``), and the live estimator's model plus the
capture's analysis (``LiveSession.process``), on the squat clip letterboxed as the browser tests' fake
webcam. CPU time of this process (all threads), median per frame.

    .venv/bin/python bench/live_stages.py
"""

from __future__ import annotations

import os
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import av
    from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder, vp8_depayload
    from aiortc.jitterbuffer import JitterFrame

    from dashboard.live import GuidedCapture, LiveSession, make_estimator, video_frame
    from sample_videos import locate
    from tests.dashboard.frames import letterbox
    from vision.models import resolve_model
    from vision.pipeline import PipelineSettings
    from vision.sources import open_source

    with open_source(str(locate("tfjs_pose_squats.mp4"))) as src:
        frames = [letterbox(f.rgb, 4.0) for f in src]
    frames = (frames + frames[::-1]) * 2
    cost: dict[str, list[float]] = {k: [] for k in ("VP8 decode", "to RGB array", "compose overlay",
                                                    "from RGB array", "VP8 encode", "model + analysis")}
    enc, dec = Vp8Encoder(), Vp8Decoder()
    clock = {"t": 0.0}
    with make_estimator(resolve_model("full"), PipelineSettings()) as est:       # the live pages' estimator
        session = LiveSession(est, PipelineSettings(), GuidedCapture(), now_ms=lambda: clock["t"])
        for i, rgb in enumerate(frames):
            clock["t"] += 1000.0 / 30
            m0 = time.process_time()
            session.process(rgb)                                   # a pose and its overlay to draw
            model = time.process_time() - m0
            sent = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            sent.pts, sent.time_base = i * 3000, Fraction(1, 90000)
            payloads, ts = enc.encode(sent, force_keyframe=i == 0)     # as Chromium sends it
            data = b"".join(vp8_depayload(p) for p in payloads)
            c0 = time.process_time()
            got = dec.decode(JitterFrame(data=data, timestamp=ts))[0]
            c1 = time.process_time()
            arr = got.to_ndarray(format="rgb24")
            c2 = time.process_time()
            out = session.compose(arr)
            c3 = time.process_time()
            back = video_frame(out)                                # as on_frame hands it back
            back.pts, back.time_base = sent.pts, sent.time_base
            c4 = time.process_time()
            enc.encode(back)
            c5 = time.process_time()
            for k, a, b in zip(cost, (c0, c1, c2, c3, c4), (c1, c2, c3, c4, c5)):
                cost[k].append((b - a) * 1000.0)
            cost["model + analysis"].append(model * 1000.0)
    med = {k: float(np.median(v[5:])) for k, v in cost.items()}
    print(f"server CPU ms per 640x480 frame (median of {len(frames) - 5}), load average {os.getloadavg()[0]:.1f}: "
          + ", ".join(f"{k} {v:.1f}" for k, v in med.items()) + f"; total {sum(med.values()):.1f}; searched "
          f"for everybody {est.searches} of {est.frames} frames")


if __name__ == "__main__":
    main()
