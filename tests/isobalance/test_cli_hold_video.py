"""``isobalance hold`` on a short clip streams its frames (no parallel path) and draws hold.mp4 on a
background thread while the model runs: every frame read is in the video, at its own time, also when the
file breaks part-way (the video and hold.json keep what was read)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from isobalance.cli_hold import run_hold
from tests.vision.long_clips import cut_in_half
from vision.errors import PartialInputError

EXERCISE = "lower-trapezius-low-row-hold"


def times(path) -> np.ndarray:
    """Presentation times (s) of every frame a decoder gets from ``path`` (up to a break)."""
    import av

    out = []
    with av.open(str(path)) as c:
        try:
            for f in c.decode(video=0):
                out.append(f.time)
        except av.error.FFmpegError:
            pass
    return np.array(out)


def test_streamed_hold_video_has_every_frame_at_its_time(tmp_path, sample_clip, model_path):
    clip = sample_clip("tfjs_pose_squats.mp4")
    written = run_hold(clip, EXERCISE, tmp_path / "o", model=model_path, settle_s=0.6)
    assert written["frames"] == 65 and written["video"] == str(tmp_path / "o" / "hold.mp4")
    np.testing.assert_allclose(times(written["video"]), times(clip), atol=5e-4)


def test_a_file_broken_part_way_keeps_the_video_of_the_frames_read(tmp_path, sample_clip, model_path):
    cut = cut_in_half(sample_clip("tfjs_pose_squats.mp4"), tmp_path)
    readable = times(cut)
    assert 5 < len(readable) < 65
    with pytest.raises(PartialInputError, match="The result for the frames read is in"):
        run_hold(cut, EXERCISE, tmp_path / "o", model=model_path, settle_s=0.6)
    doc = json.loads((tmp_path / "o" / "hold.json").read_text())
    assert doc["source"] == str(cut)
    np.testing.assert_allclose(times(tmp_path / "o" / "hold.mp4"), readable, atol=5e-4)
