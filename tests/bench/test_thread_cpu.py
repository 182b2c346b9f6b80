"""bench/thread_cpu.py attributes a process tree's CPU to thread names, by construction: a child whose
threads burn a known amount of their own CPU (measured by the child itself, so load does not matter)."""

import sys
import textwrap

from bench.thread_cpu import measure, report

CHILD = textwrap.dedent("""
    import ctypes, threading, time

    def burn(name, seconds):
        ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)     # the OS thread name, as vision.threads does
        start = time.thread_time()
        while time.thread_time() - start < seconds:
            pass

    time.sleep(0.6)                                             # an idle head
    threads = [threading.Thread(target=burn, args=(f"isb-segment-{k}", 0.6)) for k in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    burn("tailwork", 0.4)
""")


def test_cpu_by_thread_name_with_the_segments_folded():
    r = measure([sys.executable, "-c", CHILD], interval=0.05)
    assert r["returncode"] == 0
    by = r["by_thread"]
    # each segment thread burnt 0.6 s of its own CPU: folded into one name; sampling may miss the last
    # interval of a thread that ended between two samples
    assert 1.0 <= by["isb-segment-N"] <= 1.4, by
    assert by.get("isb-segment-0") is None and by.get("isb-segment-1") is None
    assert 0.35 <= by["main"], by                               # the main thread renamed itself "tailwork"
    assert r["cpu_s"] >= 1.6 and r["cpu_s"] >= r["sampled_cpu_s"] - 0.05   # rusage counts every thread
    assert r["peak_tree_rss_mb"] > 1
    assert r["head"]["wall_s"] >= 0.5                            # the idle 0.6 s before the segments
    assert r["tail"]["main_cpu_s"] >= 0.3                        # the 0.4 s burnt after them
    assert "isb-segment-N" in report(r)


def test_a_failing_command_reports_its_exit_code():
    r = measure([sys.executable, "-c", "raise SystemExit(3)"], interval=0.05)
    assert r["returncode"] == 3 and "head" not in r
