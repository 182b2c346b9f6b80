"""Export one patient's whole record to a folder, and import it back.

The folder holds ``record.json`` (the patient and every session with its original document and file
list: what import reads), ``sessions.csv``, ``metrics.csv`` and ``holds.csv`` (for spreadsheets),
``report.html`` (a self-contained progress report) and ``files/<session>/<name>`` (the stored files).
``record.json`` carries no export time, so exporting, deleting, importing and exporting again gives a
byte-identical ``record.json`` and identical files. The export is written to a temp folder and renamed
into place. A record comes from outside, so the import checks all of it before writing anything
(``check_record``: ids, names, lengths, times, file names and sha256, by the same rules as adding a
patient and saving a session), refuses a patient or session already in the store (``ConflictError``),
then saves everything in one atomic save (store/files.py).
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterable

import sqlalchemy as sa

from store.documents import ASSESSMENT, HOLD, assessment_fields, check_notes, check_patient, check_utc, hold_fields
from store.errors import ConflictError, RecordError, StoreError
from store.files import safe_name
from store.models import Session, TherapyPlanRow
from store.plans import check_plans, imported_plans, plan_records
from store.paths import check_id, inside, shown
from store.progress import progress
from store.store import NewSession, Store

FORMAT = "isobalance.patient-record"
VERSION = 1
SESSION_KEYS = ("id", "kind", "recorded_utc", "saved_utc", "source", "source_kind", "views", "model", "settings",
                "summary", "notes")
FILE_KEYS = ("role", "name", "sha256", "size_bytes", "path")
SHA256 = re.compile(r"[0-9a-f]{64}")
EXERCISE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")
MAX_RECORD_BYTES = 256 << 20
MAX_SESSIONS = 100_000


def patient_record(store: Store, patient_ref: str) -> dict[str, Any]:
    """The exportable record of one patient (what ``record.json`` contains)."""
    pid = store.resolve_patient(patient_ref)
    sessions = []
    for s in store.sessions(pid):
        full = store.session(s["id"])
        entry = {k: full[k] for k in SESSION_KEYS}
        if full["kind"] == HOLD:
            entry["exercise_ids"] = [h["exercise_id"] for h in full["holds"]]
        entry["document"] = full["document"]
        entry["files"] = [{"role": f["role"], "name": f["name"], "sha256": f["sha256"], "size_bytes": f["size_bytes"],
                           "path": f"files/{s['id']}/{f['name']}"} for f in full["files"]]
        sessions.append(entry)
    return {"format": FORMAT, "version": VERSION, "patient": store.patient(pid), "sessions": sessions,
            "plans": plan_records(store, pid)}


def export_patient(store: Store, patient_ref: str, out_dir: str | Path) -> Path:
    """Write the patient's record into ``out_dir`` (must not exist or be empty); returns it."""
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StoreError(f"export folder {out} already exists and is not empty; choose a new folder")
    record = patient_record(store, patient_ref)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        tmp.mkdir(parents=True)
        (tmp / "record.json").write_text(json.dumps(record, indent=2, ensure_ascii=False, sort_keys=True) + "\n",
                                         encoding="utf-8")
        for s in record["sessions"]:
            stored = {f["name"]: f for f in store.session(s["id"], with_document=False)["files"]}
            for f in s["files"]:
                dst = tmp / f["path"]
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(stored[f["name"]]["path"], dst)
        _write_csvs(store, record["patient"]["id"], tmp)
        (tmp / "report.html").write_text(render_html(store, record["patient"]["id"]), encoding="utf-8")
        if out.exists():
            out.rmdir()
        os.rename(tmp, out)
    except OSError as exc:
        raise StoreError(f"cannot write the export to {out}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows([["" if v is None else v for v in r] for r in rows])


def _write_csvs(store: Store, pid: str, folder: Path) -> None:
    sessions = store.sessions(pid)
    _write_csv(folder / "sessions.csv",
               ["session_id", "kind", "recorded_utc", "source_kind", "source", "model", "n_findings", "n_flagged",
                "summary"],
               [[s["id"], s["kind"], s["recorded_utc"], s["source_kind"], s["source"], s["model"], len(s["findings"]),
                 sum(f["status"] == "flagged" for f in s["findings"]), " ".join(s["summary"])] for s in sessions])
    _write_csv(folder / "metrics.csv",
               ["session_id", "recorded_utc", "key", "metric", "kind", "label", "status", "value", "unit", "band_low",
                "band_high", "threshold", "threshold_source", "direction"],
               [[s["id"], s["recorded_utc"], f["key"], f["metric"], f["kind"], f["label"], f["status"], f["value"],
                 f["unit"], f["ci_low"], f["ci_high"], f["threshold"], f["threshold_source"], f["direction"]]
                for s in sessions for f in s["findings"]])
    _write_csv(folder / "holds.csv",
               ["session_id", "recorded_utc", "exercise_id", "repetition", "outcome", "hold_duration_s", "held_still_s",
                "still_fraction", "longest_unbroken_s", "breaks"],
               [[s["id"], s["recorded_utc"], h["exercise_id"], r["index"], r["outcome"], r["hold_duration_s"],
                 r["held_still_s"], r["still_fraction"], r["longest_unbroken_s"], r["breaks"]]
                for s in sessions for h in s["holds"] for r in h["repetitions"]])


def import_patient(store: Store, folder: str | Path) -> str:
    """Import a folder written by ``export_patient``; returns the patient id (the exported one).
    Nothing is written unless the whole record passes ``check_record``."""
    folder = Path(folder).expanduser().resolve()
    record = read_record(folder)
    try:
        check_record(record)
        new = [_new_session(folder, s) for s in record["sessions"]]
        plans = imported_plans(record)
    except StoreError as exc:
        raise RecordError(f"{folder / 'record.json'}: {exc}") from None
    patient = record["patient"]
    pid = patient["id"]
    if store._patient_exists(pid):
        raise ConflictError(f"patient {pid} ({patient['display_name']}) is already in the store; delete "
                            "it first to replace it with the exported record")
    with store.reading() as s:
        taken = s.scalars(sa.select(Session.id).where(Session.id.in_([n.session_id for n in new])).limit(1)).all()
    if taken:
        raise ConflictError(f"session {taken[0]} is already in the store (under another patient); "
                            "this record cannot be imported as it is")
    with store.reading() as s:
        taken = s.scalars(sa.select(TherapyPlanRow.id).where(TherapyPlanRow.id.in_([p.id for p in plans]))
                          .limit(1)).all()
    if taken:
        raise ConflictError(f"plan {taken[0]} is already in the store (under another patient); "
                            "this record cannot be imported as it is")
    store.save_sessions(pid, new, patient={k: patient[k] for k in ("display_name", "created_utc", "notes")},
                        extra=plans)
    return pid


def read_record(folder: Path) -> Any:
    path = folder / "record.json"
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise RecordError(f"{path} is larger than {MAX_RECORD_BYTES >> 20} MB; not an isobalance record")
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{folder} has no record.json; pass a folder written by 'isobalance sessions export'") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise RecordError(f"{path} is not valid JSON: {str(exc)[:200]}") from None
    except OSError as exc:
        raise RecordError(f"{path} cannot be read: {exc.strerror or exc}") from None


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise RecordError(message)


def _dict(value: Any, keys: Iterable[str], what: str) -> dict[str, Any]:
    _need(isinstance(value, dict), f"{what} must be an object")
    missing = [k for k in keys if k not in value]
    _need(not missing, f"{what} lacks {', '.join(missing)}")
    return value


def check_record(record: Any) -> None:
    """Every field of a patient record an import uses, by the store's own rules; ``RecordError`` (or
    the ``StoreError`` of the rule) names the first that fails. Documents are checked by
    ``assessment_fields`` / ``hold_fields`` when the sessions are rebuilt."""
    _dict(record, ("format", "version", "patient", "sessions"), "the record")
    _need(record["format"] == FORMAT, "this is not an isobalance patient record")
    _need(type(record["version"]) is int and record["version"] == VERSION, f"patient record version {shown(record['version'])} is not supported "
                                        f"(this isobalance reads version {VERSION})")
    patient = _dict(record["patient"], ("id", "display_name", "created_utc", "notes"), "the patient")
    check_id(patient["id"], "patient id")
    check_patient(patient["display_name"], patient["notes"])
    check_utc(patient["created_utc"])
    sessions = record["sessions"]
    _need(isinstance(sessions, list) and len(sessions) <= MAX_SESSIONS, "sessions must be a list")
    seen: set[str] = set()
    for s in sessions:
        _dict(s, (*SESSION_KEYS, "document", "files"), "a session")
        sid = check_id(s["id"], "session id")
        _need(sid not in seen, f"session {sid} is listed twice")
        seen.add(sid)
        _need(s["kind"] in (ASSESSMENT, HOLD), f"session {sid} has an unknown kind {shown(s['kind'])}")
        check_utc(s["recorded_utc"]), check_utc(s["saved_utc"]), check_notes(s["notes"])
        _need(isinstance(s["document"], dict), f"session {sid}: its document must be an object")
        if s["kind"] == HOLD:
            ids = s.get("exercise_ids")
            _need(isinstance(ids, list) and len(ids) == 1 and isinstance(ids[0], str)
                  and EXERCISE_ID.fullmatch(ids[0]) is not None, f"hold session {sid} must name exactly one exercise")
        _need(isinstance(s["files"], list), f"session {sid}: files must be a list")
        names: set[str] = set()
        for f in s["files"]:
            _dict(f, FILE_KEYS, f"a file of session {sid}")
            _need(isinstance(f["role"], str) and len(f["role"]) <= 32, f"session {sid}: a file role is not valid")
            name = safe_name(f["role"], Path(f["name"]) if isinstance(f["name"], str) else Path())
            _need(f["name"] == name and name not in names, f"session {sid}: file name {shown(f['name'])} is not "
                                                         f"the name isobalance gives a {shown(f['role'])} file")
            names.add(name)
            _need(f["path"] == f"files/{sid}/{name}", f"session {sid}: file path {shown(f['path'])} is not "
                                                     f"files/{sid}/{name}")
            _need(isinstance(f["sha256"], str) and SHA256.fullmatch(f["sha256"]) is not None,
                  f"session {sid}: file {name} has no valid sha256")
            _need(isinstance(f["size_bytes"], int) and not isinstance(f["size_bytes"], bool) and f["size_bytes"] >= 0,
                  f"session {sid}: file {name} has no valid size")

    kinds = {s["id"]: s["kind"] for s in sessions}
    check_plans(record.get("plans", []), kinds, patient["id"])

def _new_session(folder: Path, s: dict[str, Any]) -> NewSession:
    """A checked record session (``check_record``) rebuilt from its document, files found in ``folder``."""
    if s["kind"] == ASSESSMENT:
        fields = assessment_fields(s["document"], recorded_utc=s["recorded_utc"], notes=s["notes"])
    else:
        fields = hold_fields(s["document"], s["exercise_ids"][0], recorded_utc=s["recorded_utc"], notes=s["notes"])
    files, sha = {}, {}
    for f in s["files"]:
        path = inside(folder, "files", s["id"], f["name"])
        _need(path.is_file(), f"file {f['path']} listed in record.json is missing")
        files[f["role"]], sha[f["role"]] = path, f["sha256"]
    for key in ("source", "source_kind", "views", "model", "settings", "summary"):
        _need(getattr(fields, key) == s[key], f"session {s['id']}: {key} does not match its document "
                                               "(record edited by hand?)")
    return NewSession(fields, files, session_id=s["id"], saved_utc=s["saved_utc"], expected_sha256=sha)


# ---------------------------------------------------------------------------------------- HTML
def _svg(series, width: int = 560, height: int = 150) -> str:
    """Value per session with its band and the threshold line(s): a small inline SVG."""
    pts = [p for p in series.points if p.measured]
    if not pts:
        return ""
    ys = [v for p in pts for v in (p.value, p.low, p.high) if v is not None]
    thr = []
    if series.threshold is not None:
        thr = [series.threshold] + ([-series.threshold] if series.threshold_direction == "abs" else [])
    lo, hi = min(ys + thr), max(ys + thr)
    pad = max(0.5, 0.1 * (hi - lo))
    lo, hi = lo - pad, hi + pad
    ml, mr, mt, mb = 44, 12, 8, 20
    n = len(pts)

    def px(i: int) -> float:
        return ml + (i + 0.5) / n * (width - ml - mr)

    def py(v: float) -> float:
        return mt + (hi - v) / (hi - lo) * (height - mt - mb)

    parts = [f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">',
             f'<rect x="{ml}" y="{mt}" width="{width - ml - mr}" height="{height - mt - mb}" fill="#f6f7f9"/>']
    for t in thr:
        parts.append(f'<line x1="{ml}" x2="{width - mr}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#c0392b" '
                     'stroke-dasharray="4 3"/>')
    for i, p in enumerate(pts):
        if p.low is not None and p.high is not None:
            parts.append(f'<line x1="{px(i):.1f}" x2="{px(i):.1f}" y1="{py(p.high):.1f}" y2="{py(p.low):.1f}" '
                         'stroke="#7f8c8d" stroke-width="6" stroke-opacity="0.4"/>')
        color = "#c0392b" if p.status == "flagged" else "#2c3e50"
        parts.append(f'<circle cx="{px(i):.1f}" cy="{py(p.value):.1f}" r="4" fill="{color}"/>')
        parts.append(f'<text x="{px(i):.1f}" y="{height - 5}" font-size="10" text-anchor="middle">'
                     f'{p.recorded_utc[:10]}</text>')
    for v in sorted({round(lo + pad, 1), round(hi - pad, 1), *[round(t, 1) for t in thr]}):
        parts.append(f'<text x="{ml - 4}" y="{py(v) + 3:.1f}" font-size="10" text-anchor="end">{v:.1f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(store: Store, patient_ref: str) -> str:
    """A self-contained progress report for one patient (no network needed)."""
    import jinja2
    from markupsafe import Markup

    from assessment.report import DISCLAIMERS

    pid = store.resolve_patient(patient_ref)
    prog = progress(store, pid)
    env = jinja2.Environment(loader=jinja2.PackageLoader("store", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["num"] = lambda v: "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.1f}"
    series = sorted(prog.metrics.values(), key=lambda s: (s.kind, s.label))
    return env.get_template("patient.html.j2").render(
        patient=store.patient(pid), sessions=store.sessions(pid), progress=prog, series=series,
        plots={s.key: Markup(_svg(s)) for s in series}, disclaimers=DISCLAIMERS,
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
