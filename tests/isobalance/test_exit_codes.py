"""The README's exit-code table, command by command: the real command in its own process, the
documented code, one line of message on stderr (click's usage message for usage errors), never a
traceback. Each row builds its failure from real files in tmp_path (see ``ROWS``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

USAGE = "Usage: isobalance"


def run_cli(*args, cwd=None, env=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "isobalance.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@dataclass(frozen=True)
class Row:
    command: str
    failure: str
    code: int
    message: str                                  # must appear in stderr
    args: Callable[[Path, Callable], list]        # (tmp_path, ctx) -> argv after "isobalance"
    usage: bool = False                            # click's usage message instead of one "error:" line


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


ROWS = [
    Row("landmarks", "missing -o", 2, "Missing option '-o'", lambda t, c: ["landmarks", c.clip], usage=True),
    Row("landmarks", "unknown option", 2, "No such option: --bogus",
        lambda t, c: ["landmarks", c.clip, "-o", t / "o", "--bogus"], usage=True),
    Row("landmarks", "--num-poses abc", 2, "Invalid value for '--num-poses'",
        lambda t, c: ["landmarks", c.clip, "-o", t / "o", "--num-poses", "abc"], usage=True),
    Row("landmarks", "--num-poses -3", 2, "num_poses must be a whole number from 1 to 20, not -3",
        lambda t, c: ["landmarks", c.clip, "-o", t / "o", "--num-poses", "-3"]),
    Row("(none)", "unknown command", 2, "No such command 'frobnicate'", lambda t, c: ["frobnicate"], usage=True),
    Row("assess", "missing -o", 2, "Missing option '-o'", lambda t, c: ["assess", c.clip], usage=True),
    Row("config", "config with a wrong type", 2, "[vision] num_poses must be an integer, not str 'two'",
        lambda t, c: ["config", "--config", _write(t / "c.toml", '[vision]\nnum_poses = "two"\n')]),
    Row("config", "num_poses = -3 in the config", 2, "num_poses must be a whole number from 1 to 20",
        lambda t, c: ["config", "--config", _write(t / "c.toml", "[vision]\nnum_poses = -3\n")]),
    Row("assess", "config with a wrong type", 2, "[vision] min_cutoff must be a number, not str",
        lambda t, c: ["assess", c.clip, "-o", t / "o",
                      "--config", _write(t / "c.toml", '[vision]\nmin_cutoff = "fast"\n')]),
    Row("dashboard", "config with a wrong type", 2, "[dashboard] port must be an integer, not bool",
        lambda t, c: ["dashboard", "--config", _write(t / "c.toml", "[dashboard]\nport = true\n")]),
]


class Ctx:
    def __init__(self, tmp_path: Path, sample_clip, model_path):
        self.tmp, self._sample, self.model = tmp_path, sample_clip, model_path

    @property
    def clip(self) -> Path:
        return self._sample("tfjs_pose_squats.mp4")


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.command}: {r.failure}" for r in ROWS])
def test_exit_code_table(row: Row, tmp_path, sample_clip, model_path):
    r = run_cli(*row.args(tmp_path, Ctx(tmp_path, sample_clip, model_path)),
                env={"ISOBALANCE_MODEL": str(model_path), "ISOBALANCE_DATA": str(tmp_path / "data")})
    assert r.returncode == row.code, r.stderr
    assert row.message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    if row.usage:
        assert r.stderr.startswith(USAGE), r.stderr
    else:
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
