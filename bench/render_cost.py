"""What the annotated video costs, and what an x264 preset trades: CPU per frame against size and fidelity.

Renders the same clip with the same track (``vision.render.render_video``, one part per core, as
``isobalance landmarks`` does after its track) once per preset, presets alternating over ``--rounds``,
and prints per preset: the render's CPU (getrusage of this process: decoding, drawing, yuv420p, x264,
every thread) per frame, the file size per minute of video, and the PSNR of the video's luma against the
drawn frames it encoded (each frame re-decoded from the source and re-drawn here; 4:2:0 conversion
included, so only the encoder's loss is measured). The track comes from ``--track`` (a ``track.csv`` of
this clip, e.g. ``isobalance landmarks CLIP -o OUT --no-video``).

    .venv/bin/python bench/render_cost.py --clip /tmp/clips/tfjs_pose_1-x10.mp4 --track OUT/track.csv

The machine is shared: run it when it is quiet and read ratios from the same run; record the load.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def luma_psnr(video: Path, clip: Path, track, every: int) -> float:
    """Mean PSNR (dB) of the video's Y plane against the I420 of the drawn frames (every ``every``-th)."""
    import av
    import cv2

    from vision.render import draw_track_frame

    errors = []
    with av.open(str(clip)) as src, av.open(str(video)) as out:
        for i, (a, b) in enumerate(zip(src.decode(video=0), out.decode(video=0))):
            if i % every:
                continue
            rgb = a.to_ndarray(format="rgb24")
            draw_track_frame(rgb, i, float(track.timestamp_ms[i]), track.image[i])
            want = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)[: rgb.shape[0]].astype(float)
            got = b.to_ndarray(format="yuv420p")[: rgb.shape[0]].astype(float)
            errors.append(np.mean((want - got) ** 2))
    return float(10 * np.log10(255.0 ** 2 / np.mean(errors)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=Path, required=True)
    ap.add_argument("--track", type=Path, required=True, help="track.csv of the clip")
    ap.add_argument("--presets", nargs="+", default=["ultrafast", "superfast", "veryfast"])
    ap.add_argument("--crf", default=None, help="x264 CRF (default: the writer's)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--psnr-every", type=int, default=10, help="compare every N-th frame (0: skip PSNR)")
    args = ap.parse_args()

    from vision import drawing
    from vision.render import draw_track_frame, render_video
    from vision.track import LandmarkTrack

    track = LandmarkTrack.load(args.track)
    default = dict(drawing.X264_OPTIONS)
    cpu: dict[str, list[float]] = {p: [] for p in args.presets}
    size, psnr = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for preset in args.presets if r % 2 == 0 else args.presets[::-1]:
                drawing.X264_OPTIONS = {**default, "preset": preset, **({"crf": args.crf} if args.crf else {})}
                out = Path(tmp) / f"{preset}.mp4"
                before = cpu_s()
                render_video(args.clip, out, track.image, draw_track_frame, workers=args.workers)
                cpu[preset].append((cpu_s() - before) / len(track) * 1000)
                size[preset] = out.stat().st_size
                load = open("/proc/loadavg").read().split()[0]
                print(f"round {r + 1} {preset}: {cpu[preset][-1]:.2f} ms/frame CPU (load {load})", flush=True)
                if r == 0 and args.psnr_every:
                    psnr[preset] = luma_psnr(out, args.clip, track, args.psnr_every)
    drawing.X264_OPTIONS = default
    minutes = (float(track.timestamp_ms[-1]) + 1000 / (track.meta.fps or 30)) / 60000   # last frame shown too
    print(f"\n{len(track)} frames {track.meta.width}x{track.meta.height}, {args.workers} parts, "
          f"crf {args.crf or default['crf']}, {args.rounds} rounds (median)")
    print("| preset | render CPU ms/frame | × " + args.presets[-1] + " | MB per minute | luma PSNR dB |")
    print("|---|---|---|---|---|")
    ref = statistics.median(cpu[args.presets[-1]])
    for p in args.presets:
        med = statistics.median(cpu[p])
        print(f"| {p} | {med:.2f} | {med / ref:.2f} | {size[p] / 1e6 / minutes:.1f} | "
              f"{psnr.get(p, float('nan')):.1f} |")
    print(f"load {open('/proc/loadavg').read().strip()}")


if __name__ == "__main__":
    main()
