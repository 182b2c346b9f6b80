"""What follows the segments, A/B: a command's wall and CPU from the end of its segment phase to its exit.

On a shared 2-core machine a whole ``landmarks`` run (30-90 s) spreads over too much noise to resolve a
change of a few hundred milliseconds after the segments. This bench runs the real CLI in a fresh process
per run with the segment phase *replayed*: the segments' outputs (``vision.parallel.RawSegment``s, handed
over in order as ``run_threads`` hands them, ``on_result`` included) are recorded once from a real run
and loaded from a pickle, so everything after them runs for real (the replay's subject selection and
smoothing, the annotated video, the outputs, the interpreter's exit). Two source trees alternate in
the same rounds (``--against`` a ``git archive`` of another revision; the same segment outputs for both).
Prints per run and as medians: the tail's wall (from the segments' end to the process's exit, both on
the wall clock), its CPU seconds (the process's, minus what it had used by the segments' end) and the
exit's share (after the command's exit handlers ran: interpreter finalization, where a tree still has it).

    .venv/bin/python bench/tail_ab.py record /tmp/clips/tfjs_pose_1-x10.mp4 /tmp/segments.pkl
    mkdir -p /tmp/old && git archive REV | tar -x -C /tmp/old
    .venv/bin/python bench/tail_ab.py compare /tmp/segments.pkl --against /tmp/old --rounds 3 -- \\
        landmarks /tmp/clips/tfjs_pose_1-x10.mp4
    .venv/bin/python bench/tail_ab.py compare /tmp/segments.pkl --against /tmp/old --rounds 3 -- \\
        hold /tmp/clips/tfjs_pose_1-x10.mp4 --no-progress --no-red-flags --pain-before 0 \\
        --exercise lower-trapezius-low-row-hold

The recording is only valid for the same clip and settings (and a tree whose ``RawSegment`` matches).
Record the load: it decides how much the figures mean.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _child(tree: str, mode: str, pkl: str, cli_args: list[str]) -> None:
    """One run of the CLI in this process, the segment phase recorded to / replayed from ``pkl``."""
    sys.path.insert(0, tree)
    import vision.parallel as parallel

    real = parallel.run_threads

    def segments(work, name, on_progress=None, *args, **kwargs):
        if name != "segment":
            return real(work, name, on_progress, *args, **kwargs)
        on_result = kwargs.pop("on_result", None)
        if mode == "record":
            parts = real(work, name, on_progress, *args, **kwargs)
            with open(pkl, "wb") as f:
                pickle.dump(parts, f)
        else:
            with open(pkl, "rb") as f:
                parts = pickle.load(f)
        print(f"SEGMENTS_END {time.time():.4f} {time.process_time():.3f}", file=sys.stderr, flush=True)
        if on_result is not None:
            for k, part in enumerate(parts):
                on_result(k, part)
        return parts

    parallel.run_threads = segments
    import atexit

    from isobalance.cli import main

    # as the console script runs it (argv from sys.argv: the command is the whole process, so a tree that
    # ends it without interpreter finalization does so here too); the exit handlers run on either path
    atexit.register(lambda: print(f"MAIN_END {time.time():.4f}", file=sys.stderr, flush=True))
    sys.argv = ["isobalance", *cli_args]
    main()


def _run(tree: str, mode: str, pkl: str, cli_args: list[str]) -> tuple[float, float, float, int]:
    """(tail wall s, tail CPU s, exit wall s, exit code) of one child process."""
    proc = subprocess.Popen([sys.executable, __file__, "_child", tree, mode, pkl, *cli_args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    end = time.time()
    seg = re.search(r"SEGMENTS_END ([\d.]+) ([\d.]+)", err)
    done = re.search(r"MAIN_END ([\d.]+)", err)
    if seg is None:
        raise SystemExit(f"{tree}: the run never reached the end of its segments:\n{err[-2000:]}")
    cpu = usage.ru_utime + usage.ru_stime - float(seg.group(2))
    return end - float(seg.group(1)), cpu, end - float(done.group(1)) if done else float("nan"), \
        os.waitstatus_to_exitcode(status)


def load() -> str:
    return open("/proc/loadavg").read().split()[0]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    rec = sub.add_parser("record", help="run 'landmarks CLIP --no-video' once and keep its segments' outputs")
    rec.add_argument("clip")
    rec.add_argument("pkl")
    cmp_ = sub.add_parser("compare", help="this tree against --against, alternating, segments replayed; "
                                          "then -- COMMAND ARGS (without -o)")
    cmp_.add_argument("pkl")
    cmp_.add_argument("--against", required=True, help="another source tree (e.g. a git archive of a revision)")
    cmp_.add_argument("--rounds", type=int, default=3)
    argv = sys.argv[1:]
    cli = argv[argv.index("--") + 1:] if "--" in argv else []     # -- COMMAND ARGS (without -o)
    args = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if args.what == "compare" and not cli:
        ap.error("compare needs -- COMMAND ARGS")
    with tempfile.TemporaryDirectory() as tmp:
        if args.what == "record":
            tail, cpu, _, code = _run(str(ROOT), "record", args.pkl,
                                      ["landmarks", args.clip, "--no-video", "-o", str(Path(tmp) / "rec")])
            print(f"recorded {args.pkl} (rc {code}; its tail {tail:.2f} s, load {load()})")
            return
        trees = {"this": str(ROOT), "against": str(Path(args.against).resolve())}
        runs: dict[str, list[tuple[float, float, float]]] = {k: [] for k in trees}
        for r in range(args.rounds):
            for side in (["against", "this"] if r % 2 == 0 else ["this", "against"]):
                out = Path(tmp) / f"{side}{r}"
                tail, cpu, exit_s, code = _run(trees[side], "replay", args.pkl, [*cli, "-o", str(out)])
                runs[side].append((tail, cpu, exit_s))
                print(f"round {r + 1} {side}: tail {tail:.2f} s wall, {cpu:.2f} CPU s, exit {exit_s:.2f} s, "
                      f"rc {code}, load {load()}", flush=True)
        for side, rows in runs.items():
            print(f"{side} ({trees[side]}): median tail {statistics.median(x[0] for x in rows):.2f} s wall, "
                  f"{statistics.median(x[1] for x in rows):.2f} CPU s, exit {statistics.median(x[2] for x in rows):.2f} s")
        print(f"load {open('/proc/loadavg').read().strip()}")


if __name__ == "__main__":
    main()
