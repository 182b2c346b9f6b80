"""``isobalance hold`` on a long file runs on every core (track in parallel, monitor over the stitched
track, hold.mp4 drawn in parallel parts) and gives the streaming run's result and video."""

from __future__ import annotations

import json

import numpy as np
import pytest

from isobalance.cli_hold import run_hold
from tests.vision.long_clips import pingpong_clip

EXERCISE = "lower-trapezius-low-row-hold"


def decode(path):
    import av

    with av.open(str(path)) as c:
        frames = [(f.time, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    return np.array([t for t, _ in frames]), [rgb for _, rgb in frames]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sample_clip, model_path):
    """tfjs_pose_1 ping-ponged to 320 frames; hold checked on 2 cores and streaming (parallel disabled)."""
    base = tmp_path_factory.mktemp("hold")
    clip = pingpong_clip(sample_clip("tfjs_pose_1.mp4"), base / "long.mp4", 320, keyint=40)
    mp = pytest.MonkeyPatch()
    calls = []
    import vision.parallel
    import vision.render

    real_render = vision.render.render_video
    mp.setattr(vision.parallel, "available_cores", lambda: 2)
    mp.setattr(vision.render, "render_video", lambda *a, **k: calls.append(k["workers"]) or real_render(*a, **k))
    try:
        par = run_hold(clip, EXERCISE, base / "par", model=model_path, settle_s=0.6)
        mp.setattr(vision.parallel, "parallel_pays", lambda *a, **k: False)
        seq = run_hold(clip, EXERCISE, base / "seq", model=model_path, settle_s=0.6)
    finally:
        mp.undo()
    assert calls == [2], "the parallel path drew hold.mp4 in 2 parts"
    return clip, par, seq, base


@pytest.mark.slow
def test_parallel_hold_gives_the_streaming_result(runs):
    _, par, seq, base = runs
    assert par["frames"] == seq["frames"] == 320
    # default settings, one person: the stitched track is bit-identical, so the monitor's result is too
    assert json.loads((base / "par" / "hold.json").read_text()) == json.loads((base / "seq" / "hold.json").read_text())


@pytest.mark.slow
def test_parallel_hold_video_has_every_frame_at_its_time_and_the_same_overlay(runs):
    clip, par, seq, base = runs
    src_t, _ = decode(clip)
    par_t, par_frames = decode(base / "par" / "hold.mp4")
    seq_t, seq_frames = decode(base / "seq" / "hold.mp4")
    assert len(par_t) == len(src_t) == 320
    np.testing.assert_allclose(par_t, src_t, atol=5e-4)
    np.testing.assert_allclose(seq_t, src_t, atol=5e-4)
    # the same drawings encoded in one piece or in two: equal up to H.264's loss
    for i in (0, 100, 159, 160, 161, 319):
        assert np.abs(par_frames[i].astype(int) - seq_frames[i].astype(int)).mean() < 3, i
