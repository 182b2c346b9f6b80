"""``isobalance sessions list|show|export|import|delete`` and ``isobalance patients add|list``.

The store is the one the dashboard uses: ``--db URL``, else config ``[store] database_url``, else
``$ISOBALANCE_DATABASE_URL``, else SQLite in the user data folder (config ``dashboard.data_dir`` /
``$ISOBALANCE_DATA``); ``isobalance.paths.open_store`` applies that order. Ids can be shortened to
any unique prefix of at least 4 characters. Problems are ``StoreError`` messages (exit status 2).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

# the store (SQLAlchemy, ~0.4-0.7 s and ~20 MB to import) is imported by the commands that use it, not
# when the CLI starts: every other command (landmarks, assess, hold) paid for it before

sessions_app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                           help="List, show, export, import or delete patients' sessions")
patients_app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                           help="Add or list patients")

DB = typer.Option(None, "--db", help="Database URL (default: config [store] database_url, else "
                                      "$ISOBALANCE_DATABASE_URL, else SQLite in the data folder)")
CONFIG = typer.Option(None, "--config", help="TOML configuration file (for [store] database_url and dashboard.data_dir)")


def open_store(db: str | None, config: Path | None):
    from isobalance import paths
    from isobalance.config import load_config

    return paths.open_store(load_config(config), db)


def _short(i: str) -> str:
    return i[:8]


@patients_app.command("add")
def patients_add(name: str = typer.Argument(..., help="Name or pseudonym"),
                 notes: str = typer.Option("", help="Free text"), db: Optional[str] = DB,
                 config: Optional[Path] = CONFIG):
    """Add a patient; prints the new patient id."""
    with open_store(db, config) as store:
        typer.echo(store.add_patient(name, notes))


@patients_app.command("list")
def patients_list(db: Optional[str] = DB, config: Optional[Path] = CONFIG):
    """Every patient with the number of sessions and the last session's date."""
    with open_store(db, config) as store:
        patients = store.patients()
    if not patients:
        typer.echo("no patients yet; add one with 'isobalance patients add NAME'")
        return
    for p in patients:
        typer.echo(f"{_short(p['id'])}  {p['display_name']:<24}  {p['n_sessions']:>3} session(s)  "
                   f"last {p['last_session_utc'] or '—'}")


@sessions_app.command("list")
def sessions_list(patient: Optional[str] = typer.Option(None, "--patient", "-p", help="Only this patient"),
                  db: Optional[str] = DB, config: Optional[Path] = CONFIG):
    """Sessions, oldest first: id, date, patient, kind, flagged findings or holds."""
    with open_store(db, config) as store:
        names = {p["id"]: p["display_name"] for p in store.patients()}
        sessions = store.sessions(patient)
    if not sessions:
        typer.echo("no sessions")
        return
    for s in sessions:
        if s["kind"] == "assessment":
            what = f"{sum(f['status'] == 'flagged' for f in s['findings'])} flagged of {len(s['findings'])} metrics"
        else:
            what = "; ".join(f"{h['exercise_id']} {h['repetitions_completed']}/{h['repetitions_planned']} reps"
                             for h in s["holds"])
        typer.echo(f"{_short(s['id'])}  {s['recorded_utc']}  {names.get(s['patient_id'], '?'):<20}  "
                   f"{s['kind']:<10}  {what}")


@sessions_app.command("show")
def sessions_show(session: str = typer.Argument(..., help="Session id (or unique prefix)"),
                  as_json: bool = typer.Option(False, "--json", help="Print the whole session as JSON"),
                  db: Optional[str] = DB, config: Optional[Path] = CONFIG):
    """One session: source, model, summary, findings with their ranges, plan, holds and files."""
    with open_store(db, config) as store:
        s = store.session(session, with_document=as_json)
        patient = store.patient(s["patient_id"])
    if as_json:
        typer.echo(json.dumps(s, indent=2, ensure_ascii=False))
        return
    typer.echo(f"session {s['id']}  ({s['kind']})\npatient {patient['display_name']} ({s['patient_id']})\n"
               f"recorded {s['recorded_utc']}  source {s['source_kind']}: {s['source'] or '—'}\n"
               f"model {s['model'] or '—'}")
    for line in s["summary"]:
        typer.echo(f"  {line}")
    for f in s["findings"]:
        value = "not measurable" if f["value"] is None else f"{f['value']:.1f} {f['unit']}"
        band = "" if f["ci_low"] is None else f"  range {f['ci_low']:.1f} to {f['ci_high']:.1f}"
        typer.echo(f"  [{f['status']:<14}] {f['label']}: {value}{band}  {f['direction']}")
    for p in s["plan"]:
        typer.echo(f"  plan: {p['name']} ({p['technique']}, {p['side']})")
    for h in s["holds"]:
        typer.echo(f"  hold {h['exercise_id']}: {h['repetitions_completed']} of {h['repetitions_planned']} completed, "
                   f"{h['breaks']} break(s)")
        for r in h["repetitions"]:
            typer.echo(f"    rep {r['index']}: {r['outcome']}, held still {r['held_still_s']} s")
    for f in s["files"]:
        typer.echo(f"  file {f['role']}: {f['path']}  sha256 {f['sha256'][:16]}…")


@sessions_app.command("export")
def sessions_export(patient: str = typer.Argument(..., help="Patient id (or unique prefix)"),
                    out: Path = typer.Option(..., "-o", "--out", help="New folder for the record"),
                    db: Optional[str] = DB, config: Optional[Path] = CONFIG):
    """Export a patient's whole record: record.json, CSVs, report.html and the files."""
    from store.record import export_patient

    with open_store(db, config) as store:
        folder = export_patient(store, patient, out)
    typer.echo(f"exported to {folder}")


@sessions_app.command("import")
def sessions_import(folder: Path = typer.Argument(..., help="Folder written by 'sessions export'"),
                    db: Optional[str] = DB, config: Optional[Path] = CONFIG):
    """Import an exported patient record (refused if the patient is already in the store)."""
    from store.record import import_patient

    with open_store(db, config) as store:
        pid = import_patient(store, folder)
        n = len(store.sessions(pid))
    typer.echo(f"imported patient {pid} with {n} session(s)")


@sessions_app.command("delete")
def sessions_delete(target: str = typer.Argument(..., help="A session id, or a patient id to delete the patient"),
                    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation"),
                    db: Optional[str] = DB, config: Optional[Path] = CONFIG):
    """Delete one session, or a patient with all their sessions. Rows and files are removed for good."""
    from store.errors import StoreError

    with open_store(db, config) as store:
        kind, ident, label = _resolve_target(store, target)
        if not yes:
            if not sys.stdin.isatty():
                raise StoreError(f"deleting {label} cannot be undone; pass --yes to confirm")
            if not typer.confirm(f"Delete {label} and its files for good?", default=False):
                raise StoreError("nothing deleted")
        if kind == "session":
            store.delete_session(ident)
        else:
            counts = store.delete_patient(ident)
            label += f" ({counts['sessions']} session(s), {counts['files']} file(s))"
    typer.echo(f"deleted {label}")


def _resolve_target(store, target: str) -> tuple[str, str, str]:
    from store.errors import NotFoundError, StoreError

    found = []
    for kind, resolve in (("session", store.resolve_session), ("patient", store.resolve_patient)):
        try:
            found.append((kind, resolve(target)))
        except NotFoundError:
            pass
    if not found:
        raise NotFoundError(f"no session or patient with id {target!r}; 'isobalance sessions list' shows the ids")
    if len(found) > 1:
        raise StoreError(f"{target!r} matches both a session and a patient; give more characters")
    kind, ident = found[0]
    if kind == "session":
        s = store.session(ident, with_document=False)
        return kind, ident, f"session {ident} of {s['recorded_utc']}"
    return kind, ident, f"patient {store.patient(ident)['display_name']} ({ident})"
