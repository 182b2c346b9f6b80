"""Uploads' lifetime through the dashboard's own code (issue #11 item 4): real uploads of a real clip,
reviewed by the real model (annotated video, key frames, report), saved to a patient as the review page
saves them; then ``sessions delete --yes``, patient deletion, the retention, the total cap and
``isobalance data purge``. SQLite here; the store logic is tested on PostgreSQL too in
tests/store/test_uploads.py."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dashboard.review_job import review_upload
from dashboard.uploads import UploadRejected, save_upload, uploads_dir
from isobalance.cli_data import data_app
from isobalance.cli_sessions import sessions_app
from isobalance.config import load_config
from isobalance.paths import open_store
from store import save_assessment


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    def make(extra: str = ""):
        path = tmp_path / "isobalance.toml"
        path.write_text(f'[dashboard]\ndata_dir = "{tmp_path / "data"}"\n{extra}', encoding="utf-8")
        monkeypatch.setenv("ISOBALANCE_CONFIG", str(path))
        monkeypatch.delenv("ISOBALANCE_DATA", raising=False)
        monkeypatch.delenv("ISOBALANCE_DATABASE_URL", raising=False)
        return load_config()
    return make


@pytest.fixture(scope="module")
def clip(sample_clip) -> Path:
    return Path(sample_clip("pose2sim_static_cam02.mp4"))


def upload(clip: Path, cfg, store=None, name: str = "clip.mp4"):
    with open(clip, "rb") as fh:
        return save_upload(name, fh, clip.stat().st_size, cfg, store=store)


def reviewed_session(store, pid: str, clip: Path, cfg, model_path) -> tuple[str, Path]:
    """Upload, review with the real model and save to ``pid`` like the review page; (session id, folder)."""
    saved = upload(clip, cfg, store)
    sids = []
    review_upload(saved, cfg, model_path, on_report=lambda report, files: sids.append(save_assessment(
        store, pid, report.to_dict(), {"track": files["track_csv"], "video": files["video"],
                                       "report_html": files["report_html"]})))
    assert len(sids) == 1
    assert (saved.folder / "annotated.mp4").is_file() and any((saved.folder / "keyframes").iterdir())
    return sids[0], saved.folder


def listing(data: Path) -> set[str]:
    return {str(p.relative_to(data)) for p in data.rglob("*") if not p.name.startswith("isobalance.db")}


def run(app_typer, *args):
    app = typer.Typer()
    app.add_typer(app_typer, name="x")
    return CliRunner().invoke(app, ["x", *map(str, args)])


def test_sessions_delete_removes_the_uploaded_and_annotated_video_and_key_frames(cfg, clip, model_path):
    config = cfg()
    with open_store(config) as store:
        pid = store.add_patient("Ada")
        sid, folder = reviewed_session(store, pid, clip, config, model_path)
        assert store.referenced_uploads() == {folder.name}
    r = run(sessions_app, "delete", sid[:8], "--yes")
    assert r.exit_code == 0, r.output
    assert not folder.exists() and list(uploads_dir(config).iterdir()) == []
    with open_store(config) as store:
        assert not (store.root / "patients" / pid / sid).exists() and store.sessions(pid) == []


def test_deleting_a_patient_leaves_nothing_of_theirs_in_the_data_folder(cfg, clip, model_path):
    config = cfg()
    data = Path(config.dashboard.data_dir)
    with open_store(config) as store:
        keep = store.add_patient("Keep")
        reviewed_session(store, keep, clip, config, model_path)
        before = listing(data)
        gone = store.add_patient("Gone")
        folders = [reviewed_session(store, gone, clip, config, model_path)[1] for _ in range(2)]
        assert listing(data) > before
    r = run(sessions_app, "delete", gone, "--yes")
    assert r.exit_code == 0, r.output
    after = listing(data)
    assert after == before, sorted(after ^ before)
    assert not any(gone in p or any(f.name in p for f in folders) for p in after)


def test_unsaved_uploads_go_after_the_retention_and_on_purge(cfg, clip):
    config = cfg("upload_retention_hours = 24\n")
    with open_store(config) as store:
        old = upload(clip, config, store)
        t = time.time() - 25 * 3600
        os.utime(old.folder, (t, t))
        young = upload(clip, config, store)                  # the next upload removes what expired
        assert not old.folder.exists() and young.folder.is_dir()
    r = run(data_app, "purge", "--older-than", "1")
    assert r.exit_code == 0 and "0 unsaved upload(s)" in r.output and young.folder.is_dir()
    r = run(data_app, "purge", "--dry-run")
    assert r.exit_code == 0 and f"would remove upload {young.id[:8]}" in r.output and young.folder.is_dir()
    r = run(data_app, "purge")
    assert r.exit_code == 0 and "1 unsaved upload(s)" in r.output and not young.folder.exists()


def test_uploads_together_are_capped(cfg, clip):
    config = cfg("uploads_max_total_mb = 1\n")
    size = clip.stat().st_size                               # about 60 kB
    kept = [upload(clip, config) for _ in range((1 << 20) // (size + 200))]
    before = listing(Path(config.dashboard.data_dir))
    with pytest.raises(UploadRejected, match="uploads_max_total_mb"):
        upload(clip, config)
    assert listing(Path(config.dashboard.data_dir)) == before and all(k.folder.is_dir() for k in kept)
