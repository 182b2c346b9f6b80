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


def test_each_result_is_handed_over_in_order_while_later_items_still_run():
    """``on_result(k, result)`` comes on the calling thread as soon as item k and the earlier ones have
    ended: item 1 here only ends once item 0's result has been handed over (it would time out and
    fail otherwise), and item 2 ends first but is handed over last."""
    from vision.threads import run_threads

    handed: list[tuple[int, str, str]] = []
    zero_handed = threading.Event()

    def item(k):
        def work(stop, progress):
            if k == 1:
                assert zero_handed.wait(60), "item 0's result was not handed over while item 1 ran"
            return f"r{k}"
        return work

    def on_result(k, result):
        handed.append((k, result, threading.current_thread().name))
        if k == 0:
            zero_handed.set()

    assert run_threads([item(0), item(1), item(2)], "handover", on_result=on_result, poll_s=0.01) == ["r0", "r1", "r2"]
    assert handed == [(0, "r0", "MainThread"), (1, "r1", "MainThread"), (2, "r2", "MainThread")]


def test_no_result_is_handed_over_after_a_failure():
    from vision.threads import run_threads

    handed = []

    def fails(stop, progress):
        raise ValueError("broken")

    try:
        run_threads([fails, lambda stop, progress: "fine"], "failing", on_result=lambda k, r: handed.append(k))
    except ValueError as exc:
        assert str(exc) == "broken"
    else:
        raise AssertionError("the work item's error must be raised")
    assert handed == []


def test_prefetcher_makes_items_from_entering_the_block_and_stops_on_leaving():
    """``Prefetcher`` starts making items when its block is entered, before anyone asks (a segment
    decodes while its model loads), at most ``depth`` ahead; leaving the block stops an endless
    source; an error of the source comes after the items made before it; depth 0 runs no thread."""
    from vision.threads import Prefetcher

    made: list[int] = []
    first = threading.Event()

    def endless():
        k = 0
        while True:
            made.append(k)
            first.set()
            yield k
            k += 1

    with Prefetcher(endless(), 2) as ahead:
        assert first.wait(30), "nothing was made before the first item was asked for"
        got = []
        for item in ahead:
            got.append(item)
            if len(got) == 5:
                break
    assert got == [0, 1, 2, 3, 4]
    stopped_at = len(made)
    assert stopped_at <= 5 + 2 + 2          # the consumer's five, the queue's two, one in hand
    assert len(made) == stopped_at, "the thread ended with the block"

    def broken():
        yield "a"
        raise ValueError("damaged")

    got = []
    try:
        with Prefetcher(broken(), 2) as ahead:
            for item in ahead:
                got.append(item)
    except ValueError as exc:
        assert str(exc) == "damaged"
    else:
        raise AssertionError("the source's error must reach the consumer")
    assert got == ["a"]
    before = threading.active_count()
    with Prefetcher(iter([1, 2]), 0) as ahead:
        assert threading.active_count() == before and list(ahead) == [1, 2]
