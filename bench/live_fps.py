"""Live speed as a user sees it: the real dashboard server (the ``isobalance dashboard`` command line),
real headless Chromium whose fake webcam plays a 640x480 clip at 30 fps, the self-assessment page
processing every frame it can in the webrtc callback. Prints, sampled every 2 s after a warm-up, what the
page itself reports: frames processed per second, pose-model and overlay milliseconds per frame, and the
overlay lag (frame handed to the callback -> annotated frame ready, 95th percentile), plus the machine's
load average (other jobs share the cores: say so with the figures).

    .venv/bin/python bench/live_fps.py [--seconds 40] [--fps 30] [--workers 1,2] [--model full]

Each ``--workers`` setting (landmarker threads per live session, ``ISOBALANCE_LIVE_WORKERS``) runs its
own server and browser one after the other in the same run, so their figures are side by side.

Frames: tfjs_pose_squats.mp4 standing frames 20-26, forward then backward, levelled 4 deg (as the
browser tests), at ``--fps``. Needs Debian's chromium and ffmpeg (scripts/setup.sh installs both).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATUS = re.compile(r"([\d.]+) frames per second processed; pose model (\d+) ms per frame, checks and drawing "
                    r"([\d.]+) ms; overlay ready (\d+) ms after the frame arrived \(95th percentile\); the camera "
                    r"sends (\d+) frames per second")


def make_clip(folder: Path, fps: int) -> Path:
    from sample_videos import locate
    from tests.dashboard.frames import letterbox, write_y4m
    from vision.sources import open_source

    with open_source(str(locate("tfjs_pose_squats.mp4"))) as src:
        frames = [f.rgb.copy() for f in src]
    seg = [letterbox(f, 4.0) for f in frames[20:27]]
    loop = seg + seg[::-1]
    per = max(1, round(fps / 5))               # the clip's standing frames are ~5 per second of motion
    return write_y4m([f for f in loop for _ in range(per)] * 2, folder / f"standing_{fps}.y4m", fps=fps)


def measure(clip: Path, tmp: Path, workers: int, seconds: float, model: str | None) -> dict:
    """One server with ``workers`` landmarker threads, one Chromium; the page's own figures over time."""
    from playwright.sync_api import sync_playwright

    from isobalance.cli_dashboard import streamlit_argv
    from tests.dashboard.conftest import CHROMIUM, CHROMIUM_FLAGS, free_port

    port = free_port()
    env = dict(os.environ, ISOBALANCE_DATA=str(tmp / f"data{workers}"), ISOBALANCE_LIVE_WORKERS=str(workers))
    if model:
        env["ISOBALANCE_MODEL"] = model
    server = subprocess.Popen(streamlit_argv("127.0.0.1", port, 200), cwd=ROOT, env=env,
                              stdout=open(tmp / f"server{workers}.log", "wb"), stderr=subprocess.STDOUT)
    samples: list[tuple[float, ...]] = []
    loads = []
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                str(tmp / f"profile{workers}"), executable_path=CHROMIUM, headless=True,
                ignore_default_args=["--headless"], args=CHROMIUM_FLAGS + [f"--use-file-for-fake-video-capture={clip}"],
                viewport={"width": 1280, "height": 1600})
            page = ctx.pages[0]
            page.goto(url, timeout=300_000)
            page.frame_locator("iframe[title*='webrtc']").first.get_by_role("button", name="START").click(timeout=300_000)
            deadline = time.monotonic() + 300
            while not STATUS.search(page.inner_text("body")):
                if time.monotonic() > deadline:
                    raise SystemExit("the page never reported a processed frame")
                time.sleep(1)
            time.sleep(5)                                          # warm-up: model and tracker settle
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                m = STATUS.search(page.inner_text("body"))
                if m:
                    samples.append(tuple(float(g) for g in m.groups()))
                loads.append(os.getloadavg()[0])
                time.sleep(2)
            ctx.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    if not samples:
        raise SystemExit("no samples")
    cols = list(zip(*samples))
    return {"workers": workers, "n": len(samples), "load": (min(loads), max(loads)),
            **{k: statistics.median(c) for k, c in zip(("fps", "pose_ms", "overlay_ms", "lag_ms", "camera_fps"), cols)},
            "fps_range": (min(cols[0]), max(cols[0])), "lag_max": max(cols[3])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--workers", default="1,2", help="landmarker threads to compare, in one run (default 1,2)")
    ap.add_argument("--model", default=None, help="pose model path (default: ISOBALANCE_MODEL or the config's)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="isobalance-livefps-"))
    clip = make_clip(tmp, args.fps)
    runs = [measure(clip, tmp, int(w), args.seconds, args.model) for w in args.workers.split(",")]
    print(f"camera {args.fps} fps 640x480, {args.seconds:.0f} s per setting, {os.cpu_count()} cores")
    for r in runs:
        print(f"{r['workers']} landmarker thread(s): processed {r['fps']:.1f} fps (min {r['fps_range'][0]:.1f}, max "
              f"{r['fps_range'][1]:.1f}) of {r['camera_fps']:.0f} arriving = {r['fps'] / args.fps:.0%} of the camera's "
              f"frames; pose model {r['pose_ms']:.0f} ms/frame, checks+drawing {r['overlay_ms']:.1f} ms/frame, overlay "
              f"lag p95 {r['lag_ms']:.0f} ms (median of {r['n']} samples; max {r['lag_max']:.0f} ms); load average "
              f"{r['load'][0]:.1f}-{r['load'][1]:.1f}")
    if len(runs) > 1:
        base = runs[0]
        for r in runs[1:]:
            print(f"ratio {r['workers']} vs {base['workers']} thread(s): processed fps x{r['fps'] / base['fps']:.2f}, "
                  f"overlay lag x{r['lag_ms'] / base['lag_ms']:.2f}")


if __name__ == "__main__":
    main()
