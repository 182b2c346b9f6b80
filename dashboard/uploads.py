"""Uploaded videos: checked, then kept on this machine under generated names in the data folder.

Every upload gets its own folder ``<data_dir>/uploads/<uuid hex>/`` holding ``video<suffix>`` plus
everything computed from it (track, report, annotated video, key frames). The uploaded file name is
only ever *displayed* (and recorded in ``upload.json``); it never becomes part of a path, so a name
like ``../../etc/passwd.mp4`` cannot write or read anywhere else. ``upload_folder`` is the only way
back from an id to a folder and it accepts nothing but a generated id, which keeps every file the
page reads inside the uploads folder (``store.paths``: the same id rule and path check as the store).

Lifetime (store/uploads.py): an upload stays while a saved session refers to it and goes with that
session or its patient; an upload nobody saved is removed after ``dashboard.upload_retention_hours``
(checked before each new upload, by ``isobalance data purge`` and by the history page's button), and
all uploads together may not exceed ``dashboard.uploads_max_total_mb``: a new upload beyond it is refused.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from isobalance.config import Config
from isobalance.paths import data_dir
from store.paths import inside, is_id, new_id
from store.uploads import list_uploads, purge_uploads
from vision.errors import IsobalanceError, SourceError

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm")
UPLOAD_META = "upload.json"
MB = 1024 * 1024


class UploadRejected(IsobalanceError):
    """An uploaded file is not accepted (type, size, or it does not decode as a video)."""


@dataclass(frozen=True)
class SavedUpload:
    id: str                # uuid hex: the folder name
    folder: Path           # <uploads>/<id>/
    video: Path            # <folder>/video<suffix>
    original_name: str     # for display only
    size_bytes: int

    def to_dict(self) -> dict:
        return {"id": self.id, "original_name": self.original_name, "size_bytes": self.size_bytes,
                "video": self.video.name}


def uploads_dir(config: Config) -> Path:
    """``<data_dir>/uploads`` (created on first use)."""
    path = data_dir(config.dashboard.data_dir) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def display_name(name: str, limit: int = 80) -> str:
    """The uploaded name made safe to show: base name only, no control characters, shortened."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip() or "unnamed file"
    return base if len(base) <= limit else base[: limit - 1] + "…"


def check_name_and_size(name: str, size_bytes: int, config: Config) -> str:
    """The accepted suffix of ``name``; raise ``UploadRejected`` for a wrong type or a file too large."""
    shown = display_name(name)
    suffix = Path(shown).suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        kind = f"'{suffix}' files are" if suffix else "files without an extension are"
        raise UploadRejected(f"{shown}: {kind} not accepted; upload a video "
                             f"({', '.join(s.lstrip('.').upper() for s in VIDEO_SUFFIXES)}).")
    limit_mb = config.dashboard.max_upload_mb
    if size_bytes > limit_mb * MB:
        raise UploadRejected(f"{shown} is {size_bytes / MB:.1f} MB, over the {limit_mb} MB upload limit "
                             f"(setting dashboard.max_upload_mb); trim or compress the video and upload it again.")
    if size_bytes <= 0:
        raise UploadRejected(f"{shown} is empty (0 bytes).")
    return suffix


def make_room(config: Config, incoming_bytes: int, store=None) -> None:
    """Before keeping a new upload: remove the uploads no saved session refers to that are older than
    the retention (only with ``store``: it knows which are referenced), then refuse the new one if all
    uploads together would exceed ``dashboard.uploads_max_total_mb``."""
    folder = uploads_dir(config)
    if store is not None:
        purge_uploads(folder, store.referenced_uploads(), config.dashboard.upload_retention_hours * 3600)
    used = sum(u.size_bytes for u in list_uploads(folder, ()))
    cap_mb = config.dashboard.uploads_max_total_mb
    if used + incoming_bytes > cap_mb * MB:
        raise UploadRejected(f"The uploads kept on this machine already take {used / MB:.0f} MB of the {cap_mb} MB "
                             f"allowed (setting dashboard.uploads_max_total_mb). Delete sessions you no longer "
                             f"need in History, or remove unsaved uploads there, then upload again.")


def save_upload(name: str, stream: BinaryIO, size_bytes: int, config: Config, store=None) -> SavedUpload:
    """Check an uploaded file and keep it under a generated name; raise ``UploadRejected`` (and keep
    nothing) when it has the wrong type, is too large, does not fit under the uploads' total cap, or
    does not decode as a video. ``store`` (optional) lets expired unsaved uploads be removed first."""
    from vision.sources import open_source

    suffix = check_name_and_size(name, size_bytes, config)
    make_room(config, size_bytes, store)
    upload_id = new_id()
    folder = inside(uploads_dir(config), upload_id)
    folder.mkdir()
    video = folder / f"video{suffix}"
    shown = display_name(name)
    try:
        partial = folder / f".video{suffix}.partial"
        with open(partial, "xb") as fh:
            copied = _copy_limited(stream, fh, config.dashboard.max_upload_mb * MB)
        if copied is None:
            raise UploadRejected(f"{shown} is larger than the {config.dashboard.max_upload_mb} MB upload limit "
                                 f"(setting dashboard.max_upload_mb).")
        partial.replace(video)
        try:
            with open_source(video) as src:
                if src.info.kind != "video":
                    raise SourceError("not a video")
        except SourceError:
            raise UploadRejected(f"{shown} is not a readable video: it could not be decoded. Check that it "
                                 f"plays in a video player, or export it again as MP4 (H.264).") from None
        meta = {**SavedUpload(upload_id, folder, video, shown, copied).to_dict(),
                "uploaded_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        (folder / UPLOAD_META).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return SavedUpload(upload_id, folder, video, shown, copied)


def _copy_limited(src: BinaryIO, dst: BinaryIO, limit: int, chunk: int = MB) -> int | None:
    """Copy at most ``limit`` bytes; None if the stream holds more (its announced size was wrong)."""
    if hasattr(src, "seek"):
        src.seek(0)
    total = 0
    while block := src.read(chunk):
        total += len(block)
        if total > limit:
            return None
        dst.write(block)
    return total


def upload_folder(config: Config, upload_id: str) -> Path:
    """The folder of a saved upload. Only a generated id is accepted, so no value (even one tampered
    with in the session) can point the page at a file outside the uploads folder."""
    if not is_id(upload_id):
        raise UploadRejected("this is not an upload id.")
    folder = inside(uploads_dir(config), upload_id)
    if not folder.is_dir():
        raise UploadRejected("this upload is no longer on this machine (its folder was removed).")
    return folder


def load_upload(config: Config, upload_id: str) -> SavedUpload:
    """A saved upload back from its id (reads ``upload.json``)."""
    folder = upload_folder(config, upload_id)
    try:
        meta = json.loads((folder / UPLOAD_META).read_text(encoding="utf-8"))
        video = folder / Path(meta["video"]).name
        return SavedUpload(upload_id, folder, video, display_name(meta["original_name"]), int(meta["size_bytes"]))
    except (OSError, ValueError, KeyError, TypeError):
        raise UploadRejected("this upload's record is missing or damaged; upload the video again.") from None


def inside(folder: Path, name: str) -> Path:
    """``folder/name`` for a plain file name only (no separators, no ``..``)."""
    if not name or name != Path(name).name or name in (".", ".."):
        raise UploadRejected(f"{name!r} is not a file name inside the upload folder.")
    return folder / name
