"""Where a whole command's CPU goes: per-thread-name CPU seconds of a process tree, from /proc.

    python -m bench.thread_cpu [--interval 0.25] [--json FILE] -- isobalance landmarks CLIP -o OUT --no-video

Runs the command (its output discarded), samples every thread of it and its children every
``--interval`` seconds (``/proc/PID/task/TID/stat``: utime + stime) and prints, once it has ended:

* wall time, the exact CPU of the whole tree (``wait4``'s rusage: includes threads that ended between
  two samples) next to the sampled sum, peak tree RSS (sum of the processes' resident sets);
* CPU by thread name, numbered names folded (``isb-segment-0`` and ``-1`` -> ``isb-segment-N``).
  Linux threads inherit their creator's name, so a segment thread's decoder and prefetch threads count
  as ``isb-segment-N`` unless they rename themselves; MediaPipe's inference threads are ``drishti...``;
* the serial parts of the main process: wall and main-thread CPU before the first ``isb-segment``
  thread appeared (head: imports, probing, model loads) and after the last sample in which they still
  used half a core or more (tail: stitching, selection, smoothing, writing), when the command ran
  segments at all. Both are resolved to one ``--interval``.

Linux only. A thread's CPU is its last sample, so a thread that lives less than one interval may be
missed by the per-name table (not by the rusage total). Record ``cat /proc/loadavg`` beside any figure.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SEGMENT = "isb-segment"


def _stat_fields(text: str) -> tuple[str, list[str]]:
    """(comm, fields after comm) of a /proc stat line (comm may hold spaces and parentheses)."""
    return text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()


def tree(root: int) -> set[int]:
    """``root`` and every process descended from it."""
    parent: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parent[int(d)] = int(_stat_fields(f.read())[1][1])
            except (OSError, ValueError, IndexError):
                pass
    out, grew = {root}, True
    while grew:
        grew = False
        for pid, ppid in parent.items():
            if ppid in out and pid not in out:
                out.add(pid)
                grew = True
    return out


def sample(pids: set[int]) -> tuple[dict[tuple[int, int], tuple[str, float]], int]:
    """{(pid, tid): (thread name, CPU s)} and the summed RSS bytes of ``pids``."""
    threads: dict[tuple[int, int], tuple[str, float]] = {}
    rss = 0
    for pid in pids:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    name, fields = _stat_fields(f.read())
                threads[(pid, int(tid))] = (name, (int(fields[11]) + int(fields[12])) / TICK)
            with open(f"/proc/{pid}/statm") as f:
                rss += int(f.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            pass            # the process or thread ended while being read
    return threads, rss


def fold(name: str) -> str:
    return re.sub(r"\d+$", "N", name)


def measure(argv: list[str], interval: float = 0.25) -> dict:
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last: dict[tuple[int, int], tuple[str, float]] = {}
    peak = 0
    seg_first = seg_last = None            # wall times an isb-segment thread was first seen / last busy
    main_at_first = main_at_last = None     # the main thread's CPU then
    prev = 0.0
    while True:
        threads, rss = sample(tree(proc.pid))
        now = time.monotonic() - t0
        peak = max(peak, rss)
        main = threads.get((proc.pid, proc.pid))
        segment = {k: cpu for k, (n, cpu) in threads.items() if k[0] == proc.pid and n.startswith(SEGMENT)}
        if segment and seg_first is None:
            seg_first, main_at_first = now, main[1] if main else None
        # still working: the segment threads together used at least half a core since the last sample
        # (helper threads inherit the name and may tick after the segments: MediaPipe's dispatcher
        # closing its graph at exit)
        grew = sum(cpu - last.get(k, ("", 0.0))[1] for k, cpu in segment.items())
        if segment and grew >= 0.5 * (now - prev):
            seg_last, main_at_last = now, main[1] if main else None
        last.update(threads)
        prev = now
        done = os.wait4(proc.pid, os.WNOHANG)
        if done[0]:
            rusage, returncode = done[2], os.waitstatus_to_exitcode(done[1])
            break
        time.sleep(interval)
    wall = time.monotonic() - t0
    by_name: collections.Counter = collections.Counter()
    for (pid, tid), (name, cpu) in last.items():
        by_name["main" if (pid, tid) == (proc.pid, proc.pid) else fold(name)] += cpu
    main_cpu = last.get((proc.pid, proc.pid), ("", 0.0))[1]
    out = {"argv": argv, "returncode": returncode, "wall_s": round(wall, 2),
           "cpu_s": round(rusage.ru_utime + rusage.ru_stime, 2),
           "sampled_cpu_s": round(sum(by_name.values()), 2), "peak_tree_rss_mb": round(peak / 2 ** 20, 1),
           "by_thread": {k: round(v, 2) for k, v in by_name.most_common()},
           "loadavg": open("/proc/loadavg").read().split()[:3]}
    if seg_first is not None:
        if seg_last is None:               # segment threads seen, never busy: the tail starts where they did
            seg_last, main_at_last = seg_first, main_at_first
        out["head"] = {"wall_s": round(seg_first, 2),
                       "main_cpu_s": None if main_at_first is None else round(main_at_first, 2)}
        out["tail"] = {"wall_s": round(wall - seg_last, 2),
                       "main_cpu_s": None if main_at_last is None else round(main_cpu - main_at_last, 2)}
    return out


def report(r: dict) -> str:
    lines = [f"wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s (sampled {r['sampled_cpu_s']:.1f}), "
             f"peak tree RSS {r['peak_tree_rss_mb']:.0f} MB, rc {r['returncode']}, loadavg {' '.join(r['loadavg'])}"]
    total = max(r["sampled_cpu_s"], 1e-9)
    for name, cpu in r["by_thread"].items():
        if cpu >= 0.05:
            lines.append(f"  {cpu:6.2f} s {cpu / total * 100:5.1f}%  {name}")
    for part in ("head", "tail"):
        if part in r:
            lines.append(f"  {part}: {r[part]['wall_s']:.2f} s wall, main thread {r[part]['main_cpu_s']} CPU s"
                         f" ({'before the first' if part == 'head' else 'after the last busy'} {SEGMENT} thread)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--interval", type=float, default=0.25, help="seconds between /proc samples")
    ap.add_argument("--json", help="also append the result as one JSON line to this file")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="the command to run (after --)")
    args = ap.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("no command given")
    r = measure(command, args.interval)
    print(report(r))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(r) + "\n")
    return 0 if r["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
