"""Session files (tracks, videos, reports) next to the database, and the journal that keeps them and
the database in step when a process dies half-way.

Layout under the data folder::

    patients/<patient_id>/<session_id>/<role><suffix>   the files, referenced by relpath + sha256
    .journal/<op_id>.json                                 one per save/delete in progress (flock-ed)
    .staging/<op_id>/<session_id>/...                     files being written for a save

Save: write and fsync the files in ``.staging``; in one database transaction insert the rows, move
each session folder to its final place, then commit; then drop the journal. Delete: commit the row
deletion, then remove the folders, then drop the journal. A journal whose lock nobody holds belongs to
a dead process; ``recover`` finishes or undoes its operation depending on what the database says
(a session row exists = the save committed). The lock is an ``flock`` on the journal file, released
by the kernel even on SIGKILL, so a save still running in another process is never touched.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from store.errors import StoreError

CHUNK = 1 << 20


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

    def patient_dir(self, patient_id: str) -> Path:
        return self.patients / patient_id

    def session_dir(self, patient_id: str, session_id: str) -> Path:
        return self.patients / patient_id / session_id

    def relpath(self, patient_id: str, session_id: str, name: str) -> str:
        return f"patients/{patient_id}/{session_id}/{name}"

    def ensure(self) -> None:
        for d in (self.patients, self.journal, self.staging):
            d.mkdir(parents=True, exist_ok=True)


class Journal:
    """One operation's journal entry, created already locked (temp file, flock, rename into place)."""

    def __init__(self, layout: Layout, op: str, patient_id: str, session_ids: Iterable[str]) -> None:
        self.layout = layout
        self.op_id = uuid.uuid4().hex
        self.entry = {"op": op, "patient_id": patient_id, "session_ids": list(session_ids)}
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


def _orphan_journals(layout: Layout) -> Iterator[tuple[Path, dict]]:
    """Journal entries whose owner is dead, each yielded while we hold its lock."""
    if not layout.journal.is_dir():
        return
    for path in sorted(layout.journal.glob("*.json")):
        try:
            fh = open(path, "r+", encoding="utf-8")
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
                entry = json.loads(fh.read() or "{}")
            except (FileNotFoundError, json.JSONDecodeError):
                continue
            yield path, entry


def recover(layout: Layout, session_exists: Callable[[str], bool], patient_exists: Callable[[str], bool]) -> int:
    """Finish or undo every operation a dead process left half-done; returns how many."""
    layout.ensure()
    n = 0
    for path, entry in _orphan_journals(layout):
        pid, sids = str(entry.get("patient_id", "")), [str(s) for s in entry.get("session_ids", [])]
        op = entry.get("op")
        if op == "save" and sids and not session_exists(sids[0]):
            for sid in sids:                  # never committed: remove whatever reached the final place
                remove_tree(layout.session_dir(pid, sid))
            if pid and not patient_exists(pid):
                remove_tree(layout.patient_dir(pid))
        elif op == "delete_patient" and pid and not patient_exists(pid):
            remove_tree(layout.patient_dir(pid))
        elif op == "delete_sessions":
            for sid in sids:
                if not session_exists(sid):
                    remove_tree(layout.session_dir(pid, sid))
        shutil.rmtree(layout.staging / path.stem, ignore_errors=True)
        path.unlink(missing_ok=True)
        n += 1
    # leftovers of interrupted removals and stray temp files
    for d in (layout.patients, *[p for p in layout.patients.iterdir() if p.is_dir()]):
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
