"""``isobalance batch`` on real clips and clips derived from them (a truncated copy, a mirrored copy,
a corrupt file): local pool, resuming, the CLI, and a real local Ray cluster giving the same summary."""

import csv
import json
import shutil
import subprocess

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from isobalance.batch import COLUMNS, run_batch
from isobalance.cli_batch import batch_command
from isobalance.config import VisionConfig
from tests.vision.clips import decode_all, write_lossless


@pytest.fixture(scope="module")
def archive(tmp_path_factory, sample_clip):
    """Five videos in two sub-folders: two real clips, a mirrored copy (lossless), a truncated copy,
    and a corrupt file (bytes of a real clip's middle: no container header)."""
    root = tmp_path_factory.mktemp("archive")
    (root / "clinic_a").mkdir()
    (root / "clinic_b").mkdir()
    squats = sample_clip("tfjs_pose_squats.mp4")
    static = sample_clip("pose2sim_static_cam02.mp4")
    (root / "clinic_a" / "squats.mp4").write_bytes(squats.read_bytes())
    (root / "clinic_a" / "static.mp4").write_bytes(static.read_bytes())
    frames, _ = decode_all(static)
    write_lossless(root / "clinic_b" / "static_mirrored.mp4", [f.rgb[:, ::-1] for f in frames],
                   [f.timestamp_ms for f in frames])
    fs = root / "faststart.tmp"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(squats), "-c", "copy",
                    "-movflags", "+faststart", "-f", "mp4", str(fs)], check=True)
    (root / "clinic_b" / "squats_cut.mp4").write_bytes(fs.read_bytes()[: fs.stat().st_size // 2])
    fs.unlink()
    data = squats.read_bytes()
    (root / "clinic_b" / "corrupt.mp4").write_bytes(data[len(data) // 3: len(data) // 3 + 40_000])
    return root


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def local_run(archive, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    return run_batch(archive, out, workers=2)


def test_local_batch_assesses_every_video_and_reports_the_bad_one(local_run):
    rows = {r["video"]: r for r in read_csv(local_run.summary_csv)}
    assert list(read_csv(local_run.summary_csv)[0].keys()) == list(COLUMNS)
    assert set(rows) == {"squats", "static", "static_mirrored", "squats_cut", "corrupt"}
    assert rows["squats"]["status"] == "ok" and rows["squats"]["frames"] == "65"
    assert rows["squats"]["view"] == "front" and rows["static"]["view"] == "back"
    assert rows["squats_cut"]["status"] == "partial" and 10 < int(rows["squats_cut"]["frames"]) < 65
    assert "of the 65 frames" in rows["squats_cut"]["message"]
    assert rows["corrupt"]["status"] == "error" and "corrupt.mp4" in rows["corrupt"]["message"]
    assert not (local_run.out / "corrupt").exists()
    # each row is its report: the summary's numbers are the report's findings
    for name in ("squats", "static", "squats_cut"):
        report = json.loads((local_run.out / name / "report.json").read_text())
        static = {f["metric"]: f for f in report["findings"] if f["kind"] == "static"}
        f = static["shoulder_line_tilt"]
        if f["status"] == "not_measurable":      # e.g. the squat's perspective gate: no number in the summary
            assert rows[name]["shoulder_line_tilt_deg"] == "" and f["reason"]
        else:
            assert float(rows[name]["shoulder_line_tilt_deg"]) == pytest.approx(f["value"], abs=0.051)
        assert (local_run.out / name / "report.html").is_file() and (local_run.out / name / "track.csv").is_file()
    assert rows["static"]["shoulder_line_tilt_deg"] != ""
    assert rows["static_mirrored"]["status"] == "ok" and rows["static_mirrored"]["frames"] == "11"
    html = local_run.summary_html.read_text()
    assert html.count("<tr style=") == 5 and 'href="./squats/report.html"' in html


def test_second_run_skips_finished_videos_and_retries_on_change(local_run, archive, tmp_path):
    out = shutil.copytree(local_run.out, tmp_path / "out")  # the shared local run stays as it was
    before = (out / "squats" / "report.json").stat().st_mtime_ns
    again = run_batch(archive, out, workers=2)
    assert again.reused == 4, "everything but the corrupt file is up to date"
    assert (out / "squats" / "report.json").stat().st_mtime_ns == before
    assert read_csv(again.summary_csv) == read_csv(local_run.summary_csv)
    (out / "static" / "report.html").unlink()        # an output gone: that video is assessed again
    assert run_batch(archive, out, workers=2).reused == 3
    # other settings: nothing is reused
    raw = run_batch(archive / "clinic_a", out, VisionConfig(smoothing="none"), workers=2)
    assert raw.reused == 0 and [r["status"] for r in raw.rows] == ["ok", "ok"]
    record = json.loads((out / "squats" / "batch.json").read_text())
    assert record["settings_key"] != json.loads((local_run.out / "squats" / "batch.json").read_text())["settings_key"]


def test_cli_batch_command_reports_failures_with_exit_code(archive, tmp_path):
    app = typer.Typer()
    app.command("batch")(batch_command)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["batch", str(archive / "clinic_b" / "*.mp4"), "-o", str(tmp_path / "o"),
                                      "--workers", "2", "--no-progress"])
    assert result.exit_code == 2
    assert "3 videos" in result.output and "1 error" in result.output
    assert "corrupt" in result.output
    empty = CliRunner().invoke(app, ["batch", str(tmp_path / "nothing-here"), "-o", str(tmp_path / "p")])
    assert empty.exit_code == 2 and "no videos found" in empty.output


def test_ray_cluster_gives_the_same_summary_as_the_local_pool(archive, local_run, tmp_path):
    """A real Ray cluster on localhost (2 CPUs): same rows, same track files, same findings."""
    import ray  # in the [test] extra: a missing Ray is a failure, never a skip
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert ray.cluster_resources().get("CPU") == 2
        on_ray = run_batch(archive, tmp_path / "ray", use_ray=True)
    finally:
        ray.shutdown()
    assert read_csv(on_ray.summary_csv) == read_csv(local_run.summary_csv)
    for name in ("squats", "static", "static_mirrored", "squats_cut"):
        assert (on_ray.out / name / "track.csv").read_bytes() == (local_run.out / name / "track.csv").read_bytes()
        a = json.loads((on_ray.out / name / "report.json").read_text())
        b = json.loads((local_run.out / name / "report.json").read_text())
        a.pop("created_utc"), b.pop("created_utc")
        assert a == b
