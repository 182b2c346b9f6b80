"""``assess``'s memory order: the landmarkers are closed and their freed heap given back to the OS before
pandas (and the assessment) load, so those do not add to what the graphs held. A fresh interpreter,
the real model on a real clip; what is checked is the order of events, not a size."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def test_pandas_loads_only_after_the_landmarkers_are_closed_and_memory_released(sample_clip, model_path, tmp_path):
    code = textwrap.dedent(f"""
        import json, sys
        import vision.landmarker as lm, vision.memory as memory

        events, open_now = [], [0]

        def mark(what):
            events.append([what, open_now[0], "pandas" in sys.modules])

        init, close, release = lm.PoseEstimator.__init__, lm.PoseEstimator.close, memory.release_free_memory

        def traced_init(self, *a, **k):
            init(self, *a, **k)
            open_now[0] += 1
            mark("open")

        def traced_close(self):
            close(self)
            open_now[0] -= 1
            mark("close")

        def traced_release():
            mark("release")
            return release()

        lm.PoseEstimator.__init__, lm.PoseEstimator.close = traced_init, traced_close
        memory.release_free_memory = traced_release
        from isobalance.cli_assess import run_assess

        run_assess({str(sample_clip("tfjs_pose_1.mp4"))!r}, {str(tmp_path / "out")!r}, model={str(model_path)!r})
        mark("end")
        print(json.dumps(events))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    events = json.loads(done.stdout.strip().splitlines()[-1])
    names = [e[0] for e in events]
    # the release that counts is the one after the last landmarker closed (vision.landmarker also gives
    # back what making the bundle's float32 twin took, once, before its first graph loads)
    assert "open" in names and "close" in names and "release" in names and names[-1] == "end", events
    release = len(names) - 1 - names[::-1].index("release")
    assert release > len(names) - 1 - names[::-1].index("close"), events
    assert "open" not in names[release:], events
    assert all(not pandas for _, _, pandas in events[: release + 1]), events   # not before, nor with a graph open
    assert events[release][1] == 0, events                                    # every landmarker closed
    assert events[-1][2], events                                              # the assessment did load it
