"""What the CLI loads before any command runs: every command pays for it, in seconds and memory."""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_does_not_load_the_store_until_a_store_command_runs():
    # SQLAlchemy and the store took ~0.4-0.7 s and ~20 MB of every `landmarks`, `assess` and `hold` run
    # because `sessions` imported the store's errors when the commands were mounted (a fresh
    # interpreter: this test process may have them already)
    code = ("import sys, isobalance.cli as cli; cli._mount_subcommands(); "
            "loaded = sorted(m for m in ('sqlalchemy', 'store', 'alembic') if m in sys.modules); "
            "sys.exit(', '.join(loaded) or None)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"loaded when the CLI starts: {done.stderr.strip()}"
