"""scripts/demo.sh on a fresh clone with nothing beside it: no ../shared, empty caches, no internet but PyPI.

The clone is made with ``git clone`` of this repository into a temporary folder that has no ``shared``
folder beside it; HOME and the XDG cache/data/config folders point at empty temporary folders, and no
ISOBALANCE_* variable leaks in, so the model cannot come from ../shared or a cache: the demo has to try
Google's download (unreachable from CI) and build the model offline from the mediapipe==0.10.21 wheel,
which pip downloads from PyPI into the empty cache. To keep CI time sane the demo reuses this suite's
installed packages through ISOBALANCE_DEMO_REUSE_VENV (documented in demo.sh) instead of running
setup.sh: the clone gets its own bare .venv that sees those packages but not this checkout's editable
install, so the code that runs is the clone's alone (checked below).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import pytest

REPO = Path(__file__).resolve().parents[1]


def fresh_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ISOBALANCE_") and k != "PYTHONPATH"}
    for name in ("home", "cache", "data", "config"):
        (tmp_path / name).mkdir()
    env.update(HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "cache"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               ISOBALANCE_DEMO_REUSE_VENV=sys.prefix)
    return env


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("fresh")
    target = base / "isobalance"
    subprocess.run(["git", "clone", "-q", str(REPO), str(target)], check=True)
    assert not (base / "shared").exists()
    return target


@pytest.mark.slow
def test_demo_runs_every_stage_offline_on_a_fresh_clone(clone, tmp_path):
    env = fresh_env(tmp_path)
    done = subprocess.run(["bash", "scripts/demo.sh"], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=1800)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "Traceback" not in output
    # the model was built offline into the empty cache (Google's storage is unreachable here)
    built = tmp_path / "cache" / "isobalance" / "models"
    registry = json.loads((built / "registry.json").read_text())
    assert any(e["source"].startswith("offline build from mediapipe-0.10.21") for e in registry.values()), registry
    assert f"in use for 'full': {built}" in done.stdout
    out = clone / "out" / "demo"
    for name in ("landmarks/annotated.mp4", "landmarks/track.csv", "landmarks/summary.json",
                 "assess/report.html", "assess/report.pdf", "assess/report.json", "hold/hold.json", "hold/hold.mp4"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
        assert str(out.relative_to(clone) / name) in done.stdout, f"the demo does not say what {name} is"
    summary = json.loads((out / "landmarks" / "summary.json").read_text())
    assert summary["frames"] == summary["frames_with_person"] == 65            # the squat clip's facts
    assert summary["source"] == str(clone / "sample_videos" / "tfjs_pose_squats.mp4")  # the shipped clip
    with av.open(str(out / "landmarks" / "annotated.mp4")) as video:
        assert sum(1 for _ in video.decode(video=0)) == 65
    hold = json.loads((out / "hold" / "hold.json").read_text())
    assert hold["source"] == str(clone / "sample_videos" / "pose2sim_static_cam02.mp4")
    assert "Next commands to try" in done.stdout and "isobalance dashboard" in done.stdout
    # the clone's code alone: its venv does not reach this checkout's modules
    paths = subprocess.run([str(clone / ".venv" / "bin" / "python"), "-c",
                            "import vision, sample_videos; print(*vision.__path__, *sample_videos.__path__)"],
                           cwd=tmp_path, env=dict(env, PYTHONPATH=str(clone)), capture_output=True, text=True,
                           check=True).stdout.split()
    assert paths == [str(clone / "vision"), str(clone / "sample_videos")]


def test_demo_missing_piece_is_one_clear_line(clone, tmp_path):
    env = fresh_env(tmp_path)
    done = subprocess.run(["bash", "scripts/demo.sh", "no_such_clip.mp4"], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("demo: There is no sample clip 'no_such_clip.mp4'"), lines
    env["ISOBALANCE_DEMO_REUSE_VENV"] = str(tmp_path / "no-venv")
    done = subprocess.run(["bash", "scripts/demo.sh"], cwd=clone, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"demo: ISOBALANCE_DEMO_REUSE_VENV={tmp_path / 'no-venv'} has no bin/python."]
