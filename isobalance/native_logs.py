"""Silence what MediaPipe, TFLite/LiteRT and absl write straight to file descriptor 2.

About 50 INFO/WARNING lines per run come from C++ (LiteRT environment, XNNPACK, "Sparsity tensors may
not yet be fully supported" once per tensor, absl's "Logging before InitGoogle()"). Measured here:
GLOG_minloglevel and TF_CPP_MIN_LOG_LEVEL do not stop them (LiteRT and absl log on their own), so
the descriptor itself is pointed at /dev/null while Python's ``sys.stderr`` keeps writing to the real
terminal: the tool's own messages, progress bars and tracebacks still show. Child processes (worker
pools) inherit the silenced descriptor. ``isobalance --verbose`` leaves descriptor 2 alone.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point fd 2 at /dev/null for the block; ``sys.stderr`` (if it was fd 2) follows the real stderr."""
    saved, previous = _silence()
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
            _flush_c_streams()      # native lines still buffered in C stdio go to /dev/null, not after us
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sys.stderr = previous


def silence_native_stderr_until_exit() -> None:
    """The same for the rest of the process: the CLI's own process uses it, because native lines also come
    after the command has returned - LiteRT's "DestroyAccelerator" when a segment thread that was still
    winding down after Ctrl+C closes its landmarker, or at interpreter shutdown - and a restored fd 2 would
    print them after the tool's last line. In-process callers (tests, embedding) use the scoped version."""
    _silence()


def _silence() -> tuple[int, object]:
    """fd 2 to /dev/null; returns a duplicate of the real fd 2 and the previous ``sys.stderr``."""
    try:
        python_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):   # already captured in memory (tests, embedding)
        python_fd = None
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    previous = sys.stderr
    if python_fd == 2:
        sys.stderr = io.TextIOWrapper(io.FileIO(saved, "w", closefd=False), encoding=getattr(previous, "encoding", None) or "utf-8",
                                      errors="backslashreplace", line_buffering=True, write_through=True)
    os.dup2(devnull, 2)
    os.close(devnull)
    return saved, previous


def _flush_c_streams() -> None:
    import ctypes

    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # pragma: no cover - no C library to ask
        pass
