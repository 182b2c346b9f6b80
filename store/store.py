"""``Store``: patients, sessions and their files, in one database plus one data folder.

``Store.open(url, data_dir)`` opens (and migrates) the database: the URL given, else
``$ISOBALANCE_DATABASE_URL``, else SQLite at ``<data_dir>/isobalance.db``. The caller names the data
folder (the CLI and the dashboard through ``isobalance.paths.open_store``, which also puts the
configuration's ``[store] database_url`` into ``resolve_url``'s order); the store never looks one up.
Files live under the data folder (store/files.py explains the layout and why a killed process never
leaves half a session), every path checked to stay inside it (store/paths.py). Use one data folder per
database. Reads return plain dicts (``session_dict``), so callers never hold database objects past a
transaction. Deleting a session or a patient also removes the dashboard uploads those sessions were
made from (store/uploads.py).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import selectinload, sessionmaker

from store import crashpoints
from store.db import Engines, check_reachable, create_engines, env_url, migrate
from store.documents import SessionFields, check_patient, check_utc, utc_now
from store.errors import AmbiguousIdError, ConflictError, NotFoundError, StoreError
from store.files import Journal, Layout, copy_synced, fsync_dir, move_into_place, recover, remove_tree, safe_name
from store.models import Hold, Patient, Session, StoredFile
from store.paths import ID_PREFIX, check_id, new_id, shown
from store.uploads import upload_id_of


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'isobalance.db'}"


def resolve_url(url: str | None, data_dir: Path, configured: str = "") -> str:
    """Which database, first that is set: ``url`` (a ``--db`` flag), ``configured`` (config ``[store]
    database_url``), ``$ISOBALANCE_DATABASE_URL``, else SQLite in ``data_dir``."""
    return url or configured or env_url() or default_url(data_dir)


@dataclass
class NewSession:
    """One session to save: its fields, the files to copy in (role -> path), optional fixed ids/time
    (import keeps the exported ones)."""

    fields: SessionFields
    files: dict[str, Path] = field(default_factory=dict)
    session_id: str | None = None
    saved_utc: str | None = None
    expected_sha256: dict[str, str] = field(default_factory=dict)   # role -> sha256 the copy must have


class Store:
    def __init__(self, engines: Engines, layout: Layout, url: str) -> None:
        self.engines = engines
        self.layout = layout
        self.url = url
        self._read = sessionmaker(engines.read, expire_on_commit=False)
        self._write = sessionmaker(engines.write, expire_on_commit=False)

    # ------------------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, url: str | None, data_dir: str | Path, *, migrate_to: str = "head") -> "Store":
        """Open the store whose files live in ``data_dir``, bring its schema up to date and clean up
        after any process that died while saving or deleting."""
        if not data_dir or "\0" in str(data_dir):
            raise StoreError("the store needs a data folder")
        root = Path(data_dir).expanduser().resolve()
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"the data folder {root} cannot be created: {exc.strerror or exc}") from None
        url = resolve_url(url, root)
        engines = create_engines(url)
        try:
            check_reachable(engines)
            migrate(engines, migrate_to)
            store = cls(engines, Layout(root), url)
            store.recover()
        except BaseException:
            engines.dispose()
            raise
        return store

    def close(self) -> None:
        self.engines.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def root(self) -> Path:
        return self.layout.root

    def recover(self) -> int:
        """Finish or undo saves/deletes left half-done by dead processes; returns how many."""
        return recover(self.layout, self._session_exists, self._patient_exists,
                       lambda uid: uid in self.referenced_uploads())

    @contextmanager
    def reading(self) -> Iterator[OrmSession]:
        with self._read() as s:
            yield s

    @contextmanager
    def writing(self) -> Iterator[OrmSession]:
        """A write transaction: committed at the end of the block, rolled back on an exception."""
        with self._write() as s, s.begin():
            yield s

    def _session_exists(self, session_id: str) -> bool:
        with self.reading() as s:
            return s.get(Session, session_id) is not None

    def _patient_exists(self, patient_id: str) -> bool:
        with self.reading() as s:
            return s.get(Patient, patient_id) is not None

    # ------------------------------------------------------------------------------ patients
    def add_patient(self, display_name: str, notes: str = "", *, patient_id: str | None = None,
                    created_utc: str | None = None) -> str:
        """A new patient; ``display_name`` can be a pseudonym. Returns the patient id."""
        name, notes = check_patient(display_name, notes)
        pid = check_id(patient_id, "patient id") if patient_id is not None else new_id()
        with self.writing() as s:
            if s.get(Patient, pid) is not None:
                raise ConflictError(f"patient {pid} is already in the store")
            s.add(Patient(id=pid, display_name=name, notes=notes, created_utc=check_utc(created_utc or utc_now())))
        return pid

    def patients(self) -> list[dict[str, Any]]:
        """Every patient with session count and last session time, newest activity first."""
        with self.reading() as s:
            last = sa.func.max(Session.recorded_utc)
            rows = s.execute(sa.select(Patient, sa.func.count(Session.id), last)
                             .outerjoin(Session, Session.patient_id == Patient.id)
                             .group_by(Patient.id).order_by(Patient.display_name, Patient.id)).all()
        out = [patient_dict(p) | {"n_sessions": n, "last_session_utc": t} for p, n, t in rows]
        return sorted(out, key=lambda d: d["last_session_utc"] or d["created_utc"], reverse=True)

    def patient(self, patient_id: str) -> dict[str, Any]:
        with self.reading() as s:
            p = s.get(Patient, self.resolve_patient(patient_id))
            return patient_dict(p)

    def resolve_patient(self, ref: str) -> str:
        """A full patient id from an id or a unique prefix of one (at least 4 characters)."""
        return self._resolve(Patient, ref, "patient")

    def resolve_session(self, ref: str) -> str:
        return self._resolve(Session, ref, "session")

    def _resolve(self, model: type, ref: str, what: str) -> str:
        ref = ref.strip().lower() if isinstance(ref, str) else ""
        if not ID_PREFIX.fullmatch(ref):        # never let anything but hex reach the query
            raise NotFoundError(f"no {what} with id {shown(ref)}; ids are hexadecimal "
                                "('isobalance sessions list' shows them)")
        with self.reading() as s:
            if ref and s.get(model, ref) is not None:
                return ref
            if len(ref) < 4:
                raise NotFoundError(f"no {what} with id {ref!r} (give the id or at least its first 4 characters)")
            ids = s.scalars(sa.select(model.id).where(model.id.startswith(ref, autoescape=True)).limit(3)).all()
        if not ids:
            raise NotFoundError(f"no {what} with id {ref!r}; 'isobalance sessions list' shows the ids")
        if len(ids) > 1:
            raise AmbiguousIdError(f"{what} id {ref!r} matches several {what}s; give more characters")
        return ids[0]

    # ------------------------------------------------------------------------------ sessions
    def sessions(self, patient_id: str | None = None) -> list[dict[str, Any]]:
        """Sessions (oldest first), each as ``session_dict`` without the full document."""
        with self.reading() as s:
            q = sa.select(Session).options(*_eager()).order_by(Session.recorded_utc, Session.id)
            if patient_id is not None:
                q = q.where(Session.patient_id == self.resolve_patient(patient_id))
            return [session_dict(x, self.layout, with_document=False) for x in s.scalars(q).all()]

    def session(self, session_id: str, with_document: bool = True) -> dict[str, Any]:
        with self.reading() as s:
            x = s.scalars(sa.select(Session).options(*_eager())
                          .where(Session.id == self.resolve_session(session_id))).one()
            return session_dict(x, self.layout, with_document=with_document)

    def save_sessions(self, patient_id: str, new: Sequence[NewSession], *, patient: dict[str, Any] | None = None,
                      extra: Sequence[Any] = ()) -> list[str]:
        """Save sessions atomically: after a crash at any point either all of them (rows and files) are in
        the store or none is. ``patient`` (a ``patient_dict``) creates the patient in the same transaction;
        ``extra`` rows (e.g. an imported record's therapy plans) are added in it after the sessions."""
        if patient is None:
            patient_id = self.resolve_patient(patient_id)
        patient_id = check_id(patient_id, "patient id")
        ids = [check_id(n.session_id, "session id") if n.session_id is not None else new_id() for n in new]
        if len(set(ids)) != len(ids):
            raise ConflictError("the same session id is given twice")
        saved = utc_now()
        self.layout.ensure()
        with Journal(self.layout, "save", patient_id, ids) as journal:
            try:
                staged = self._stage(journal, patient_id, ids, new)
                crashpoints.checkpoint("files_staged")
                with self.writing() as s:
                    if patient is not None:
                        s.add(Patient(id=patient_id, display_name=patient["display_name"], notes=patient["notes"],
                                      created_utc=check_utc(patient["created_utc"])))
                    for sid, n, files in zip(ids, new, staged):
                        row = n.fields.to_row(sid, patient_id, n.saved_utc or saved)
                        row.files = files
                        s.add(row)
                    s.flush()
                    s.add_all(extra)
                    s.flush()
                    crashpoints.checkpoint("rows_flushed")
                    for sid in ids:
                        move_into_place(journal.staging / sid, self.layout.session_dir(patient_id, sid))
                    crashpoints.checkpoint("files_moved")
            except BaseException as exc:
                for sid in ids:    # the transaction rolled back: undo the moves (recover() would, too)
                    if not self._session_exists(sid):
                        remove_tree(self.layout.session_dir(patient_id, sid))
                if patient is not None and not self._patient_exists(patient_id):
                    remove_tree(self.layout.patient_dir(patient_id))
                journal.done()
                if isinstance(exc, sa.exc.IntegrityError):   # another process saved the same ids meanwhile
                    raise ConflictError("a session with one of these ids is already in the store") from None
                raise
            crashpoints.checkpoint("committed")
            journal.done()
        return ids

    def _stage(self, journal: Journal, patient_id: str, ids: list[str], new: Sequence[NewSession]) -> list[list[StoredFile]]:
        out = []
        for sid, n in zip(ids, new):
            folder = journal.staging / sid
            folder.mkdir(parents=True)
            rows = []
            names: set[str] = set()
            for role, src in sorted(n.files.items()):
                src = Path(src)
                if not src.is_file():
                    raise StoreError(f"file for {role!r} not found: {src}")
                name = safe_name(role, src)
                if name in names:
                    raise StoreError(f"two files would be stored as {name!r}; give each role once")
                names.add(name)
                try:
                    digest, size = copy_synced(src, folder / name)
                except OSError as exc:
                    raise StoreError(f"cannot copy {src} into the store: {exc.strerror or exc}") from None
                want = n.expected_sha256.get(role)
                if want and want != digest:
                    raise StoreError(f"file {src} does not match its recorded sha256 (changed or damaged)")
                rows.append(StoredFile(role=role, name=name, relpath=self.layout.relpath(patient_id, sid, name),
                                       sha256=digest, size_bytes=size))
            fsync_dir(folder)
            out.append(rows)
        fsync_dir(journal.staging)
        return out

    # ------------------------------------------------------------------------------ deletion
    def delete_session(self, session_id: str) -> None:
        """Remove the session's rows, its file folder and the upload it was made from (the uploaded
        video, annotated video and key frames) unless another session still refers to that upload."""
        sid = self.resolve_session(session_id)
        with self.reading() as s:
            pid = s.get(Session, sid).patient_id
        uploads = self._uploads_of(Session.id == sid)
        self.layout.ensure()
        with Journal(self.layout, "delete_sessions", pid, [sid], uploads) as journal:
            with self.writing() as s:
                s.delete(s.get(Session, sid))
            crashpoints.checkpoint("delete_committed")
            remove_tree(self.layout.session_dir(pid, sid))
            self._remove_unreferenced(uploads)
            journal.done()

    def delete_patient(self, patient_id: str) -> dict[str, int]:
        """Remove the patient, every row of theirs, their whole file folder and the uploads their
        sessions were made from. Returns counts."""
        pid = self.resolve_patient(patient_id)
        counts = self.count_rows(pid)
        uploads = self._uploads_of(Session.patient_id == pid)
        self.layout.ensure()
        with Journal(self.layout, "delete_patient", pid, [], uploads) as journal:
            with self.writing() as s:
                s.delete(s.get(Patient, pid))
            crashpoints.checkpoint("delete_committed")
            remove_tree(self.layout.patient_dir(pid))
            self._remove_unreferenced(uploads)
            journal.done()
        return counts

    # ------------------------------------------------------------------------------ uploads
    def _uploads_of(self, where: Any = sa.true()) -> list[str]:
        """Ids of the dashboard uploads (``<data>/uploads/<id>/``) the matching sessions were made from."""
        prefix = str(self.layout.uploads) + "/"
        with self.reading() as s:
            sources = s.scalars(sa.select(Session.source).where(where)
                                .where(Session.source.startswith(prefix, autoescape=True))).all()
        return sorted({u for u in (upload_id_of(self.layout, src) for src in sources) if u})

    def referenced_uploads(self) -> set[str]:
        """Upload ids some saved session refers to: kept until that session is deleted."""
        return set(self._uploads_of())

    def _remove_unreferenced(self, upload_ids: Sequence[str]) -> None:
        still = self.referenced_uploads() if upload_ids else set()
        for uid in upload_ids:
            if uid not in still:
                remove_tree(self.layout.upload_dir(uid))

    def count_rows(self, patient_id: str | None = None) -> dict[str, int]:
        """Rows per table (for one patient, or all): what a deletion removes, what a test checks."""
        from store.models import (FindingRow, HoldRepetition, PlanHoldRow, PlanItem, TherapyPlanItemRow,
                                  TherapyPlanRow)

        with self.reading() as s:
            def n(model: type, *joins: Any, owner: Any = Session.patient_id) -> int:
                q = sa.select(sa.func.count()).select_from(model)
                for j in joins:
                    q = q.join(j)
                if patient_id is not None:
                    q = q.where(owner == patient_id)
                return int(s.scalar(q))

            return {"patients": n(Patient, owner=Patient.id), "sessions": n(Session),
                    "findings": n(FindingRow, Session), "plan_items": n(PlanItem, Session),
                    "holds": n(Hold, Session), "hold_repetitions": n(HoldRepetition, Hold, Session),
                    "files": n(StoredFile, Session),
                    "therapy_plans": n(TherapyPlanRow, owner=TherapyPlanRow.patient_id),
                    "therapy_plan_items": n(TherapyPlanItemRow, TherapyPlanRow, owner=TherapyPlanRow.patient_id),
                    "plan_holds": n(PlanHoldRow, TherapyPlanItemRow, TherapyPlanRow,
                                    owner=TherapyPlanRow.patient_id)}

    def verify_files(self, patient_id: str | None = None) -> list[str]:
        """Problems with stored files (missing, wrong sha256); empty when all is well."""
        from store.files import sha256_file

        problems = []
        for sess in self.sessions(patient_id):
            for f in sess["files"]:
                p = Path(f["path"])
                if not p.is_file():
                    problems.append(f"missing: {f['relpath']}")
                elif sha256_file(p) != f["sha256"]:
                    problems.append(f"sha256 mismatch: {f['relpath']}")
        return problems


def _eager() -> list:
    return [selectinload(Session.findings), selectinload(Session.plan),
            selectinload(Session.holds).selectinload(Hold.repetitions), selectinload(Session.files)]


def patient_dict(p: Patient | None) -> dict[str, Any]:
    if p is None:
        raise NotFoundError("no such patient")
    return {"id": p.id, "display_name": p.display_name, "created_utc": p.created_utc, "notes": p.notes}


def _columns(row: Any, skip: tuple[str, ...] = ("id", "session_id", "hold_id")) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in sa.inspect(row).mapper.column_attrs if c.key not in skip}


def session_dict(x: Session, layout: Layout, with_document: bool = True) -> dict[str, Any]:
    d = _columns(x, skip=("document",)) | {"id": x.id}
    d["findings"] = [_columns(f) for f in x.findings]
    d["plan"] = [_columns(p) for p in x.plan]
    d["holds"] = [_columns(h) | {"repetitions": [_columns(r) for r in h.repetitions]} for h in x.holds]
    d["files"] = [_columns(f) | {"path": str(layout.file_path(f.relpath))} for f in x.files]
    if with_document:
        d["document"] = x.document
    return d
