"""Parallel speed, side by side in one run: one long file on all cores, batches on 1 vs 2 workers,
and Ray's per-video overhead against the local pool.

1. One long file: a real clip ping-ponged to N frames (tests/vision/long_clips.py; H.264 CRF 20,
   B-frames, keyframe every 2 s), ``extract_track`` (sequential) against ``run_parallel`` (one segment
   per core, worker start-up included). Rounds alternate so machine noise hits both alike. Several
   lengths, to choose ``vision.parallel.MIN_PARALLEL_FRAMES``.
2. Batch throughput: the same folder of videos with ``run_batch(workers=1)`` and ``workers=2``.
3. Ray: the same batch on a local Ray cluster (2 CPUs) against the local pool with 2 workers; the
   difference per video is Ray's overhead (cluster start-up is printed separately).

    .venv/bin/python bench/parallel.py [--frames 900] [--rounds 2] [--workers 2] [--skip-ray]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sample_videos import locate  # noqa: E402
from tests.vision.long_clips import pingpong_clip  # noqa: E402
from vision.models import resolve_model  # noqa: E402
from vision.parallel import available_cores, run_parallel  # noqa: E402
from vision.pipeline import PipelineSettings, extract_track  # noqa: E402


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def single_file(tmp: Path, model: Path, lengths: list[int], rounds: int, workers: int, clip: str) -> list[dict]:
    settings = PipelineSettings()
    results = []
    for n in lengths:
        path = pingpong_clip(locate(clip), tmp / f"long_{n}.mp4", n)
        seq, par = [], []
        for _ in range(rounds):
            seq.append(timed(lambda: extract_track(path, model, settings)))
            par.append(timed(lambda: run_parallel(path, model, settings, workers=workers)))
        s, p = statistics.median(seq), statistics.median(par)
        results.append({"clip": clip, "frames": n, "sequential_s": round(s, 2), "parallel_s": round(p, 2),
                        "speedup": round(s / p, 2), "sequential_fps": round(n / s, 1), "parallel_fps": round(n / p, 1)})
        print(json.dumps(results[-1]), flush=True)
    return results


def batch_folder(tmp: Path, n_videos: int, frames: int) -> Path:
    folder = tmp / "batch"
    folder.mkdir()
    for i, clip in zip(range(n_videos), ["tfjs_pose_1.mp4", "tfjs_pose_squats.mp4"] * n_videos):
        pingpong_clip(locate(clip), folder / f"video_{i}.mp4", frames)
    return folder


def batch_runs(tmp: Path, folder: Path, rounds: int, ray_too: bool) -> dict:
    from isobalance.batch import run_batch

    n = len(list(folder.iterdir()))
    times: dict[str, list[float]] = {"local_1": [], "local_2": [], "ray_2": []}
    ray_start = None
    if ray_too:
        import ray

        ray_start = timed(lambda: ray.init(address="local", num_cpus=2, include_dashboard=False,
                                           log_to_driver=False))
    try:
        for r in range(rounds):
            for name, kwargs in [("local_1", {"workers": 1}), ("local_2", {"workers": 2}),
                                 ("ray_2", {"use_ray": True})]:
                if name == "ray_2" and not ray_too:
                    continue
                out = tmp / f"out_{name}_{r}"
                times[name].append(timed(lambda: run_batch(folder, out, **kwargs)))
                shutil.rmtree(out)
    finally:
        if ray_too:
            ray.shutdown()
    med = {k: statistics.median(v) for k, v in times.items() if v}
    result = {"videos": n, **{f"{k}_s": round(v, 2) for k, v in med.items()},
              "videos_per_min_1_worker": round(60 * n / med["local_1"], 1),
              "videos_per_min_2_workers": round(60 * n / med["local_2"], 1),
              "throughput_ratio_2_vs_1": round(med["local_1"] / med["local_2"], 2)}
    if ray_too:
        result.update(ray_cluster_start_s=round(ray_start, 2),
                      ray_vs_local_ratio=round(med["ray_2"] / med["local_2"], 2),
                      ray_overhead_per_video_s=round((med["ray_2"] - med["local_2"]) / n, 3))
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=900, help="longest single file, frames")
    ap.add_argument("--lengths", type=str, default="150,300,600", help="shorter lengths for the threshold")
    ap.add_argument("--clip", default="tfjs_pose_1.mp4")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-videos", type=int, default=6)
    ap.add_argument("--batch-frames", type=int, default=150)
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()
    model = resolve_model("full")
    print(f"cores available: {available_cores()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="isobalance-bench-") as tmp_name:
        tmp = Path(tmp_name)
        lengths = [int(x) for x in args.lengths.split(",") if x] + [args.frames]
        single = single_file(tmp, model, lengths, args.rounds, args.workers, args.clip)
        batch = batch_runs(tmp, batch_folder(tmp, args.batch_videos, args.batch_frames), args.rounds,
                           not args.skip_ray)
    print(json.dumps({"single_file": single, "batch": batch}, indent=2))


if __name__ == "__main__":
    main()
