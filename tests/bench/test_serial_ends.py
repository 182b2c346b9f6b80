"""bench/serial_ends.py on real runs of the CLI as the console script runs it: the time to both segments'
first pose on a clip long enough for the parallel path, and the process's end after a finished command."""

from bench.serial_ends import ROOT, run_once
from tests.vision.long_clips import pingpong_clip


def test_first_poses_and_the_end_are_timed(tmp_path, monkeypatch, model_path, sample_clip):
    monkeypatch.setenv("ISOBALANCE_MODEL", str(model_path))
    monkeypatch.setenv("ISOBALANCE_DATA", str(tmp_path / "data"))
    clip = pingpong_clip(sample_clip("tfjs_pose_1.mp4"), tmp_path / "long.mp4", 320, keyint=40)
    first = run_once(str(ROOT), "first", ["landmarks", str(clip), "-o", str(tmp_path / "a"), "--no-video"])
    assert first["rc"] == 0 and 0 < first["first_poses_s"] < 300, first
    assert not (tmp_path / "a" / "track.csv").exists(), "the run ends at the first poses"
    end = run_once(str(ROOT), "end", ["landmarks", str(sample_clip("tfjs_pose_squats.mp4")), "-o",
                                      str(tmp_path / "b"), "--no-video"])
    assert end["rc"] == 0 and 0 <= end["exit_s"] < 60, end
    assert (tmp_path / "b" / "track.csv").is_file() and (tmp_path / "b" / "summary.json").is_file()
