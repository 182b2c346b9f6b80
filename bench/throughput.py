"""End-to-end throughput of `isobalance landmarks` against bare PoseLandmarker.detect_for_video.

One run, side by side, on the same clip (a sample looped to a 40 s video, encoded like a normal
upload). The bare baseline gets the frames already decoded in memory, creates the landmarker and calls
detect_for_video with the same options (num_poses, confidences); the CLI job is timed from the same
point (after Python start-up and imports) to its last file written. The ratio shows what decoding,
subject selection, smoothing, drawing, encoding and writing cost on top of the model once they
overlap with it. Without the annotated video the CLI may use both cores on segments of the file
(vision.parallel) — that is its real behaviour, so it is measured as such.
Rounds alternate between the contenders so that machine noise hits both alike.

Also: peak memory of the CLI on the clip looped 1x and 10x (streaming: it must not grow with length).

    .venv/bin/python bench/throughput.py [--clip tfjs_pose_1.mp4] [--loops 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sample_videos import locate  # noqa: E402
from vision.models import resolve_model  # noqa: E402
from vision.pipeline import PipelineSettings  # noqa: E402
from vision.sources import open_source  # noqa: E402


def looped_clip(src: Path, loops: int, dst: Path) -> tuple[Path, int]:
    """Re-encode ``src`` repeated ``loops`` times (H.264 crf 20, like a phone upload)."""
    import av

    with open_source(src) as s:
        frames = [f.rgb for f in s]
        fps = s.info.fps
    step = 1000.0 / fps
    with av.open(str(dst), "w") as c:
        st = c.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        st.width, st.height, st.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        st.time_base = st.codec_context.time_base = Fraction(1, 1000)
        st.options = {"crf": "20", "preset": "fast"}
        n = 0
        for k in range(loops):
            for rgb in frames:
                f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                f.pts, f.time_base = int(round(n * step)), Fraction(1, 1000)
                for p in st.encode(f):
                    c.mux(p)
                n += 1
        for p in st.encode():
            c.mux(p)
    return dst, n


def bare(clip: Path, model: Path, settings: PipelineSettings) -> float:
    """Frames/s of detect_for_video alone over frames decoded beforehand."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    with open_source(clip) as s:
        frames = [(f.timestamp_ms, mp.Image(image_format=mp.ImageFormat.SRGB, data=f.rgb)) for f in s]
    opts = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model)), running_mode=vision.RunningMode.VIDEO,
        num_poses=settings.num_poses, min_pose_detection_confidence=settings.min_detection_confidence,
        min_pose_presence_confidence=settings.min_presence_confidence,
        min_tracking_confidence=settings.min_tracking_confidence)
    t0 = time.perf_counter()  # creating the landmarker is part of running it, for both contenders
    with vision.PoseLandmarker.create_from_options(opts) as lm:
        for ts, image in frames:
            lm.detect_for_video(image, int(ts))
        return len(frames) / (time.perf_counter() - t0)


def cli(clip: Path, model: Path, out: Path, video: bool) -> tuple[float, float]:
    """Frames/s of the whole CLI job (timed inside the process, start-up excluded) and peak RSS MB."""
    code = f"""
import json, resource, time, sys
sys.path.insert(0, {str(ROOT)!r})
from isobalance.config import Config
from vision.landmarks_job import run_landmarks
cfg = Config().override("vision", model={str(model)!r}).vision
import mediapipe  # imported before timing, as the CLI does at start-up
t0 = time.perf_counter()
s = run_landmarks({str(clip)!r}, {str(out)!r}, cfg, write_video={video!r})
dt = time.perf_counter() - t0
print(json.dumps({{"fps": s["frames"] / dt, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    d = json.loads(r.stdout.strip().splitlines()[-1])
    return d["fps"], d["rss_mb"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", default="tfjs_pose_1.mp4")
    ap.add_argument("--loops", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    model = resolve_model("full")
    settings = PipelineSettings()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip, n = looped_clip(locate(args.clip), args.loops, tmp / "looped.mp4")
        results: dict[str, list[float]] = {"bare": [], "cli_no_video": [], "cli_with_video": []}
        for _ in range(args.rounds):
            results["bare"].append(bare(clip, model, settings))
            results["cli_no_video"].append(cli(clip, model, tmp / "o1", video=False)[0])
            results["cli_with_video"].append(cli(clip, model, tmp / "o2", video=True)[0])
        med = {k: statistics.median(v) for k, v in results.items()}
        print(f"clip: {args.clip} looped {args.loops}x = {n} frames; {args.rounds} alternating rounds; "
              f"num_poses={settings.num_poses}")
        for k, v in results.items():
            print(f"  {k:15s} median {med[k]:6.1f} frames/s   runs {', '.join(f'{x:.1f}' for x in v)}")
        print(f"ratio cli(no video)/bare   = {med['cli_no_video'] / med['bare']:.2f}")
        print(f"ratio cli(with video)/bare = {med['cli_with_video'] / med['bare']:.2f}")

        one, _ = looped_clip(locate(args.clip), 1, tmp / "x1.mp4")
        ten, n10 = looped_clip(locate(args.clip), 10, tmp / "x10.mp4")
        _, rss1 = cli(one, model, tmp / "m1", video=True)
        _, rss10 = cli(ten, model, tmp / "m10", video=True)
        print(f"peak RSS: 1x {rss1:.0f} MB, 10x ({n10} frames) {rss10:.0f} MB, "
              f"difference {rss10 - rss1:+.0f} MB (limit +50 MB)")


if __name__ == "__main__":
    main()
