"""The serial ends of a whole command: how long until both segments have their first pose, and how
long the process takes to end once the command has returned, for source trees side by side.

    python -m bench.serial_ends [--rounds 5] [--tree DIR ...] -- landmarks CLIP -o OUT [--no-video]

Each round runs the command once per tree, alternating (``--tree`` defaults to this checkout; give a
second checkout, e.g. ``git worktree add --detach /tmp/old e9c2958``, for an A/B), as a fresh process
``python -c`` with the tree first on ``sys.path`` and the CLI's ``main()`` as the whole process. It prints,
per run and as medians:

* ``first_poses_s``: from the process's start (``/proc/self/stat``, boot-time clock) until the parallel path's segments
  have each returned their first pose (``vision.search.TrackedSearch.process``, the default
  ``num_poses=1``): imports, probing, model and detector loads, the seek and first decode. The run is
  then ended (``os._exit``), so this mode costs ~2 s a run;
* with ``--to-end``, instead, the run goes to the end and ``exit_s`` is the time from the command
  handing back to ``isobalance.cli.main`` (its typer app returning) to the process's end as the parent
  sees it (interpreter shutdown, or ``isobalance.cli._end_process``).

Record ``cat /proc/loadavg`` beside any figure (printed per run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import os, sys, threading, time
tree, mode = sys.argv[1], sys.argv[2]
sys.path.insert(0, tree)
with open("/proc/self/stat") as f:
    start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
born = start_ticks / os.sysconf("SC_CLK_TCK")          # the process's start, on the boot-time clock
if mode == "first":
    import vision.search as search
    seen, lock, process = set(), threading.Lock(), search.TrackedSearch.process

    def first(self, *a, **k):
        out = process(self, *a, **k)
        with lock:
            seen.add(threading.get_ident())
            if len(seen) == 2:
                sys.stderr.write(f"FIRST_POSES {time.clock_gettime(time.CLOCK_BOOTTIME) - born:.3f}\n")
                sys.stderr.flush()
                os._exit(0)
        return out

    search.TrackedSearch.process = first
import isobalance.cli as cli
real = cli.app


class Timed:
    # the command's typer app, noting when the command hands back (main then ends the process)
    def __getattr__(self, name):
        return getattr(real, name)

    def __call__(self, *a, **k):
        try:
            return real(*a, **k)
        finally:
            sys.stderr.write(f"RETURNED {time.time():.6f}\n")
            sys.stderr.flush()


cli.app = Timed()
sys.argv = ["isobalance", *sys.argv[3:]]
cli.main()
"""


def run_once(tree: str, mode: str, command: list[str]) -> dict:
    load = open("/proc/loadavg").read().split()[0]
    done = subprocess.run([sys.executable, "-c", CHILD, tree, mode, *command], capture_output=True, text=True)
    ended = time.time()
    out = {"tree": tree, "load": float(load), "rc": done.returncode}
    for line in done.stderr.splitlines():
        if line.startswith("FIRST_POSES "):
            out["first_poses_s"] = float(line.split()[1])
        elif line.startswith("RETURNED ") and mode == "end":
            out["exit_s"] = round(ended - float(line.split()[1]), 3)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tree", action="append", help="source tree (repeat for an A/B; default: this checkout)")
    ap.add_argument("--to-end", action="store_true", help="run to the end and time the process's exit")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    trees = args.tree or [str(ROOT)]
    mode = "end" if args.to_end else "first"
    key = "exit_s" if args.to_end else "first_poses_s"
    results: dict[str, list[float]] = {t: [] for t in trees}
    for r in range(args.rounds):
        for tree in trees:
            got = run_once(tree, mode, command)
            print(f"round {r + 1} {tree}: {key} {got.get(key)} rc {got['rc']} load {got['load']}", flush=True)
            if key in got:
                results[tree].append(got[key])
    for tree, values in results.items():
        if values:
            print(f"{tree}: median {key} {statistics.median(values):.3f} s (min {min(values):.3f}, n {len(values)})")
    print(f"loadavg at the end: {open('/proc/loadavg').read().strip()}")


if __name__ == "__main__":
    main()
