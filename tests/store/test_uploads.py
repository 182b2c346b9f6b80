"""Uploads' lifetime in the store (issue #11 item 4), on SQLite and PostgreSQL: an upload stays while a
saved session refers to it, goes with its session or patient (also when the deleting process is
killed half-way), and unsaved uploads go after the retention. Upload folders are built here the way
dashboard/uploads.py lays them out; tests/dashboard/test_upload_lifetime.py runs the real review."""

from __future__ import annotations

import os
import time
from pathlib import Path

from store import Store, save_assessment
from store.files import Layout
from store.paths import new_id
from store.uploads import list_uploads, purge_uploads, upload_id_of
from tests.store import documents as docs
from tests.store.test_crash_and_concurrency import kill, run_until_paused

HOUR = 3600.0


def make_upload(root: Path, age_h: float = 0.0) -> tuple[str, Path]:
    """``<root>/uploads/<id>/`` with a video, an annotated video and key frames; folder ``age_h`` old."""
    uid = new_id()
    folder = root / "uploads" / uid
    (folder / "keyframes").mkdir(parents=True)
    (folder / "video.mp4").write_bytes(b"v" * 1000 + uid.encode())
    (folder / "annotated.mp4").write_bytes(b"a" * 2000)
    (folder / "keyframes" / "frame_000003.jpg").write_bytes(b"j" * 300)
    (folder / "upload.json").write_text("{}")
    if age_h:
        t = time.time() - age_h * HOUR
        os.utime(folder, (t, t))
    return uid, folder / "video.mp4"


def save_from(store: Store, pid: str, video: Path, tmp: Path) -> str:
    """A session saved from an upload, as the review page saves it: the report's source is the video."""
    report = docs.report(8.0)
    report["track"]["meta"]["source"] = str(video)
    return save_assessment(store, pid, report, {"video": video, "track": docs.some_files(tmp, new_id()[:6])["track"]})


def listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.name.startswith("isobalance.db")}


def test_a_session_refers_to_its_upload_and_deleting_it_removes_the_upload(store, tmp_path):
    pid = store.add_patient("P")
    u1, v1 = make_upload(store.root)
    u2, v2 = make_upload(store.root)
    s1 = save_from(store, pid, v1, tmp_path)
    s2 = save_from(store, pid, v2, tmp_path)
    s3 = save_from(store, pid, v2, tmp_path)            # two sessions from the same upload
    assert upload_id_of(store.layout, store.session(s1)["source"]) == u1
    assert store.referenced_uploads() == {u1, u2}
    store.delete_session(s1)
    assert not (store.root / "uploads" / u1).exists()   # video, annotated video, key frames: all gone
    assert (store.root / "uploads" / u2 / "keyframes" / "frame_000003.jpg").is_file()
    store.delete_session(s2)
    assert (store.root / "uploads" / u2).is_dir()       # still the source of s3
    store.delete_session(s3)
    assert not (store.root / "uploads" / u2).exists() and store.referenced_uploads() == set()


def test_unsaved_uploads_go_after_the_retention_saved_ones_stay(store, tmp_path):
    pid = store.add_patient("P")
    old_saved, video = make_upload(store.root, age_h=100)
    save_from(store, pid, video, tmp_path)
    os.utime(video.parent, (time.time() - 100 * HOUR,) * 2)
    old, _ = make_upload(store.root, age_h=25)
    young, _ = make_upload(store.root, age_h=1)
    (store.root / "uploads" / "not-an-upload").mkdir()   # not ours: never touched
    gone = purge_uploads(store.layout.uploads, store.referenced_uploads(), 24 * HOUR)
    assert [u.id for u in gone] == [old] and gone[0].size_bytes == 1000 + 32 + 2000 + 300 + 2
    left = {u.id: u for u in list_uploads(store.layout.uploads, store.referenced_uploads())}
    assert set(left) == {old_saved, young} and left[old_saved].referenced and not left[young].referenced
    assert (store.root / "uploads" / "not-an-upload").is_dir()
    assert [u.id for u in purge_uploads(store.layout.uploads, store.referenced_uploads(), dry_run=True)] == [young]
    assert (store.root / "uploads" / young).is_dir()
    purge_uploads(store.layout.uploads, store.referenced_uploads())        # 'isobalance data purge'
    assert {u.id for u in list_uploads(store.layout.uploads, ())} == {old_saved}


def test_deleting_a_patient_leaves_nothing_of_theirs(store, tmp_path):
    other = store.add_patient("Other")
    _, ov = make_upload(store.root)
    save_from(store, other, ov, tmp_path / "o")
    before = listing(store.root)
    pid = store.add_patient("Gone")
    uploads = [make_upload(store.root) for _ in range(2)]
    for _uid, video in uploads:
        save_from(store, pid, video, tmp_path / "g")
    assert listing(store.root) != before
    store.delete_patient(pid)
    assert listing(store.root) == before                 # data folder listed before and after: nothing left
    assert not any(pid in p or any(u in p for u, _ in uploads) for p in listing(store.root))
    assert store.verify_files() == []


def test_kill_after_a_delete_commits_still_removes_the_uploads(store_url, data_dir, tmp_path):
    with Store.open(store_url, data_dir) as store:
        pid = store.add_patient("Gone")
        uid, video = make_upload(store.root)
        save_from(store, pid, video, tmp_path)
    proc = run_until_paused(["delete", store_url, str(data_dir), pid], "delete_committed", tmp_path / "paused")
    assert (data_dir / "uploads" / uid).is_dir()                   # rows gone, files not yet
    kill(proc)
    with Store.open(store_url, data_dir):
        assert not (data_dir / "uploads" / uid).exists() and not (data_dir / "patients" / pid).exists()


def test_sessions_not_made_from_an_upload_refer_to_none(tmp_path):
    layout = Layout(tmp_path)
    for source in ("", "webcam:0", "/elsewhere/uploads/" + "a" * 32 + "/video.mp4", str(tmp_path / "uploads"),
                   str(tmp_path / "uploads" / "../patients/x"), str(tmp_path / "uploads" / ("A" * 32) / "v.mp4")):
        assert upload_id_of(layout, source) is None
    assert upload_id_of(layout, str(tmp_path / "uploads" / ("a" * 32) / "video.mp4")) == "a" * 32
