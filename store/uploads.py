"""How long dashboard uploads live: while a saved session refers to them, else for a retention time.

The review page keeps each upload in ``<data>/uploads/<id>/`` (dashboard/uploads.py): the uploaded
video and everything computed from it (annotated video, key frames, track, reports). A session saved
from a review records the uploaded video's path as its ``source``; that is the reference, so no extra
table is needed (``upload_id_of``). Deleting the session or its patient deletes the upload
(``Store.delete_session`` / ``delete_patient``); an upload no session refers to is removed once it is
older than the retention (``purge_uploads``: run by the dashboard before each new upload, by
``isobalance data purge`` and by the history page's button). An upload's age is the time since its
folder last changed (a file added or removed), so a review in progress is never "old".
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from store.files import Layout, remove_tree
from store.paths import inside, is_id


@dataclass(frozen=True)
class UploadInfo:
    id: str
    folder: Path
    size_bytes: int
    age_s: float
    referenced: bool


def upload_id_of(layout: Layout, source: str) -> str | None:
    """The upload id in a session's ``source`` (``<data>/uploads/<id>/video.mp4``), else None."""
    try:
        parts = Path(source).relative_to(layout.uploads).parts
    except (ValueError, TypeError):
        return None
    return parts[0] if len(parts) >= 2 and is_id(parts[0]) else None


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder`` (symlinks not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass                          # removed meanwhile
    return total


def list_uploads(uploads: Path, referenced: Iterable[str], now: float | None = None) -> list[UploadInfo]:
    """Every upload folder, oldest first. Entries whose name is not an upload id are not ours: left alone."""
    now = time.time() if now is None else now
    refs = set(referenced)
    out = []
    if not uploads.is_dir():
        return out
    for entry in os.scandir(uploads):
        if not is_id(entry.name) or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        folder = inside(uploads, entry.name)
        out.append(UploadInfo(entry.name, folder, folder_bytes(folder), age, entry.name in refs))
    return sorted(out, key=lambda u: (-u.age_s, u.id))


def purge_uploads(uploads: Path, referenced: Iterable[str], older_than_s: float = 0.0, *,
                  dry_run: bool = False, now: float | None = None) -> list[UploadInfo]:
    """Remove every upload no saved session refers to and older than ``older_than_s``; returns them."""
    gone = [u for u in list_uploads(uploads, referenced, now) if not u.referenced and u.age_s >= older_than_s]
    if not dry_run:
        for u in gone:
            remove_tree(u.folder)
    return gone
