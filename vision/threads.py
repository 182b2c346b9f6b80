"""Small threading helpers that overlap I/O (decode, encode) with inference.

FFmpeg decoding/encoding, OpenCV drawing and MediaPipe inference all release the GIL, so one thread
each keeps both cores busy. Queues are bounded: memory stays flat however long the input is.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


def prefetched(items: Iterator[T], depth: int) -> Iterator[T]:
    """Iterate ``items`` from a background thread, at most ``depth`` items ahead."""
    if depth <= 0:
        yield from items
        return
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    failure: list[BaseException] = []

    def put(item: object) -> None:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def worker() -> None:
        try:
            for item in items:
                put(item)
                if stop.is_set():
                    return
        except BaseException as exc:  # re-raised in the consumer thread
            failure.append(exc)
        finally:
            put(_DONE)

    t = threading.Thread(target=worker, name="prefetch", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                break
            yield item
    finally:
        stop.set()
        t.join()
    if failure:
        raise failure[0]


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
