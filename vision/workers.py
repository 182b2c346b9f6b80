"""Worker processes that never outlive, or outwait, the command that started them.

Every process pool (``isobalance.batch``'s videos; one long file's segments and video parts run on
threads instead, ``vision.threads.run_threads``) is made by ``worker_pool``: spawn start (MediaPipe
is not fork-safe); each worker ignores SIGINT (Ctrl+C in a terminal reaches the whole process group;
the driver decides what stops) and runs a watchdog thread
that ends it when its parent is gone (a SIGKILLed driver left workers running for minutes, holding
about 850 MB each). Leaving the pool's block by an exception or an interrupt terminates the workers
at once instead of waiting for every queued job; results already handed back are kept by the caller.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import types
from typing import Any, Callable, Iterator

PARENT_POLL_S = 0.5        # how often a worker checks that its driver still exists
TERMINATE_WAIT_S = 3.0     # after SIGTERM, how long a worker gets before SIGKILL


def init_worker(parent_pid: int, then: Callable[..., None] | None, *args: Any) -> None:
    """Pool initializer: ignore SIGINT, watch the parent, then run the pool's own initializer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), name="parent-watchdog",
                     daemon=True).start()
    if then is not None:
        then(*args)


def _exit_when_orphaned(parent_pid: int) -> None:
    # a process whose parent died is re-parented (to init or a subreaper): its parent pid changes
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


class _SpawnProcess(mp.context.SpawnProcess):
    """A spawn process that does not re-run the parent's ``__main__`` script.

    Spawn normally re-executes the parent's main script in the child (as ``__mp_main__``). Our jobs
    live in importable modules, and the parent's main is often a script that must not run twice: a
    Streamlit page inside the dashboard server (or after ``AppTest`` in a test process) re-ran the
    whole page in every worker and killed it. The child gets an empty ``__main__`` instead.
    """

    @staticmethod
    def _Popen(process_obj):
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            return mp.context.SpawnProcess._Popen(process_obj)
        finally:
            sys.modules["__main__"] = main


class _SpawnContext(mp.context.SpawnContext):
    Process = _SpawnProcess


def stop_pool(pool: cf.ProcessPoolExecutor) -> None:
    """Cancel queued jobs and terminate running workers now (their unfinished jobs are lost)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + TERMINATE_WAIT_S
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()


@contextlib.contextmanager
def worker_pool(max_workers: int, initializer: Callable[..., None] | None = None,
                initargs: tuple = ()) -> Iterator[cf.ProcessPoolExecutor]:
    """A spawn ``ProcessPoolExecutor`` whose workers ignore Ctrl+C and die with their parent; an
    exception or interrupt inside the block stops them at once (see the module docstring)."""
    pool = cf.ProcessPoolExecutor(max_workers=max_workers, mp_context=_SpawnContext(),
                                  initializer=init_worker, initargs=(os.getpid(), initializer, *initargs))
    try:
        yield pool
    except BaseException:
        stop_pool(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def reap_helpers_at_exit() -> None:
    """Stop and reap multiprocessing's resource tracker (started by the first spawn pool) as this
    process exits, instead of letting it outlive us: orphaned, it ends as a zombie wherever init does
    not reap (measured here: one zombie per interrupted batch). Runs as multiprocessing's last exit
    finalizer, after the pools' semaphores are released, so the tracker has nothing left to clean."""
    from multiprocessing import resource_tracker, util

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)   # CPython's own shutdown hook
    if stop is not None:
        util.Finalize(None, stop, exitpriority=-100)
