"""Session files (tracks, videos, reports) next to the database, and the journal that keeps them and
the database in step when a process dies half-way.

Layout under the data folder::

    patients/<patient_id>/<session_id>/<role><suffix>   the files, referenced by relpath + sha256
    uploads/<upload_id>/...                               dashboard uploads (store/uploads.py)
    .journal/<op_id>.json                                 one per save/delete in progress (flock-ed)
    .journal/quarantine/<op_id>.json                      entries recovery could not replay
    .staging/<op_id>/<session_id>/...                     files being written for a save

Every path below the data folder is built by ``Layout`` from generated ids through
``store.paths.inside``, so no id, even one read back from a damaged journal, can point elsewhere.

Save: write and fsync the files in ``.staging``; in one database transaction insert the rows, move
each session folder to its final place, then commit; then drop the journal. Delete: commit the row
deletion, then remove the folders, then drop the journal. A journal whose lock nobody holds belongs to
a dead process; ``recover`` finishes or undoes its operation depending on what the database says
(a session row exists = the save committed). The lock is an ``flock`` on the journal file, released
by the kernel even on SIGKILL, so a save still running in another process is never touched. An entry
recovery cannot replay (unreadable, ids that are not ids, a file system error) is moved to the
quarantine folder with a warning, so one bad entry never keeps the store from opening.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from store.errors import StoreError
from store.paths import check_id, inside, is_id

CHUNK = 1 << 20
OPS = ("save", "delete_sessions", "delete_patient")
log = logging.getLogger("isobalance.store")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_synced(src: Path, dst: Path) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` and fsync it; returns (sha256, size) of what was written."""
    h = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return h.hexdigest(), size


def write_synced(dst: Path, data: bytes) -> tuple[str, int]:
    with open(dst, "xb") as fout:
        fout.write(data)
        fout.flush()
        os.fsync(fout.fileno())
    return hashlib.sha256(data).hexdigest(), len(data)


def safe_name(role: str, source: Path) -> str:
    """File name inside a session folder: the role plus the source's suffixes (``track.csv``)."""
    if not role or not all(c.isalnum() or c in "_-" for c in role):
        raise StoreError(f"file role {role!r} must be letters, digits, '_' or '-'")
    suffix = "".join(source.suffixes[-2:]) if source.suffixes else ""
    return role + suffix.lower()


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def patients(self) -> Path:
        return self.root / "patients"

    @property
    def journal(self) -> Path:
        return self.root / ".journal"

    @property
    def staging(self) -> Path:
        return self.root / ".staging"

    @property
    def quarantine(self) -> Path:
        return self.journal / "quarantine"

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    def patient_dir(self, patient_id: str) -> Path:
        return inside(self.root, "patients", check_id(patient_id, "patient id"))

    def session_dir(self, patient_id: str, session_id: str) -> Path:
        return inside(self.root, "patients", check_id(patient_id, "patient id"), check_id(session_id, "session id"))

    def upload_dir(self, upload_id: str) -> Path:
        return inside(self.root, "uploads", check_id(upload_id, "upload id"))

    def relpath(self, patient_id: str, session_id: str, name: str) -> str:
        return self.session_dir(patient_id, session_id).joinpath(name).relative_to(self.root).as_posix()

    def file_path(self, relpath: str) -> Path:
        """The stored file a ``relpath`` column names, checked to be inside the data folder."""
        return inside(self.root, *relpath.split("/"))

    def ensure(self) -> None:
        for d in (self.patients, self.journal, self.staging):
            d.mkdir(parents=True, exist_ok=True)


class Journal:
    """One operation's journal entry, created already locked (temp file, flock, rename into place)."""

    def __init__(self, layout: Layout, op: str, patient_id: str, session_ids: Iterable[str],
                 upload_ids: Iterable[str] = ()) -> None:
        self.layout = layout
        self.op_id = uuid.uuid4().hex
        self.entry = {"op": op, "patient_id": check_id(patient_id, "patient id"),
                      "session_ids": [check_id(s, "session id") for s in session_ids],
                      "upload_ids": [check_id(u, "upload id") for u in upload_ids]}
        self.path = layout.journal / f"{self.op_id}.json"
        self.staging = layout.staging / self.op_id
        self._fh = None

    def __enter__(self) -> "Journal":
        tmp = self.path.with_suffix(".tmp")
        fh = open(tmp, "x+", encoding="utf-8")
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(json.dumps(self.entry))
        fh.flush()
        os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        fsync_dir(self.layout.journal)
        self._fh = fh
        return self

    def done(self) -> None:
        """The operation is complete (or fully undone): forget it."""
        shutil.rmtree(self.staging, ignore_errors=True)
        self.path.unlink(missing_ok=True)

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            self._fh.close()   # releases the lock; a journal left behind is handled by recover()
            self._fh = None


def move_into_place(staged: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        raise StoreError(f"session folder {final} already exists")
    os.rename(staged, final)
    fsync_dir(final.parent)


def remove_tree(path: Path) -> None:
    """Remove a folder for good (renamed aside first, so a half-removed folder is never left in place)."""
    if not path.exists():
        return
    aside = path.with_name(f".{path.name}.removing-{uuid.uuid4().hex[:8]}")
    os.rename(path, aside)
    shutil.rmtree(aside, ignore_errors=True)


def _orphan_journals(layout: Layout) -> Iterator[tuple[Path, str]]:
    """Journal entries (path, text) whose owner is dead, each yielded while we hold its lock."""
    if not layout.journal.is_dir():
        return
    for path in sorted(layout.journal.glob("*.json")):
        try:
            fh = open(path, "r+", encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue                      # a live process owns it
            try:
                if os.fstat(fh.fileno()).st_ino != os.stat(path).st_ino:
                    continue                  # another recoverer finished it meanwhile
                text = fh.read()
            except FileNotFoundError:
                continue
            yield path, text


def _journal_entry(text: str) -> tuple[str, str, list[str], list[str]]:
    """(op, patient id, session ids, upload ids) of a journal entry; ``ValueError`` when it is not one."""
    entry = json.loads(text)
    if not isinstance(entry, dict) or entry.get("op") not in OPS:
        raise ValueError("not an isobalance journal entry")
    sids, uids = entry.get("session_ids", []), entry.get("upload_ids", [])
    if not (isinstance(sids, list) and isinstance(uids, list)
            and all(map(is_id, [entry.get("patient_id"), *sids, *uids]))):
        raise ValueError("its ids are not ids")
    return entry["op"], entry["patient_id"], sids, uids


def _replay(layout: Layout, text: str, session_exists: Callable[[str], bool],
            patient_exists: Callable[[str], bool], upload_referenced: Callable[[str], bool]) -> None:
    op, pid, sids, uids = _journal_entry(text)
    if op == "save" and sids and not session_exists(sids[0]):
        for sid in sids:                      # never committed: remove whatever reached the final place
            remove_tree(layout.session_dir(pid, sid))
        if not patient_exists(pid):
            remove_tree(layout.patient_dir(pid))
    elif op == "delete_patient" and not patient_exists(pid):
        remove_tree(layout.patient_dir(pid))
    elif op == "delete_sessions":
        for sid in sids:
            if not session_exists(sid):
                remove_tree(layout.session_dir(pid, sid))
    deleted = ((op == "delete_sessions" and not any(map(session_exists, sids)))
               or (op == "delete_patient" and not patient_exists(pid)))
    for uid in uids if deleted else ():       # the deletion committed: its uploads go too
        if not upload_referenced(uid):
            remove_tree(layout.upload_dir(uid))


def _quarantine(layout: Layout, path: Path, why: BaseException) -> None:
    layout.quarantine.mkdir(parents=True, exist_ok=True)
    target = layout.quarantine / path.name
    os.replace(path, target)
    log.warning("isobalance store: journal entry %s could not be replayed (%s: %s); moved to %s. The store "
                "opened without it; check that folder's files by hand.", path.name, type(why).__name__,
                str(why)[:200], target)


def recover(layout: Layout, session_exists: Callable[[str], bool], patient_exists: Callable[[str], bool],
            upload_referenced: Callable[[str], bool] = lambda _uid: True) -> int:
    """Finish or undo every operation a dead process left half-done; returns how many. An entry that
    cannot be replayed is quarantined (with a warning) instead of stopping the store from opening."""
    layout.ensure()
    n = 0
    for path, text in _orphan_journals(layout):
        try:
            _replay(layout, text, session_exists, patient_exists, upload_referenced)
        except (ValueError, TypeError, OSError, StoreError) as exc:
            _quarantine(layout, path, exc)
        else:
            path.unlink(missing_ok=True)
        shutil.rmtree(layout.staging / path.stem, ignore_errors=True)
        n += 1
    # leftovers of interrupted removals and stray temp files
    for d in (layout.patients, layout.uploads, *[p for p in layout.patients.iterdir() if p.is_dir()]):
        for aside in d.glob(".*.removing-*"):
            shutil.rmtree(aside, ignore_errors=True)
    for staged in layout.staging.iterdir():
        # a journal is created before its staging folder and removed after it, so a staging folder
        # without a journal at this moment belongs to no operation, live or dead
        if not (layout.journal / f"{staged.name}.json").exists():
            shutil.rmtree(staged, ignore_errors=True)
    for tmp in layout.journal.glob("*.tmp"):
        try:
            with open(tmp, "r+") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                tmp.unlink(missing_ok=True)
        except (BlockingIOError, FileNotFoundError):
            pass
    return n
