"""Stopping ``isobalance dashboard`` stops its server (issue 15): no Streamlit server outlives the command.

The real command is started as a service manager would start it (its own process, a free port), the
test waits for Streamlit's health endpoint, then signals the process it started and reads the process
table: within 5 s the port must be closed and no process serving ``dashboard/app.py`` on that port left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from isobalance.cli_dashboard import APP_PATH
from tests.isobalance.procs import as_foreground, free_port, matching, port_open, wait_until

REPO = Path(__file__).resolve().parents[2]
ISOBALANCE = str(Path(sys.executable).with_name("isobalance"))
START_TIMEOUT_S = 120   # a cold Streamlit start on a loaded 2-core machine; liveness only


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_the_dashboard_command_stops_its_server(sig, tmp_path):
    port = free_port()
    env = dict(os.environ, ISOBALANCE_DATA=str(tmp_path / "data"), PYTHONUNBUFFERED="1")
    env.pop("ISOBALANCE_CONFIG", None)
    log = tmp_path / "dashboard.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(as_foreground([ISOBALANCE, "dashboard", "--port", str(port)]), cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    serving = f"{APP_PATH} --server.address 127.0.0.1 --server.port {port}"
    try:
        assert wait_until(lambda: _healthy(port) or proc.poll() is not None, START_TIMEOUT_S, 0.3), \
            f"no health answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
        assert proc.poll() is None, f"the command exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
        assert matching(serving), "the server is not in the process table under its command line"

        sent = time.monotonic()
        os.kill(proc.pid, sig)
        stopped = wait_until(lambda: not port_open(port) and not matching(serving) and proc.poll() is not None,
                             5.0)
        elapsed = time.monotonic() - sent
        assert stopped, (f"5 s after {sig.name}: port open={port_open(port)}, command exit={proc.poll()}, "
                         f"servers left={matching(serving)}")
        assert elapsed <= 5.0
        assert not _healthy(port)
        assert proc.returncode in (0, -sig, 128 + sig), proc.returncode
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in matching(serving):   # never leave a server behind, even when the test failed
            os.kill(pid, signal.SIGKILL)
