"""Small threading helpers: overlap I/O (decode, encode) with inference, and run work on every core.

FFmpeg decoding/encoding, OpenCV drawing and MediaPipe inference all release the GIL, so one thread
each keeps both cores busy. Queues are bounded: memory stays flat however long the input is.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import sys
import threading
import time
from typing import Callable, Generic, Iterator, Sequence, TypeVar

T = TypeVar("T")
_DONE = object()
THREAD_PREFIX = "isb-"       # names of run_threads' threads (``threads_left_running``)
STOP_WAIT_S = 1.0            # on an interrupt, how long run_threads waits for its threads to end


def prefetched(items: Iterator[T], depth: int) -> Iterator[T]:
    """Iterate ``items`` from a background thread, at most ``depth`` items ahead."""
    with Prefetcher(items, depth) as ahead:
        yield from ahead


class Prefetcher(Generic[T]):
    """``items`` made on a background thread, at most ``depth`` ahead of the consumer, from the moment
    the block is entered (``prefetched`` starts at the first item asked for): a segment decodes its
    first frames, and the frames between its keyframe and its first, while its model loads. Leaving the
    block stops the thread. Iterate once; an error of ``items`` is raised in the consumer after the
    items made before it. ``depth <= 0``: no thread, ``items`` as they are."""

    def __init__(self, items: Iterator[T], depth: int):
        self._items = items
        self._q: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._work, name="prefetch", daemon=True) if depth > 0 else None

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _work(self) -> None:
        try:
            for item in self._items:
                self._put(item)
                if self._stop.is_set():
                    return
        except BaseException as exc:  # re-raised in the consumer thread
            self._failure.append(exc)
        finally:
            self._put(_DONE)

    def __enter__(self) -> "Prefetcher[T]":
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __iter__(self) -> Iterator[T]:
        if self._thread is None:
            yield from self._items
            return
        while True:
            item = self._q.get()
            if item is _DONE:
                break
            yield item
        if self._failure:
            raise self._failure[0]


class BackgroundConsumer(Generic[T]):
    """Calls ``fn(item)`` for each submitted item, in order, on one background thread.

    A context manager: leaving it waits for every submitted item, then re-raises the first error the
    consumer hit (later items are dropped after an error, earlier ones are already done).
    """

    def __init__(self, fn: Callable[[T], None], depth: int = 4):
        self._fn = fn
        self._q: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name="background-consumer", daemon=True)

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _DONE:
                return
            if not self._failure:
                try:
                    self._fn(item)
                except BaseException as exc:
                    self._failure.append(exc)

    def submit(self, item: T) -> None:
        if self._failure:
            raise self._failure[0]
        self._q.put(item)

    def __enter__(self) -> "BackgroundConsumer[T]":
        self._thread.start()
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        self._q.put(_DONE)
        self._thread.join()
        if self._failure and exc_type is None:
            raise self._failure[0]


def name_os_thread(name: str) -> None:
    """Give the calling thread ``name`` in the process table (``/proc/PID/task/*/comm``, ``top -H``):
    Python's own thread names are invisible there. Linux only (15 bytes kept); a no-op elsewhere."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)   # PR_SET_NAME
        except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
            pass


@contextlib.contextmanager
def pinned_to(core: int | None) -> Iterator[bool]:
    """Run the calling thread on ``core`` only, inside the block; yields whether it is pinned.

    ``os.sched_setaffinity(0, ...)`` called from a thread changes that thread only (Linux), and the
    threads it starts meanwhile (MediaPipe's graph threads when a landmarker is created, FFmpeg's
    decoding threads) inherit the mask, so a segment's whole model stays on one core, as if it ran
    alone on a 1-core machine. MediaPipe on one core spends less CPU per frame than when its threads
    can move between two (bench/throughput.py, README "Speed"). ``None``, a platform without affinity,
    or a core outside the process's mask: nothing changes. The previous mask is restored on exit
    (threads started inside keep theirs)."""
    before = None
    if core is not None and hasattr(os, "sched_setaffinity"):
        try:
            before = os.sched_getaffinity(0)
            if core in before and len(before) > 1:
                os.sched_setaffinity(0, {core})
            else:
                before = None
        except OSError:
            before = None
    try:
        yield before is not None
    finally:
        if before is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, before)


Work = Callable[[threading.Event, Callable[[int], None]], T]


def run_threads(work: Sequence[Work], name: str, on_progress: Callable[[int], None] | None = None,
                poll_s: float = 0.2, on_result: Callable[[int, T], None] | None = None) -> list[T]:
    """Run each ``work[k](stop, progress)`` on its own thread (named ``isb-<name>-k``); results in order.

    Why threads and not processes: MediaPipe inference, FFmpeg decoding/encoding and OpenCV drawing
    release the GIL, so threads use every core without a second copy of MediaPipe (~300 MB) per worker
    or a process start-up. ``progress(n)`` may be called from any thread; ``on_progress`` is called
    on the calling thread. The calling thread waits in short slices, so Ctrl+C (KeyboardInterrupt) is
    handled at once: ``stop`` is set, every thread is joined (each checks ``stop`` once per item, so
    it ends within one frame) for at most ``STOP_WAIT_S``, and the interrupt is re-raised. A thread
    still inside a native call that cannot be interrupted (MediaPipe loading a model: seconds on a
    loaded machine) is left to end by itself; ``threads_left_running`` tells the command, which then
    ends its process without waiting for it (``isobalance.cli``). The first error of a work item sets
    ``stop`` for the others and is raised after all have ended.

    ``on_result(k, result)`` is called on the calling thread for each item, in order, as soon as item
    ``k`` and every earlier one have ended without error, while later ones may still run: the caller can
    use the core an early finisher frees (``vision.parallel`` replays the finished segments' frames).
    It is interruptible like the wait (Ctrl+C stops the threads as above).
    """
    stop = threading.Event()
    counts: queue.SimpleQueue = queue.SimpleQueue()
    results: list = [None] * len(work)
    failures: list[BaseException] = []

    def body(k: int) -> None:
        name_os_thread(f"{THREAD_PREFIX}{name}-{k}")
        try:
            results[k] = work[k](stop, counts.put)
        except BaseException as exc:  # re-raised on the calling thread
            failures.append(exc)
            stop.set()

    def drain() -> None:
        while True:
            try:
                n = counts.get_nowait()
            except queue.Empty:
                return
            if on_progress is not None:
                on_progress(n)

    threads = [threading.Thread(target=body, args=(k,), name=f"{THREAD_PREFIX}{name}-{k}", daemon=True)
               for k in range(len(work))]
    try:
        for t in threads:
            t.start()
        for k, t in enumerate(threads):
            while t.is_alive():
                t.join(poll_s)
                drain()
            if on_result is not None and not failures:
                on_result(k, results[k])
        drain()
    except BaseException:
        stop.set()
        deadline = time.monotonic() + STOP_WAIT_S
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        raise
    if failures:
        raise failures[0]
    return results


def threads_left_running() -> bool:
    """True while a ``run_threads`` thread is still alive (after an interrupt: stuck in a native call)."""
    return any(t.name.startswith(THREAD_PREFIX) and t.is_alive() for t in threading.enumerate())
