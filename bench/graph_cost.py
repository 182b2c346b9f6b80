"""Where one MediaPipe pose graph's CPU goes, per calculator, in ms per frame (issue #14).

    .venv/bin/python bench/graph_cost.py [--clip CLIP] [--model BUNDLE] [--frames 400] [--rounds 2] [--no-perf]

One VIDEO-mode landmarker (``vision.landmarker.PoseEstimator``, num_poses=1: what every file command
runs, on one segment thread) over ``--frames`` real frames decoded beforehand, so decoding is not
counted. It prints, per frame:

1. ``perf`` (``/usr/bin/perf record -g`` attached to a child process for its steady-state frames only),
   every sample given to the innermost MediaPipe calculator on its stack: the landmark model's
   ``Interpreter::Invoke`` (inside InferenceCalculator), the calculators' own work, MediaPipe's
   scheduler, and the caller's threads (Python, the wrapper). Skipped without perf (``--no-perf``).
2. CPU per frame of MediaPipe's threads (``drishti``) and of all others, from /proc, with the frames
   handed over through MediaPipe's Python wrapper and through its C API directly
   (``vision.landmarker.DIRECT_CALLS``), alternating rounds; poses compared bit for bit.
3. The landmark model alone (LiteRT ``Interpreter``, 1 thread) on its input shape: the invoke's floor.

Figures are CPU time: on this shared 2-core VM they grow with the load (cache, memory bandwidth), so
compare lines of the same run only, and record ``cat /proc/loadavg``.

Measured (Dec 1 06:05 UTC, load 3.2: the lead's test suite; 576x576 x10 clip, 300 frames, model
/tmp/noseg.task = the full model without its segmentation head; ``--model /tmp/noseg.task --frames 300``):

    perf, one graph (DIRECT_CALLS on)   ms/frame    %
    InferenceCalculator: Invoke           17.61   82.0  XNNPACK gemm 11.5, depthwise conv 3.5, ...
    ImageToTensor warp                    ~1.7    7.9  cv::warpPerspective+remap to the 256x256 ROI,
                                                       uint8->float (part of it in the unresolved stacks)
    graph: scheduler, CalculatorNode       0.69    3.2  packets, mutexes, type checks
    caller: Python, numpy, ctypes          0.58    2.7
    caller: in libmediapipe                0.35    1.6  mp.Image's copy of the frame (memcpy 0.22)
    InferenceCalculator outside invoke     0.28    1.3  input tensor re-aligned and copied (LiteRT warns)
    heatmap refinement, 1-euro filters, the 20 other calculators  ~0.25 together
    total                                 21.46
    landmark model alone (LiteRT Interpreter, 1 thread, same run): 15.26 ms an invoke

    one graph, CPU ms a frame        total  drishti  other threads  wall
    round 0 C API direct             18.05   17.29      0.75       18.27
    round 0 Python wrapper           20.52   19.15      1.32       21.29
    round 1 Python wrapper           19.24   17.93      1.32       19.96
    round 1 C API direct             18.22   17.49      0.71       18.81   poses bit-identical: True

So the graph's work beyond the landmark model's invoke is ~3 ms a frame, not ~9: the "9 ms" compared
the whole command's drishti CPU (two graphs on two busy cores) with an invoke timed alone on a quiet
machine; the invoke itself costs more under load (15.3 alone vs 17.6 in the graph in the same run).
Of the ~3 ms, the warp, the node bookkeeping and the input copy are MediaPipe's, inside its graph and
reachable through no option (BaseOptions.delegate=CPU: same kernels, poses and CPU; segmentation masks
are already off and their calculators never run). The part on the caller's side is what
``vision.landmarker.DIRECT_CALLS`` cuts: other threads 1.32 -> 0.71-0.75 ms a frame, poses bit-identical.
Whole commands, DIRECT_CALLS on vs off in the same CLI (``-c "import vision.landmarker as l;
l.DIRECT_CALLS = ..."``), default model (the lead's no-mask float32 twin), 1200-frame clip, alternating:

    bench/thread_cpu.py, landmarks --no-video, 7 pairs (05:59-06:02 on /tmp/noseg.task, 06:17-06:20),
    load 4.0-5.4 (the lead's suite with its browsers, another helper):
      segment threads (caller + wrapper)  wrapper 5.20-5.78 s   direct 4.36-5.20 s   lower in 7/7 pairs
      whole tree CPU                      wrapper 30.5-33.6 s   direct 28.3-34.2 s   lower in 6/7 pairs
      wall                                wrapper/direct 0.79-1.14 per pair, median 0.98: no change
                                          the noise (±15 % at this load) can resolve
    bench/throughput.run, 3 pairs each (06:08-06:17, load 4.3-7.4), wrapper/direct per pair:
      landmarks (annotated video)  wall 0.938 0.936 1.088   CPU 1.066 1.025 1.016
      assess                       wall 0.771 0.875 0.969   CPU 0.905 0.935 1.070
      hold                         wall 0.814 1.081 1.007   CPU 0.949 1.046 1.063

So DIRECT_CALLS saves ~0.8 ms of CPU a frame on the calling threads (means of the 7 pairs: 5.55 -> 4.61 s
per 1200 frames, ~3 % of a command's CPU; whole tree 32.3 -> 30.4 s, drishti's share of that drop
unexplained and maybe noise); whether it moves wall time is below what this machine's load lets A/B
rounds show. (The lead then turned it off by default: on 6000 frames `landmarks` grew to 352 MB tree RSS with
it against 312 MB without, and 3 quiet pairs showed no wall gain; see vision/landmarker.py.) Tried and dropped: SRGBA frames instead of SRGB (poses identical, graph CPU 21.7/21.0
vs 19.9/23.1 ms a frame, and every frame would need converting); BaseOptions.delegate=CPU (above).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PERF = shutil.which("perf") or "/usr/bin/perf"
# the innermost calculator on a stack: api2 ``FooCalculator::Process``, api3 ``FooNodeImpl::Process``
CALCULATOR = re.compile(r"(\w*Calculator\w*|\w+NodeImpl)(?:<[^>]*>)?::(?:Process|Open|Close|RemapAndProcessTensors)\b")


def decode(clip: Path, n: int) -> tuple[list[np.ndarray], list[float]]:
    """``n`` RGB frames of ``clip`` with their timestamps, the clip replayed (timestamps running on)
    when it is shorter."""
    from vision.sources import open_source

    with open_source(clip) as src:
        frames = [(f.rgb, f.timestamp_ms) for f in src]
    step = (frames[-1][1] - frames[0][1]) / max(1, len(frames) - 1) or 33.3
    rgb = [frames[i % len(frames)][0] for i in range(n)]
    return rgb, [i * step for i in range(n)]


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's live threads, MediaPipe's (``drishti``) and the others."""
    tick, out = os.sysconf("SC_CLK_TCK"), collections.Counter()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        out["drishti" if name.startswith("drishti") else "other"] += (int(fields[11]) + int(fields[12])) / tick
    return out


def run_graph(model: Path, frames: list[np.ndarray], ts: list[float], direct: bool, gate: Path | None = None):
    """Poses of one VIDEO landmarker over ``frames`` and the CPU ms per frame by thread group, after 5
    warm-up frames (``gate``: wait for that file to exist before the timed frames, then remove it)."""
    import vision.landmarker as lm

    lm.DIRECT_CALLS = direct
    with lm.PoseEstimator(model, mode="video", num_poses=1) as est:
        poses = [est.process(f, t) for f, t in zip(frames[:5], ts[:5])]
        if gate is not None:
            print(os.getpid(), flush=True)
            while not gate.exists():
                time.sleep(0.02)
            time.sleep(0.2)
        before, c0, w0 = thread_cpu(), time.process_time(), time.perf_counter()
        poses += [est.process(f, t) for f, t in zip(frames[5:], ts[5:])]
        after, c1, w1 = thread_cpu(), time.process_time(), time.perf_counter()
        if gate is not None:
            gate.unlink()
    k = len(frames) - 5
    cost = {g: 1000 * (after[g] - before.get(g, 0.0)) / k for g in after}
    return poses, {"cpu": 1000 * (c1 - c0) / k, "wall": 1000 * (w1 - w0) / k, **cost}


def invoke_alone(model: Path, n: int) -> float:
    """CPU ms of one invoke of the bundle's landmark model alone (LiteRT Interpreter, 1 thread)."""
    from ai_edge_litert.interpreter import Interpreter

    with zipfile.ZipFile(model) as z:
        it = Interpreter(model_content=z.read("pose_landmarks_detector.tflite"), num_threads=1)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    x = np.random.default_rng(0).random(d["shape"], dtype=np.float32)
    it.set_tensor(d["index"], x)
    it.invoke()
    c0 = time.process_time()
    for _ in range(n):
        it.set_tensor(d["index"], x)
        it.invoke()
    return 1000 * (time.process_time() - c0) / n


def fold(data: Path, frames: int, hz: int) -> list[tuple[str, float, list[tuple[str, float]]]]:
    """perf samples -> (group, ms per frame, top leaf functions) sorted by cost."""
    text = subprocess.run([PERF, "script", "-i", str(data), "-F", "comm,ip,sym"], capture_output=True,
                          text=True).stdout
    cost, leaves = collections.Counter(), collections.defaultdict(collections.Counter)
    for block in text.split("\n\n"):
        lines = [line.strip() for line in block.strip().splitlines()]
        if not lines:
            continue
        syms = [(line.split(None, 1) + ["?"])[1] for line in lines[1:]]
        if lines[0].startswith("drishti"):
            key = next((m.group(1) for s in syms if (m := CALCULATOR.search(s))), None)
            if key is not None and "Inference" in key:
                key = "InferenceCalculator: " + ("Interpreter::Invoke" if any("Interpreter::Invoke" in s for s in syms)
                                                 else "outside the invoke")
            elif key is None:
                scheduled = any("SchedulerQueue" in s or "ThreadPool" in s for s in syms)
                key = ("graph: scheduler, node bookkeeping" if scheduled
                       else "graph: unresolved stack (mostly cv::remap, malloc)")
        else:
            key = "caller threads: " + ("in libmediapipe" if any(s.startswith(("Mp", "mediapipe::")) for s in syms)
                                        else "Python, numpy, ctypes")
        cost[key] += 1
        leaves[key][syms[0] if syms else "?"] += 1
    ms = 1000.0 / hz / frames
    return [(k, v * ms, [(s, c * ms) for s, c in leaves[k].most_common(3)]) for k, v in cost.most_common()]


def perf_breakdown(args, hz: int = 1999) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        gate, data = Path(tmp) / "go", Path(tmp) / "perf.data"
        child = subprocess.Popen([sys.executable, __file__, "--child", str(gate), "--clip", str(args.clip),
                                  "--model", str(args.model), "--frames", str(args.frames)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        pid = int(child.stdout.readline())
        rec = subprocess.Popen([PERF, "record", "-F", str(hz), "-g", "-p", str(pid), "-o", str(data)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        gate.touch()
        stats = child.stdout.readline().strip()
        rec.send_signal(2)
        rec.wait()
        child.wait()
        print(f"perf, one graph, {args.frames - 5} frames ({stats}; load {open('/proc/loadavg').read().split()[0]})")
        rows = fold(data, args.frames - 5, hz)
        print(f"  {'ms/frame':>8}  {'%':>5}  group")
        total = sum(ms for _, ms, _ in rows)
        for key, ms, top in rows:
            if ms < 0.005:
                continue
            print(f"  {ms:8.2f}  {100 * ms / total:5.1f}  {key}")
            for sym, sms in top:
                print(f"  {'':8}  {'':5}    {sms:5.2f}  {sym[:90]}")
        print(f"  {total:8.2f}         total")


def main() -> None:
    from sample_videos import locate
    from vision.landmarker import graph_bundle
    from vision.models import resolve_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=Path, default=None)
    ap.add_argument("--model", type=Path, default=None, help="a .task bundle (default: the full model's graph bundle)")
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-perf", action="store_true")
    ap.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.clip = args.clip or Path("/tmp/clips/tfjs_pose_1-x10.mp4")
    if not args.clip.is_file():
        args.clip = locate("tfjs_pose_1.mp4")
    args.model = args.model or resolve_model("full")
    frames, ts = decode(args.clip, args.frames)
    if args.child is not None:
        _, cost = run_graph(args.model, frames, ts, True, gate=args.child)
        print(f"{cost['cpu']:.2f} ms CPU, {cost['wall']:.2f} ms wall a frame", flush=True)
        return
    print(f"{args.clip.name}, {len(frames)} frames {frames[0].shape[1]}x{frames[0].shape[0]}, model {args.model}")
    if not args.no_perf and os.path.exists(PERF):
        perf_breakdown(args)
    print("CPU ms per frame by thread group, one VIDEO graph (alternating rounds):")
    runs = {}
    for r in range(args.rounds):
        for direct in ((True, False) if r % 2 == 0 else (False, True)):
            poses, cost = run_graph(args.model, frames, ts, direct)
            runs.setdefault(direct, poses)
            name = "C API direct (DIRECT_CALLS)" if direct else "Python wrapper            "
            print(f"  round {r} {name}  total {cost['cpu']:6.2f}  drishti {cost.get('drishti', 0):6.2f}  "
                  f"other threads {cost.get('other', 0):5.2f}  wall {cost['wall']:6.2f}  "
                  f"(load {open('/proc/loadavg').read().split()[0]})")
    same = all(np.array_equal(a.image, b.image, equal_nan=True) and np.array_equal(a.world, b.world)
               for a, b in zip(runs[True], runs[False]))
    print(f"  poses bit-identical between the two: {same}")
    alone = invoke_alone(graph_bundle(args.model), min(200, args.frames))
    print(f"landmark model alone (LiteRT Interpreter, 1 thread): {alone:.2f} ms CPU an invoke")


if __name__ == "__main__":
    main()
