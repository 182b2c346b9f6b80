"""vision.threads: pinning a thread (and the threads it starts) to one core, and undoing it."""

from __future__ import annotations

import os
import threading

from vision.parallel import segment_cores
from vision.threads import pinned_to


def _in_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_a_thread_pins_itself_and_its_children_and_restores_its_mask():
    mask = os.sched_getaffinity(0)
    core = max(mask)

    def body():
        with pinned_to(core) as pinned:
            inside = os.sched_getaffinity(0)
            child = _in_thread(lambda: os.sched_getaffinity(0))   # a thread started while pinned
            process = os.sched_getaffinity(os.getpid())            # the main thread is left alone
        return pinned, inside, child, process, os.sched_getaffinity(0)

    pinned, inside, child, process, after = _in_thread(body)
    if len(mask) > 1:
        assert pinned and inside == {core} and child == {core}
    else:                                   # one core: nothing to pin, nothing changes
        assert not pinned and inside == mask
    assert process == mask and after == mask and os.sched_getaffinity(0) == mask


def test_no_core_or_a_core_outside_the_mask_changes_nothing():
    mask = os.sched_getaffinity(0)
    outside = max(mask) + 1
    for core in (None, outside):
        with pinned_to(core) as pinned:
            assert not pinned and os.sched_getaffinity(0) == mask
    assert os.sched_getaffinity(0) == mask


def test_segments_get_distinct_cores_only_when_there_are_enough():
    mask = sorted(os.sched_getaffinity(0))
    assert segment_cores(1) == [None]
    assert segment_cores(len(mask) + 1) == [None] * (len(mask) + 1)
    if len(mask) >= 2:
        assert segment_cores(2) == mask[:2]
