"""Signals and worker lifetime, read from the process table (issue 11 item 6, issue 15's "any command
that starts a worker pool"): SIGINT stops ``batch`` within 5 s with exit 130 and a summary of what
finished; a SIGKILLed driver leaves no worker running; ``landmarks`` on the parallel path runs its
segments on threads of its own process (named ``isb-segment-k`` in /proc), starts no worker process,
and stops within 5 s of SIGINT with exit 130.

Real commands in their own processes, real model, real clips: the archive is a 4-frame clip cut by
ffmpeg (finishes first) and the four 100-frame 1080x1920 clips of the 4-camera rig (still running
when the signal arrives).
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.isobalance.procs import as_foreground, descendants, ignores_sigint, processes, threads_named, wait_until
from tests.vision.long_clips import pingpong_clip

ISOBALANCE = str(Path(sys.executable).with_name("isobalance"))
RIG = Path(__file__).resolve().parents[3] / "shared" / "videos" / "pose2sim_balance"
STOP_S = 5.0            # the promise: stopped within 5 s of the signal
START_TIMEOUT_S = 300   # liveness only: worker start-up and the first video on a loaded 2-core machine


@pytest.fixture(scope="module")
def archive(tmp_path_factory, sample_clip) -> Path:
    root = tmp_path_factory.mktemp("signal-archive")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(sample_clip("tfjs_pose_squats.mp4")),
                    "-frames:v", "4", "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(root / "a_four.mp4")],
                   check=True)
    for cam in ("cam01", "cam02", "cam03", "cam04"):
        shutil.copyfile(RIG / f"{cam}.mp4", root / f"{cam}.mp4")
    return root


def start(args: list, tmp_path: Path, model_path) -> subprocess.Popen:
    env = dict(os.environ, ISOBALANCE_MODEL=str(model_path), ISOBALANCE_DATA=str(tmp_path / "data"))
    return subprocess.Popen(as_foreground([ISOBALANCE, *map(str, args)]), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def workers_of(pid: int) -> set[int]:
    table = processes()
    return {p for p in descendants(pid, table) if "spawn_main" in table[p][2]}


def left_over(pids: set[int]) -> dict[int, str]:
    """Which of ``pids`` still exist, with their state (a zombie is 'Z')."""
    table = processes()
    return {p: table[p][1] for p in pids if p in table}


def interrupt(proc: subprocess.Popen) -> tuple[set[int], float, str, bool]:
    """SIGINT to the command: (its process family just before, seconds until it exited, its stderr,
    whether the whole family has left the process table a second later). Kills the family on failure."""
    family = descendants(proc.pid)
    try:
        assert not ignores_sigint(proc.pid), "the command ignores SIGINT (started with SIGINT ignored)"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        took = time.monotonic() - sent
    except BaseException:
        kill_all(proc, family)
        raise
    return family, took, stderr, wait_until(lambda: not left_over(family), 1.0)


def kill_all(proc: subprocess.Popen, pids: set[int]) -> None:
    for p in left_over(pids):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def test_sigint_stops_batch_within_5_s_keeps_finished_and_leaves_nothing(archive, tmp_path, model_path):
    out = tmp_path / "out"
    proc = start(["batch", archive, "-o", out, "--workers", "2", "--no-progress"], tmp_path, model_path)
    family: set[int] = set()
    try:
        assert wait_until(lambda: any(out.glob("*/batch.json")) or proc.poll() is not None, START_TIMEOUT_S, 0.2)
        assert proc.poll() is None, proc.communicate()
        assert len(workers_of(proc.pid)) == 2, "both workers should still be busy with the rig clips"
        family, took, stderr, gone = interrupt(proc)
    finally:
        kill_all(proc, family)
    assert took <= STOP_S, f"batch took {took:.1f} s to stop"
    assert proc.returncode == 130, stderr
    assert stderr.strip().startswith("interrupted: ") and len(stderr.strip().splitlines()) == 1, stderr
    assert gone, f"left in the process table: {left_over(family)}"
    finished = {p.parent.name for p in out.glob("*/batch.json")}
    with open(out / "summary.csv", newline="") as fh:
        rows = {r["video"]: r for r in csv.DictReader(fh)}
    assert set(rows) == finished and "a_four" in rows       # the summary lists exactly what finished
    assert rows["a_four"]["status"] == "ok" and rows["a_four"]["frames"] == "4"
    assert len(rows) < 5 and f"{len(rows)} of 5 videos finished" in stderr


def test_sigkill_of_the_batch_driver_leaves_no_worker_running(archive, tmp_path, model_path):
    out = tmp_path / "out"
    proc = start(["batch", archive, "-o", out, "--workers", "2", "--no-progress"], tmp_path, model_path)
    workers: set[int] = set()
    try:
        assert wait_until(lambda: any(out.glob("*/batch.json")) or proc.poll() is not None, START_TIMEOUT_S, 0.2)
        workers = workers_of(proc.pid)
        assert len(workers) == 2 and proc.poll() is None
        proc.kill()                                             # SIGKILL: the driver runs no cleanup at all
        proc.wait()
        # a worker whose driver is gone exits by itself (vision.workers watchdog); an exited orphan may
        # stay a zombie until init reaps it, but it runs nothing and holds no memory
        stopped = wait_until(lambda: all(s == "Z" for s in left_over(workers).values()), STOP_S)
    finally:
        kill_all(proc, workers)
    assert stopped, f"workers still running 5 s after the driver was killed: {left_over(workers)}"


@pytest.fixture(scope="module")
def parallel_clip(tmp_path_factory, sample_clip) -> Path:
    """320 frames (vision.parallel.MIN_PARALLEL_FRAMES is 300): ``landmarks --no-video`` runs segments
    on two threads."""
    return pingpong_clip(sample_clip("tfjs_pose_1.mp4"), tmp_path_factory.mktemp("long") / "long.mp4", 320)


def _watch(proc: subprocess.Popen, until) -> tuple[dict[int, str], set[str]]:
    """(every descendant process with its command line, every segment thread name) seen while ``proc``
    runs, until ``until(segment names)``."""
    family: dict[int, str] = {}
    segments: set[str] = set()
    while proc.poll() is None and not until(segments):
        table = processes()
        family.update({p: table[p][2] for p in descendants(proc.pid, table)})
        segments |= threads_named(proc.pid, "isb-segment")
        time.sleep(0.05)
    return family, segments


def test_landmarks_parallel_path_starts_no_worker_process(parallel_clip, tmp_path, model_path):
    """The segments run on two threads of the command's own process: no worker process (no second copy
    of MediaPipe in memory), and nothing left behind. (A library's import may run a short helper such
    as gcc for ctypes.util.find_library: allowed, but it must be gone too.)"""
    proc = start(["landmarks", parallel_clip, "-o", tmp_path / "o", "--no-video"], tmp_path, model_path)
    family: dict[int, str] = {}
    try:
        family, segments = _watch(proc, lambda s: False)
        stdout, stderr = proc.communicate(timeout=900)
        gone = wait_until(lambda: not left_over(set(family)), 2.0)
    finally:
        kill_all(proc, set(family))
    assert proc.returncode == 0, stderr
    assert segments == {"isb-segment-0", "isb-segment-1"}, "the parallel path should run two segment threads"
    workers = {p: c for p, c in family.items() if "multiprocessing" in c or "spawn_main" in c}
    assert not workers, f"worker processes started by landmarks: {workers}"
    assert gone, f"left behind after landmarks exited (Z = zombie): {left_over(set(family))}"


@pytest.fixture(scope="module")
def longer_clip(tmp_path_factory, sample_clip) -> Path:
    """1200 frames: still running however quiet the machine is when the signal arrives."""
    return pingpong_clip(sample_clip("tfjs_pose_1.mp4"), tmp_path_factory.mktemp("longer") / "longer.mp4", 1200)


def test_sigint_stops_landmarks_parallel_segments_within_5_s(longer_clip, tmp_path, model_path):
    proc = start(["landmarks", longer_clip, "-o", tmp_path / "o", "--no-video"], tmp_path, model_path)
    family: set[int] = set()
    try:
        _, segments = _watch(proc, lambda s: len(s) == 2)
        assert proc.poll() is None and len(segments) == 2
        # loading the models (uninterruptible native calls, seconds on a loaded machine) or processing frames
        time.sleep(1)
        assert threads_named(proc.pid, "isb-segment"), "the segments should still be running"
        family, took, stderr, gone = interrupt(proc)
    finally:
        kill_all(proc, family)
    assert took <= STOP_S, f"landmarks took {took:.1f} s to stop"
    assert proc.returncode == 130 and stderr.strip() == "interrupted", stderr
    assert gone, f"left behind: {left_over(family)}"
    assert not (tmp_path / "o" / "track.csv").exists(), "interrupted before the track was finished"
