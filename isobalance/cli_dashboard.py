"""``isobalance dashboard``: start the Streamlit dashboard on this machine (localhost by default).

``streamlit_argv`` builds the exact command line (the browser tests start the server with it too, so
what they test is what users run); ``dashboard_command`` is the typer command the CLI mounts. Host,
port and upload limit come from the one configuration (``isobalance.config``); flags override it.
The configuration file is handed to the server through ``ISOBALANCE_CONFIG`` so the pages read the
same settings as the command. The command *becomes* the server (``serve``: exec), so a SIGTERM from a
service manager or ``kill PID`` reaches Streamlit itself and no server outlives the command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn, Optional

import typer

from vision.errors import IsobalanceError

APP_PATH = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class DashboardError(IsobalanceError):
    """The dashboard cannot be started with these settings."""


def streamlit_argv(host: str, port: int, max_upload_mb: int) -> list[str]:
    """The command that serves the dashboard (no telemetry, no browser launched by the server)."""
    if not 0 < int(port) < 65536:
        raise DashboardError(f"port {port} is not a TCP port (1-65535)")
    if int(max_upload_mb) < 1:
        raise DashboardError(f"max_upload_mb must be at least 1, not {max_upload_mb}")
    return [sys.executable, "-m", "streamlit", "run", str(APP_PATH),
            "--server.address", str(host), "--server.port", str(int(port)),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.maxUploadSize", str(int(max_upload_mb)),
            # patients and therapists see no developer toolbar ("Deploy", rerun settings)
            "--client.toolbarMode", "viewer",
            # no forced full garbage collection after every script run: the live pages rerun a status
            # fragment twice a second, and gc.collect(2) over this process's heap (MediaPipe, aiortc,
            # numpy) held the GIL for 80 % of the server's GIL time, starving the webrtc frame callback
            # (py-spy --gil, README "Dashboard"); Python's own generational GC still runs
            "--runner.postScriptGC", "false"]


def server_env(config: Path | None) -> dict[str, str]:
    """The environment for the server process: the config file path travels in ISOBALANCE_CONFIG."""
    env = dict(os.environ)
    if config is not None:
        env["ISOBALANCE_CONFIG"] = str(Path(config).resolve())
    return env


def dashboard_command(
    host: Optional[str] = typer.Option(None, help="Address to bind (default from the config: 127.0.0.1)"),
    port: Optional[int] = typer.Option(None, help="Port (default from the config: 8501)"),
    config: Optional[Path] = typer.Option(None, help="TOML configuration file"),
) -> None:
    """Start the dashboard; open the printed http://127.0.0.1:PORT address in a browser."""
    from isobalance.config import load_config

    try:
        cfg = load_config(config).override("dashboard", host=host, port=port)
        argv = streamlit_argv(cfg.dashboard.host, cfg.dashboard.port, cfg.dashboard.max_upload_mb)
    except IsobalanceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(getattr(exc, "exit_code", 2)) from None
    if cfg.dashboard.host not in LOCAL_HOSTS:
        typer.echo(f"warning: binding to {cfg.dashboard.host}: other machines on the network can reach the "
                   "dashboard and see the webcam view", err=True)
    typer.echo(f"isobalance dashboard on http://{cfg.dashboard.host}:{cfg.dashboard.port} (Ctrl+C stops it)")
    serve(argv, server_env(config))


def serve(argv: list[str], env: dict[str, str]) -> NoReturn:
    """Replace this process with the server: its pid, signals and exit status are the server's.

    A child server would be orphaned (still serving patient data) when this process is killed; an
    exec'd one is stopped by whatever stops the command. Off POSIX, where exec does not keep the pid,
    the server runs as a child and the console's Ctrl+C reaches both.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execve(argv[0], argv, env)
    try:  # pragma: no cover - Windows
        code = subprocess.call(argv, env=env)
    except KeyboardInterrupt:  # pragma: no cover
        code = 130
    raise SystemExit(code)
