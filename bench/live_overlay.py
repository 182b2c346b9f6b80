"""Live overlay cost: what the dashboard adds per webcam frame (analysis + drawing) against landmark
inference per frame, measured side by side in one run at the webcam size (640x480).

    .venv/bin/python bench/live_overlay.py [--seconds 12] [--fps 15]

Frames: tfjs_pose_squats.mp4 letterboxed to 640x480 (as the browser tests' fake webcam sends them);
standing frames 20-26 (levelled 4 deg, see tests/dashboard/browser/test_live_browser.py) for the
guided capture and the hold, then the whole clip. Each frame goes through ``LiveSession.process``
(the webrtc callback's work minus the av.VideoFrame conversion, which is timed separately), with a
simulated 15-fps clock so the monitors see webcam timing. The session times its two parts itself:
``inference`` = shared VIDEO-mode estimator + subject selection + smoothing; ``overlay`` = capture
checks or HoldMonitor.update + drawing + copying the frame.

Prints per mode: mean / median / p95 ms of inference and overlay, the overlay : inference ratio, and
the frame rate the callback sustains (1 / (inference + overlay + conversion)) on this machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sample_videos import locate  # noqa: E402
from vision.models import resolve_model  # noqa: E402
from vision.pipeline import PipelineSettings  # noqa: E402
from vision.sources import open_source  # noqa: E402
from tests.dashboard.frames import letterbox  # noqa: E402


def stats(ms: np.ndarray) -> str:
    return f"mean {ms.mean():6.2f}  median {np.median(ms):6.2f}  p95 {np.percentile(ms, 95):6.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12.0, help="simulated seconds per mode")
    ap.add_argument("--fps", type=float, default=15.0)
    args = ap.parse_args()

    import av

    from assessment.exercises import load_catalog
    from assessment.hold import HoldProtocol, HoldSettings
    from dashboard.live import GuidedCapture, LiveHold, LiveSession, make_estimator

    with open_source(str(locate("tfjs_pose_squats.mp4"))) as src:
        clip = [f.rgb.copy() for f in src]
    standing = [letterbox(f, 4.0) for f in clip[20:27]]
    standing = standing + standing[::-1]
    whole = [letterbox(f) for f in clip]
    settings = PipelineSettings()
    est = make_estimator(resolve_model("full"), settings)
    clock = {"t": 0.0}
    n = int(args.seconds * args.fps)
    # the heaviest hold in the catalog: 4 landmarks + 2 angles
    protocol = HoldProtocol.from_exercise(load_catalog().get("lower-trapezius-low-row-hold"))
    modes = {
        "guided capture (standing)": (lambda: GuidedCapture(), standing),
        "guided capture (squats)": (lambda: GuidedCapture(), whole),
        "hold monitor (standing)": (lambda: LiveHold(protocol, HoldSettings(calibrate_s=3.0)), standing),
    }
    print(f"{n} frames per mode at 640x480, simulated {args.fps:g} fps; model {est.model_path.name}")
    try:
        for name, (task, frames) in modes.items():
            clock["t"] += 5000.0
            session = LiveSession(est, settings, task(), now_ms=lambda: clock["t"])
            for i in range(5):                          # warm-up (first-call imports, model caches)
                clock["t"] += 1000.0 / args.fps
                session.process(frames[i % len(frames)])
            inf, ovl, conv = [], [], []
            for i in range(n):
                clock["t"] += 1000.0 / args.fps
                rgb = frames[(i // 3) % len(frames)]       # 5-fps source shown at 15 fps
                t0 = time.perf_counter()
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                arr = frame.to_ndarray(format="rgb24")
                t1 = time.perf_counter()
                out = session.process(arr)
                t2 = time.perf_counter()
                av.VideoFrame.from_ndarray(out, format="rgb24")
                t3 = time.perf_counter()
                a, b = session._times[-1]
                inf.append(a)
                ovl.append(b)
                conv.append((t1 - t0 + t3 - t2) * 1000.0)
            inf, ovl, conv = np.array(inf), np.array(ovl), np.array(conv)
            total = inf + ovl + conv
            print(f"\n{name}")
            print(f"  inference           {stats(inf)}")
            print(f"  analysis + drawing  {stats(ovl)}")
            print(f"  av conversion       {stats(conv)}")
            print(f"  ratio (analysis + drawing) : inference = {ovl.mean() / inf.mean():.3f} (mean), "
                  f"{np.median(ovl) / np.median(inf):.3f} (median)")
            print(f"  callback sustains {1000.0 / total.mean():.1f} fps (mean), "
                  f"{1000.0 / np.percentile(total, 95):.1f} fps at p95")
            snap = session.snapshot()
            if snap.captured:
                print(f"  captured: {', '.join(snap.captured)}")
            if snap.hold is not None:
                print(f"  hold: phase {snap.hold.phase.value}, held {snap.hold.held_s:.1f} s")
    finally:
        est.close()


if __name__ == "__main__":
    main()
