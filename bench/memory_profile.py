"""Where an isobalance command's memory goes: RSS at checkpoints through one real run, in one process.

Runs ``isobalance <command> ...`` in this process (the CLI's own ``main``), with the functions that mark
a stage wrapped to print the process's memory (``/proc/self/status``: RSS, anonymous, file-backed;
``smaps_rollup``: PSS) and its thread count when they start and end, plus the peak RSS sampled every
20 ms by a thread. Used to write the README's memory table; not a test (the figures depend on the
machine and its load).

    python bench/memory_profile.py landmarks /tmp/clips/tfjs_pose_1-x10.mp4 -o /tmp/out --no-video
    MEMORY_PROFILE_EVERY=5 python bench/memory_profile.py ...   # and a line every 5 s
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import threading
import time

_T0 = time.monotonic()
_PEAK = [0]


def memory() -> dict[str, int]:
    """kB figures of this process from /proc/self/status and smaps_rollup (Linux)."""
    out: dict[str, int] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == "Pss":
                out["Pss"] = int(value.split()[0])
    return out


def checkpoint(label: str) -> None:
    m = memory()
    print(f"[mem] {time.monotonic() - _T0:7.2f}s  rss {m['VmRSS'] / 1024:6.1f}  anon {m['RssAnon'] / 1024:6.1f}  "
          f"file {m['RssFile'] / 1024:6.1f}  pss {m.get('Pss', 0) / 1024:6.1f}  peak {m['VmHWM'] / 1024:6.1f} MB  "
          f"threads {m['Threads']:3d}  {label}", file=sys.stderr, flush=True)


def _sampler(every_s: float) -> None:
    last = time.monotonic()
    while True:
        m = memory()
        _PEAK[0] = max(_PEAK[0], m["VmRSS"])
        if every_s and time.monotonic() - last >= every_s:
            checkpoint("(sampled)")
            last = time.monotonic()
        time.sleep(0.02)


def wrap(module: str, qualname: str) -> None:
    """Print a checkpoint when ``module.qualname`` is entered and left."""
    mod = importlib.import_module(module)
    owner, _, name = qualname.rpartition(".")
    target = getattr(mod, owner) if owner else mod
    fn = getattr(target, name)

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        checkpoint(f"> {module}.{qualname}")
        try:
            return fn(*args, **kwargs)
        finally:
            checkpoint(f"< {module}.{qualname}")

    setattr(target, name, wrapped)


STAGES = [
    ("vision.landmarker", "PoseEstimator.__init__"),
    ("vision.person_detector", "PersonDetector.__init__"),
    ("vision.landmarker", "PoseEstimator.close"),
    ("vision.parallel", "run_parallel"),
    ("vision.parallel", "run_segment"),
    ("vision.parallel", "stitch"),
    ("vision.parallel", "_select_and_smooth"),
    ("vision.landmarks_job", "write_track_outputs"),
    ("vision.render", "render_video"),
]


def main(argv: list[str]) -> None:
    checkpoint("python + this script")
    import isobalance.cli as cli

    checkpoint("isobalance.cli imported")
    cli._mount_subcommands()
    checkpoint("every command mounted")
    for module, qualname in STAGES:
        try:
            wrap(module, qualname)
        except (ImportError, AttributeError) as exc:
            print(f"[mem] cannot wrap {module}.{qualname}: {exc}", file=sys.stderr)
    checkpoint("stage modules imported (vision.parallel, render, ...)")
    heavy = sorted(m for m in ("pandas", "pyarrow", "scipy", "matplotlib", "PIL", "sqlalchemy", "streamlit",
                               "jsonschema", "jinja2", "av", "cv2", "mediapipe") if m in sys.modules)
    print(f"[mem] heavy modules loaded before the command: {heavy}", file=sys.stderr)
    # MEMORY_PROFILE_EVERY=S also prints a line every S seconds
    threading.Thread(target=_sampler, args=(float(os.environ.get("MEMORY_PROFILE_EVERY", 0)),), daemon=True).start()
    try:
        cli.main(argv)
    except SystemExit:
        pass
    finally:
        heavy = sorted(m for m in ("pandas", "pyarrow", "scipy", "matplotlib", "PIL", "sqlalchemy", "streamlit",
                                   "jsonschema", "jinja2", "av", "cv2", "mediapipe") if m in sys.modules)
        print(f"[mem] heavy modules loaded at the end: {heavy}", file=sys.stderr)
        checkpoint(f"end (sampled peak RSS {_PEAK[0] / 1024:.1f} MB)")
        print(f"[mem] loadavg {open('/proc/loadavg').read().strip()}", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main(sys.argv[1:])
