"""`isobalance sessions ...` and `isobalance patients ...` on real stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from isobalance.cli_sessions import patients_app, sessions_app
from isobalance.config import load_config
from isobalance.paths import open_store
from store import NotFoundError, StoreError, save_assessment, save_hold
from tests.store import documents as docs

REPO = Path(__file__).resolve().parents[2]


def cli_app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(sessions_app, name="sessions")
    app.add_typer(patients_app, name="patients")
    return app


@pytest.fixture
def env(tmp_path, monkeypatch, store_url):
    monkeypatch.setenv("ISOBALANCE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ISOBALANCE_DATABASE_URL", store_url)
    monkeypatch.delenv("ISOBALANCE_CONFIG", raising=False)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(cli_app(), [str(a) for a in args])


@pytest.fixture
def filled(env):
    with open_store(load_config()) as store:
        pid = store.add_patient("Ada")
        s1 = save_assessment(store, pid, docs.report(8.0, created_utc="2026-01-10T09:00:00Z"),
                             docs.some_files(env / "a", "a"))
        s2 = save_hold(store, pid, docs.hold(), docs.HOLD_EXERCISE, recorded_utc="2026-01-11T09:00:00Z")
    return pid, s1, s2


def test_patients_add_and_list(env):
    r = run("patients", "list")
    assert r.exit_code == 0 and "no patients yet" in r.output
    r = run("patients", "add", "Grace", "--notes", "pseudonym")
    assert r.exit_code == 0, r.output
    pid = r.output.strip()
    assert len(pid) == 32
    r = run("patients", "list")
    assert pid[:8] in r.output and "Grace" in r.output and "0 session(s)" in r.output


def test_list_and_show(filled):
    pid, s1, s2 = filled
    r = run("sessions", "list")
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert [l.split()[0] for l in lines] == [s1[:8], s2[:8]]            # oldest first
    assert "1 flagged of 14 metrics" in lines[0] and f"{docs.HOLD_EXERCISE} 2/2 reps" in lines[1]
    r = run("sessions", "list", "--patient", pid[:6])
    assert r.exit_code == 0 and len(r.output.strip().splitlines()) == 2
    r = run("sessions", "show", s1[:8])
    assert r.exit_code == 0, r.output
    assert "Shoulder line tilt: 7.9 deg  range" in r.output and "flagged" in r.output
    assert "file video:" in r.output and "plan:" in r.output
    r = run("sessions", "show", s2, "--json")
    data = json.loads(r.output)
    assert data["id"] == s2 and len(data["holds"][0]["repetitions"]) == 2 and data["document"]["kind"] == "isobalance.hold"


def test_export_import_delete_round_trip(filled, env):
    pid, s1, s2 = filled
    out = env / "export"
    r = run("sessions", "export", pid[:8], "-o", out)
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.iterdir()} >= {"record.json", "sessions.csv", "metrics.csv", "holds.csv",
                                               "report.html", "files"}
    r = run("sessions", "delete", pid, "--yes")
    assert r.exit_code == 0 and "deleted patient Ada" in r.output and "2 session(s), 2 file(s)" in r.output
    assert not (env / "data" / "patients" / pid).exists()
    assert run("sessions", "list").output.strip() == "no sessions"
    r = run("sessions", "import", out)
    assert r.exit_code == 0 and f"imported patient {pid} with 2 session(s)" in r.output
    r = run("sessions", "delete", s2[:8], "--yes")
    assert r.exit_code == 0 and "deleted session" in r.output
    with open_store(load_config()) as store:
        assert [s["id"] for s in store.sessions(pid)] == [s1] and store.verify_files() == []


def test_errors_are_isobalance_errors_with_a_plain_message(filled, env):
    pid, s1, _ = filled
    r = run("sessions", "show", "zzzzzzzz")
    assert isinstance(r.exception, NotFoundError) and "sessions list" in str(r.exception)
    r = run("sessions", "delete", s1)                       # no --yes, not a terminal
    assert isinstance(r.exception, StoreError) and "--yes" in str(r.exception)
    with open_store(load_config()) as store:
        assert len(store.sessions(pid)) == 2                # nothing deleted
    r = run("sessions", "import", env / "nowhere")
    assert isinstance(r.exception, StoreError) and "record.json" in str(r.exception)
    assert r.exception.exit_code == 2


def test_a_bad_database_url_is_one_line_and_exit_2_through_the_cli_main(tmp_path):
    """Run the sub-apps under isobalance.cli.main's error handling, as the mounted command will be."""
    script = ("import sys; from isobalance import cli; from isobalance.cli_sessions import sessions_app;"
              "cli._mount_subcommands();"
              "names = [g.name for g in cli.app.registered_groups];"
              "'sessions' in names or cli.app.add_typer(sessions_app, name='sessions');"
              "cli.main(sys.argv[1:])")
    r = subprocess.run([sys.executable, "-c", script, "sessions", "list", "--db", "postgresql://x@127.0.0.1:1/none"],
                       capture_output=True, text=True, cwd=REPO, timeout=120,
                       env={**os.environ, "ISOBALANCE_DATA": str(tmp_path)})
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: cannot connect to the database") and len(r.stderr.strip().splitlines()) == 1
