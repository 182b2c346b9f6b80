"""Export one patient's whole record to a folder, and import it back.

The folder holds ``record.json`` (the patient and every session with its original document and file
list: what import reads), ``sessions.csv``, ``metrics.csv`` and ``holds.csv`` (for spreadsheets),
``report.html`` (a self-contained progress report) and ``files/<session>/<name>`` (the stored files).
``record.json`` carries no export time, so exporting, deleting, importing and exporting again gives a
byte-identical ``record.json`` and identical files. The export is written to a temp folder and renamed
into place; the import is one atomic save (store/files.py).
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from store.documents import ASSESSMENT, HOLD, assessment_fields, hold_fields
from store.errors import ConflictError, RecordError, StoreError
from store.progress import progress
from store.store import NewSession, Store

FORMAT = "isobalance.patient-record"
VERSION = 1
SESSION_KEYS = ("id", "kind", "recorded_utc", "saved_utc", "source", "source_kind", "views", "model", "settings",
                "summary", "notes")


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
    return {"format": FORMAT, "version": VERSION, "patient": store.patient(pid), "sessions": sessions}


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
    """Import a folder written by ``export_patient``; returns the patient id (the exported one)."""
    folder = Path(folder).expanduser().resolve()
    try:
        record = json.loads((folder / "record.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{folder} has no record.json; pass a folder written by 'isobalance sessions export'") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordError(f"{folder / 'record.json'} is not valid JSON: {exc}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise RecordError(f"{folder / 'record.json'} is not an isobalance patient record")
    if record.get("version") != VERSION:
        raise RecordError(f"patient record version {record.get('version')!r} is not supported (this isobalance "
                          f"reads version {VERSION})")
    try:
        patient = record["patient"]
        pid = str(patient["id"])
        new = [_new_session(folder, s) for s in record["sessions"]]
    except (KeyError, TypeError) as exc:
        raise RecordError(f"patient record is incomplete: missing {exc}") from None
    if store._patient_exists(pid):
        raise ConflictError(f"patient {pid} ({patient.get('display_name', '')}) is already in the store; delete "
                            "it first to replace it with the exported record")
    store.save_sessions(pid, new, patient={k: patient[k] for k in ("display_name", "created_utc", "notes")})
    return pid


def _new_session(folder: Path, s: dict[str, Any]) -> NewSession:
    if s["kind"] == ASSESSMENT:
        fields = assessment_fields(s["document"], recorded_utc=s["recorded_utc"], notes=s["notes"])
    elif s["kind"] == HOLD:
        ids = s.get("exercise_ids") or []
        if len(ids) != 1:
            raise RecordError(f"hold session {s['id']} must name exactly one exercise")
        fields = hold_fields(s["document"], ids[0], recorded_utc=s["recorded_utc"], notes=s["notes"])
    else:
        raise RecordError(f"session {s['id']} has an unknown kind {s['kind']!r}")
    files, sha = {}, {}
    for f in s["files"]:
        path = (folder / f["path"]).resolve()
        if folder not in path.parents:
            raise RecordError(f"file path {f['path']!r} points outside the record folder")
        if not path.is_file():
            raise RecordError(f"file {f['path']} listed in record.json is missing")
        files[f["role"]], sha[f["role"]] = path, f["sha256"]
    for key in ("source", "source_kind", "views", "model", "settings", "summary"):
        if getattr(fields, key) != s[key]:
            raise RecordError(f"session {s['id']}: {key} does not match its document (record edited by hand?)")
    return NewSession(fields, files, session_id=str(s["id"]), saved_utc=str(s["saved_utc"]), expected_sha256=sha)


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
