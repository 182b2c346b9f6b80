"""Nothing lost: real SIGKILLs in the middle of saving or deleting, and several processes writing at once,
on real SQLite and real PostgreSQL. The killed process is paused at a named point inside the save
(store/crashpoints.py) and killed there, so every stage of the protocol is covered deterministically."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from store import Store, save_assessment
from store.db import sqlite_path
from tests.store import documents as docs

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 180.0     # generous upper bound for a worker to reach its pause point on a busy machine


def worker(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.store.worker", *args], cwd=REPO,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def run_until_paused(args: list[str], point: str, marker: Path) -> subprocess.Popen:
    proc = worker(*args, env={"ISOBALANCE_STORE_PAUSE_AT": point, "ISOBALANCE_STORE_PAUSE_FILE": str(marker)})
    deadline = time.monotonic() + WAIT_S
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"worker ended before reaching {point}: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"worker did not reach {point}")
        time.sleep(0.02)
    return proc


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def session_folders(root: Path) -> set[str]:
    return {p.name for p in (root / "patients").glob("*/*") if p.is_dir()}


def assert_consistent(store: Store) -> None:
    """Rows and files agree: every file present with its sha256, no folder without a session, no leftovers."""
    assert store.verify_files() == []
    assert session_folders(store.root) == {s["id"] for s in store.sessions()}
    assert list((store.root / ".journal").iterdir()) == []
    assert list((store.root / ".staging").iterdir()) == []
    db = sqlite_path(store.url)
    if db is not None:
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def earlier_sessions(store: Store, tmp_path: Path) -> tuple[str, dict]:
    pid = store.add_patient("P")
    for i in range(2):
        save_assessment(store, pid, docs.report(8.0), docs.some_files(tmp_path / f"early{i}", f"early{i}"))
    return pid, {s["id"]: store.session(s["id"]) for s in store.sessions(pid)}


@pytest.mark.parametrize("point", ["files_staged", "rows_flushed", "files_moved", "committed"])
def test_kill_during_a_save_leaves_all_or_nothing_and_earlier_sessions_intact(point, store_url, data_dir, tmp_path):
    with Store.open(store_url, data_dir) as store:
        pid, before = earlier_sessions(store, tmp_path)
        rows_before = store.count_rows()
    proc = run_until_paused(["save", store_url, str(data_dir), pid, "1", "killed"], point, tmp_path / "paused")
    assert list((data_dir / ".journal").glob("*.json"))          # really killed mid-operation
    kill(proc)

    with Store.open(store_url, data_dir) as store:                   # reopening recovers
        after = {s["id"]: s for s in store.sessions(pid)}
        for sid, full in before.items():                             # earlier sessions untouched
            assert store.session(sid) == full
        if point == "committed":                                     # committed = complete, files and all
            (new,) = set(after) - set(before)
            assert {f["role"] for f in after[new]["files"]} == {"track", "video"}
            assert store.session(new)["notes"] == "killed-0"
        else:                                                        # not committed = not there at all
            assert set(after) == set(before)
            assert store.count_rows() == rows_before
        assert_consistent(store)


def test_recovery_never_touches_a_save_still_running_elsewhere(store_url, data_dir, tmp_path):
    with Store.open(store_url, data_dir) as store:
        pid, before = earlier_sessions(store, tmp_path)
    proc = run_until_paused(["save", store_url, str(data_dir), pid, "1", "live"], "files_moved", tmp_path / "paused")
    try:
        moved = session_folders(data_dir) - set(before)
        assert len(moved) == 1                                       # in place, not yet committed
        with Store.open(store_url, data_dir) as store:               # another user opens meanwhile
            assert store.recover() == 0
            assert session_folders(data_dir) - set(before) == moved  # the live save's files are left alone
    finally:
        kill(proc)
    with Store.open(store_url, data_dir) as store:
        assert set(s["id"] for s in store.sessions(pid)) == set(before)
        assert_consistent(store)


def test_kill_after_a_delete_commits_still_removes_the_files(store_url, data_dir, tmp_path):
    with Store.open(store_url, data_dir) as store:
        keep, _ = earlier_sessions(store, tmp_path / "k")
        gone, _ = earlier_sessions(store, tmp_path / "g")
    proc = run_until_paused(["delete", store_url, str(data_dir), gone], "delete_committed", tmp_path / "paused")
    assert (data_dir / "patients" / gone).is_dir()                  # rows gone, files not yet
    kill(proc)
    with Store.open(store_url, data_dir) as store:
        assert not (data_dir / "patients" / gone).exists()
        assert all(v == 0 for v in store.count_rows(gone).values())
        assert len(store.sessions(keep)) == 2
        assert_consistent(store)


def test_two_processes_saving_at_once_both_keep_everything(store_url, data_dir, tmp_path):
    n = 4
    with Store.open(store_url, data_dir) as store:
        pid = store.add_patient("Shared")
    go = tmp_path / "go"
    procs = [worker("save", store_url, str(data_dir), pid, str(n), tag, str(go)) for tag in ("u1", "u2")]
    time.sleep(0.5)    # let both import and compute their report; correctness does not depend on it
    go.touch()
    outputs = [p.communicate(timeout=WAIT_S) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
    saved = [line for out, _ in outputs for line in out.split()]
    assert len(saved) == len(set(saved)) == 2 * n
    n_findings = len(docs.report(8.0)["findings"])
    with Store.open(store_url, data_dir) as store:
        sessions = store.sessions(pid)
        assert sorted(s["id"] for s in sessions) == sorted(saved)
        assert sorted(s["notes"] for s in sessions) == sorted(f"{t}-{i}" for t in ("u1", "u2") for i in range(n))
        assert store.count_rows(pid)["findings"] == 2 * n * n_findings
        for s in sessions:                         # each session has its own worker's files, intact
            tag = s["notes"]
            video = next(f for f in s["files"] if f["role"] == "video")
            assert Path(video["path"]).read_bytes().endswith(tag.encode())
        assert_consistent(store)


def test_processes_opening_a_fresh_database_at_once_migrate_it_once(store_url, data_dir, tmp_path):
    go = tmp_path / "go"
    procs = [worker("open", store_url, str(data_dir), f"P{i}", str(go)) for i in range(3)]
    time.sleep(0.5)
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=WAIT_S)
        assert p.returncode == 0, err
    with Store.open(store_url, data_dir) as store:
        assert sorted(p["display_name"] for p in store.patients()) == ["P0", "P1", "P2"]


def test_two_dashboard_sessions_sharing_one_store_save_at_once(store, tmp_path):
    """Streamlit serves each browser session in its own thread of one server process, sharing the
    cached Store: three threads save at once through it."""
    import threading

    pid = store.add_patient("Shared")
    report = docs.report(8.0)
    errors: list[str] = []
    start = threading.Barrier(3)

    def user(tag: str) -> None:
        try:
            start.wait()
            for i in range(3):
                save_assessment(store, pid, report, docs.some_files(tmp_path / tag / str(i), f"{tag}-{i}"),
                                notes=f"{tag}-{i}")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))

    threads = [threading.Thread(target=user, args=(t,)) for t in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    sessions = store.sessions(pid)
    assert sorted(s["notes"] for s in sessions) == sorted(f"{t}-{i}" for t in "abc" for i in range(3))
    for s in sessions:
        video = next(f for f in s["files"] if f["role"] == "video")
        assert Path(video["path"]).read_bytes().endswith(s["notes"].encode())
    assert_consistent(store)
