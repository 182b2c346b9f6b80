"""What a user experiences: whole `isobalance` processes against the plain script they would write.

Every contender is a whole process started from the shell, timed from start to exit (interpreter
start-up, imports, model loading, decoding, everything) on the same H.264 clip: tfjs_pose_1.mp4
looped (10x = 1200 frames, 576x576, 30 fps, 40 s). The baseline is bench/plain_mediapipe.py (OpenCV
decode + Tasks PoseLandmarker.detect_for_video, sequential, MediaPipe's default num_poses=1, landmarks
to a CSV). Each side runs with its own defaults; a matched run gives the plain script isobalance's
num_poses. Rounds alternate between contenders (order rotated each round) so the noise of a shared
machine hits all alike; ratios are plain-script time / contender time per round, median over rounds.

Memory: the peak over time of the summed RSS of the whole process tree (the process and every
worker it starts), sampled every 50 ms from /proc; measured in the timed rounds and again on a clip
``--long`` times longer (flat in clip length = streaming). Beside it, the peak of the tree's private
(anonymous) resident memory, RSS minus its file-backed and shared pages (``/proc/PID/statm``
resident - shared): the libraries' code pages in RSS depend on what the page cache holds (the same
command measured 373 MB from a long-installed venv and 455 MB from one pip had just written, with
identical anonymous memory), so the private figure is the one that does not move with the machine.

    .venv/bin/python bench/throughput.py [--loops 10] [--rounds 3] [--long 5] [--long-only plain landmarks]
                                         [--keep DIR] [--skip TEXT ...] [--against REV] [--unpinned]
                                         [--num-poses N]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from isobalance.config import Config  # noqa: E402
from sample_videos import locate  # noqa: E402
from vision.models import resolve_model  # noqa: E402
from vision.sources import open_source  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
HOLD_EXERCISE = "lower-trapezius-low-row-hold"


def looped_clip(src: Path, loops: int, dst: Path, cache: Path | None = None) -> tuple[Path, int]:
    """``src`` repeated ``loops`` times, re-encoded like an upload (H.264 crf 20, yuv420p); taken from
    ``cache`` when an earlier run left it there (``--keep``)."""
    import av

    if cache is not None:
        kept = cache / f"{src.stem}-x{loops}.mp4"
        if kept.is_file():
            with open_source(kept) as s:
                return kept, int(s.info.n_frames)
        dst = kept.with_name(kept.name + ".partial.mp4")   # renamed when complete: a killed run leaves no clip

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
        for _ in range(loops):
            for rgb in frames:
                f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                f.pts, f.time_base = int(round(n * step)), Fraction(1, 1000)
                for p in st.encode(f):
                    c.mux(p)
                n += 1
        for p in st.encode():
            c.mux(p)
    if cache is not None:
        dst = dst.replace(cache / f"{src.stem}-x{loops}.mp4")
    return dst, n


def tree_rss(root: int) -> tuple[int, int]:
    """Summed (RSS, private RSS) in bytes of ``root`` and all its descendants, from /proc; private =
    resident minus file-backed and shared pages (``statm`` fields 2 and 3)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total = private = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as f:
                fields = f.read().split()
            total += int(fields[1]) * PAGE
            private += (int(fields[1]) - int(fields[2])) * PAGE
        except (OSError, IndexError, ValueError):
            pass
        todo.extend(children.get(pid, []))
    return total, private


def run(cmd: list[str]) -> tuple[float, float, float, float]:
    """(wall seconds, peak process-tree RSS in MB, CPU seconds, peak private RSS in MB) of one whole process.

    CPU seconds (user + system of the process and every thread and waited-for child) measure the work
    done; on a machine loaded by others wall time also measures the wait for a core, so both are kept."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    peak = peak_private = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_private
        while not stop.is_set():
            rss, private = tree_rss(proc.pid)
            peak, peak_private = max(peak, rss), max(peak_private, private)
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode()[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, peak / 2**20, cpu, peak_private / 2**20


def against_tree(rev: str, dst: Path) -> Path:
    """The source tree of git revision ``rev`` (``git archive``: no checkout, no worktree), to run its
    CLI beside this one in the same rounds."""
    dst.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dst)], input=archive, check=True)
    return dst


def contenders(clip: Path, model: Path, out: Path, cli_poses: int,
               against: tuple[str, Path] | None = None, unpinned: bool = False,
               config: Path | None = None) -> dict[str, list[str]]:
    """The commands to time. ``config``: a TOML file given to every isobalance command (``--config``),
    e.g. to run them all with ``num_poses`` other than the default (``--num-poses``)."""
    py, iso = sys.executable, [sys.executable, "-m", "isobalance.cli"]
    plain = [py, str(ROOT / "bench" / "plain_mediapipe.py"), str(clip), str(model)]
    m = ["--model", str(model)] + (["--config", str(config)] if config is not None else [])
    c = {
        "plain script (num_poses=1, its default)": plain + [str(out / "plain.csv")],
        "isobalance landmarks (default: annotated video)": iso + ["landmarks", str(clip), "-o", str(out / "lm")] + m,
        "isobalance landmarks --no-video": iso + ["landmarks", str(clip), "-o", str(out / "lmnv"), "--no-video"] + m,
        "isobalance assess": iso + ["assess", str(clip), "-o", str(out / "as"), "--no-progress"] + m,
        # the safety screen answered as the demo does (every red-flag answer no, no pain): no terminal here
        "isobalance hold (annotated video)": iso + ["hold", str(clip), "--exercise", HOLD_EXERCISE, "-o",
                                                    str(out / "ho"), "--no-progress", "--no-red-flags",
                                                    "--pain-before", "0"] + m,
    }
    if against is not None:   # an earlier revision's CLI (its tree first on sys.path)
        rev, tree = against
        old = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(tree)!r}); "
               "from isobalance.cli import main; main()"]
        c[f"{rev}: isobalance landmarks (default)"] = old + ["landmarks", str(clip), "-o", str(out / "old_lm")] + m
        c[f"{rev}: isobalance landmarks --no-video"] = old + ["landmarks", str(clip), "-o", str(out / "old_lmnv"),
                                                             "--no-video"] + m
        c[f"{rev}: isobalance assess"] = old + ["assess", str(clip), "-o", str(out / "old_as"), "--no-progress"] + m
        c[f"{rev}: isobalance hold"] = old + ["hold", str(clip), "--exercise", HOLD_EXERCISE, "-o", str(out / "old_ho"),
                                              "--no-progress", "--no-red-flags", "--pain-before", "0"] + m
    if cli_poses != 1:
        c[f"plain script --num-poses {cli_poses} (matched to isobalance)"] = \
            plain + [str(out / "plain2.csv"), "--num-poses", str(cli_poses)]
        c["isobalance landmarks --num-poses 1 (tracked search)"] = \
            iso + ["landmarks", str(clip), "-o", str(out / "lm1"), "--num-poses", "1"] + m
        c["isobalance landmarks --no-video --num-poses 1"] = \
            iso + ["landmarks", str(clip), "-o", str(out / "lm1nv"), "--no-video", "--num-poses", "1"] + m
        if against is not None:
            c[f"{against[0]}: isobalance landmarks --num-poses 1"] = \
                old + ["landmarks", str(clip), "-o", str(out / "old_lm1"), "--num-poses", "1"] + m
    if unpinned:   # the same CLI with vision.parallel's segments left to float between cores (A/B of pinning)
        free = [sys.executable, "-c", "import vision.parallel as p; p.PIN_SEGMENTS = False; "
                "from isobalance.cli import main; main()"]
        c["isobalance landmarks --no-video --num-poses 1, segments not pinned"] = \
            free + ["landmarks", str(clip), "-o", str(out / "unpinned"), "--no-video", "--num-poses", "1"] + m
    return c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", default="tfjs_pose_1.mp4")
    ap.add_argument("--loops", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--long", type=int, default=5, help="memory also on a clip this many times longer (0: skip)")
    ap.add_argument("--skip", nargs="*", default=[], help="leave out contenders whose name contains this text")
    ap.add_argument("--keep", default="", help="folder to keep the looped clips in and reuse them from")
    ap.add_argument("--against", default="", help="also run this git revision's landmarks/assess in the same rounds")
    ap.add_argument("--num-poses", type=int, default=0,
                    help="run every isobalance command with this vision.num_poses (a --config file), "
                         "not the default; the matched plain run follows it")
    ap.add_argument("--unpinned", action="store_true",
                    help="also run `landmarks --no-video --num-poses 1` with the segments not pinned to cores")
    ap.add_argument("--long-only", nargs="*", default=[],
                    help="on the long clip, run only contenders whose name contains one of these texts")
    args = ap.parse_args()
    model = resolve_model("full")
    cli_poses = args.num_poses or Config().vision.num_poses
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = None
        if args.num_poses:
            config = tmp / "bench.toml"
            config.write_text(f"[vision]\nnum_poses = {args.num_poses}\n")
            print(f"every isobalance command runs with vision.num_poses = {args.num_poses} (--config)",
                  file=sys.stderr)
        keep = Path(args.keep) if args.keep else None
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
        clip, n = looped_clip(locate(args.clip), args.loops, tmp / "clip.mp4", keep)
        against = (args.against, against_tree(args.against, tmp / "against")) if args.against else None
        cmds = contenders(clip, model, tmp, cli_poses, against, args.unpinned, config)
        cmds = {k: v for k, v in cmds.items() if not any(s in k for s in args.skip)}
        names = list(cmds)
        times: dict[str, list[float]] = {k: [] for k in names}
        mem: dict[str, list[float]] = {k: [] for k in names}
        private: dict[str, list[float]] = {k: [] for k in names}
        cpu: dict[str, list[float]] = {k: [] for k in names}
        loads: list[float] = []                     # 1-min load average (/proc/loadavg) after each run
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                wall, rss, work, anon = run(cmds[name])
                times[name].append(wall)
                mem[name].append(rss)
                private[name].append(anon)
                cpu[name].append(work)
                loads.append(os.getloadavg()[0])
                print(f"  round {r + 1} {name}: {wall:.1f} s, {work:.1f} CPU s, {rss:.0f} MB ({anon:.0f} private), load {loads[-1]:.2f}",
                      file=sys.stderr, flush=True)
        base = names[0]
        print(f"clip: {args.clip} looped {args.loops}x = {n} frames (H.264); {args.rounds} alternating rounds; "
              f"{os.cpu_count()} cores; 1-min load average (/proc/loadavg) at start {load[0]:.2f}, after each run "
              f"{min(loads):.2f}-{max(loads):.2f}")
        print("| process | wall s (median) | frames/s | ratio to the plain script | CPU s | CPU ratio "
              "(plain / this) | peak tree RSS MB | RSS ratio | private MB | private ratio |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name in names:
            ratio = statistics.median(b / t for b, t in zip(times[base], times[name]))
            cpu_ratio = statistics.median(b / t for b, t in zip(cpu[base], cpu[name]))
            rss_ratio = statistics.median(mem[name]) / statistics.median(mem[base])
            private_ratio = statistics.median(private[name]) / statistics.median(private[base])
            print(f"| {name} | {statistics.median(times[name]):.1f} | {n / statistics.median(times[name]):.1f} | "
                  f"**{ratio:.2f}x** | {statistics.median(cpu[name]):.1f} | {cpu_ratio:.2f} | "
                  f"{statistics.median(mem[name]):.0f} | {rss_ratio:.2f} | "
                  f"{statistics.median(private[name]):.0f} | {private_ratio:.2f} |")
        if args.long:
            long_clip, n_long = looped_clip(locate(args.clip), args.loops * args.long, tmp / "long.mp4", keep)
            (tmp / "long").mkdir()
            long_cmds = contenders(long_clip, model, tmp / "long", cli_poses, against, args.unpinned, config)
            print(f"\npeak process-tree RSS, {n} vs {n_long} frames:")
            for name in names:
                if args.long_only and not any(k in name for k in args.long_only):
                    continue
                _, rss, _, anon = run(long_cmds[name])
                print(f"  {name}: {statistics.median(mem[name]):.0f} MB -> {rss:.0f} MB "
                      f"({rss - statistics.median(mem[name]):+.0f} MB); private "
                      f"{statistics.median(private[name]):.0f} MB -> {anon:.0f} MB")


if __name__ == "__main__":
    main()
