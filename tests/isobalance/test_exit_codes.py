"""The README's exit-code table, command by command: the real command in its own process, the
documented code, one line of message on stderr (click's usage message for usage errors), never a
traceback. Each row builds its failure from real files in tmp_path (see ``ROWS``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


def _track(path: Path, edit=lambda text: text, **meta) -> Path:
    """A real track file (one frame, written by LandmarkTrack.save), then damaged by ``edit``."""
    import numpy as np

    from vision.track import N_LANDMARKS, LandmarkTrack, TrackMeta

    track = LandmarkTrack(np.arange(2), np.array([0.0, 33.3]), np.full((2, N_LANDMARKS, 5), 0.5),
                          np.zeros((2, N_LANDMARKS, 3)), np.ones(2), TrackMeta(**{"width": 640, "height": 480,
                                                                                 "fps": 30.0, **meta}))
    track.save(path)
    path.write_text(edit(path.read_text()))
    return path


def _header_only(text: str) -> str:
    return "\n".join(text.splitlines()[:2]) + "\n"


def _with_inf(text: str) -> str:
    lines = text.splitlines()
    cells = lines[2].split(",")
    cells[4] = "inf"                    # nose x of the first frame
    lines[2] = ",".join(cells)
    return "\n".join(lines) + "\n"


def _under_a_file(t: Path) -> Path:
    """An output folder nobody can create (its parent is a file), even as root."""
    (t / "a-file").write_text("x")
    return t / "a-file" / "out"


def _cut(t: Path, clip: Path) -> Path:
    fs = t / "fs.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(clip), "-c", "copy", "-movflags", "+faststart",
                    str(fs)], check=True)
    cut = t / "cut.mp4"
    cut.write_bytes(fs.read_bytes()[: fs.stat().st_size // 2])
    return cut


def _nobody(t: Path, clip: Path) -> Path:
    """A real clip cropped to a strip of background: nobody in view."""
    import numpy as np

    from tests.vision.clips import decode_all, write_lossless

    frames, _ = decode_all(clip)
    return write_lossless(t / "empty.mp4", [np.ascontiguousarray(f.rgb[:, :200]) for f in frames[:12]],
                          [f.timestamp_ms for f in frames[:12]])


HOLD = "upper-trapezius-pir"
NO_MODEL = ["--model", "/nonexistent/model.task"]   # reached only if the output check did not come first


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
    Row("assess", "header-only track file", 2, "holds no frames (a header only)",
        lambda t, c: ["assess", _track(t / "t.csv", _header_only), "-o", t / "o"]),
    Row("assess", "track file with inf", 2, "infinite values",
        lambda t, c: ["assess", _track(t / "t.csv", _with_inf), "-o", t / "o"]),
    Row("assess", "track claiming 50000x50000 px", 2, "width must be a whole number of pixels from 0 to 16384",
        lambda t, c: ["assess", _track(t / "t.csv", width=50000, height=50000), "-o", t / "o"]),
    Row("assess", "unwritable output folder (before the analysis)", 2, "cannot write to the output folder",
        lambda t, c: ["assess", c.clip, "-o", _under_a_file(t), *NO_MODEL]),
    Row("landmarks", "unwritable output folder (before the analysis)", 2, "cannot write to the output folder",
        lambda t, c: ["landmarks", c.clip, "-o", _under_a_file(t), *NO_MODEL]),
    Row("hold", "unwritable output folder (before the analysis)", 2, "cannot write to the output folder",
        lambda t, c: ["hold", c.clip, "-e", HOLD, "-o", _under_a_file(t), *NO_MODEL, *SCREENED]),
    Row("batch", "unwritable output folder (before the analysis)", 2, "cannot write to the output folder",
        lambda t, c: ["batch", c.clip, "-o", _under_a_file(t), *NO_MODEL]),
    Row("hold", "--calibrate-s nan", 2, "--calibrate-s must be >= 0 and --settle-s > 0 (finite seconds)",
        lambda t, c: ["hold", c.clip, "-e", HOLD, "-o", t / "o", "--calibrate-s", "nan", *SCREENED]),
    Row("hold", "nobody in view", 3, "no person detected in any of the 12 frames",
        lambda t, c: ["hold", _nobody(t, c.clip), "-e", HOLD, "-o", t / "o", "--no-video", *SCREENED]),
    Row("hold", "truncated file", 4, "The result for the frames read is in",
        lambda t, c: ["hold", _cut(t, c.clip), "-e", HOLD, "-o", t / "o", "--no-video", *SCREENED]),
    Row("landmarks", "file name with terminal escape codes", 2, "\\x1b]0;pwned\\x07\\x1b[31mred.mp4",
        lambda t, c: ["landmarks", t / "\x1b]0;pwned\x07\x1b[31mred.mp4", "-o", t / "o"]),
    Row("sessions", "mistyped database URL (password not echoed)", 2, "database URL 'postgresql//bob:***@",
        lambda t, c: ["sessions", "list", "--db", "postgresql//bob:s3cretpw@localhost/db"]),
    Row("sessions", "database URL with a bad port", 2, "'postgresql+psycopg://bob:***@localhost:port/db'",
        lambda t, c: ["sessions", "list", "--db", "postgresql://bob:s3cretpw@localhost:port/db"]),
]


class Ctx:
    def __init__(self, tmp_path: Path, sample_clip, model_path):
        self.tmp, self._sample, self.model = tmp_path, sample_clip, model_path

    @property
    def clip(self) -> Path:
        return self._sample("tfjs_pose_squats.mp4")


SCREENED = ("--no-red-flags", "--pain-before", "0")     # hold's safety screen answered (no terminal here)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.command}: {r.failure}" for r in ROWS])
def test_exit_code_table(row: Row, tmp_path, sample_clip, model_path):
    r = run_cli(*row.args(tmp_path, Ctx(tmp_path, sample_clip, model_path)),
                env={"ISOBALANCE_MODEL": str(model_path), "ISOBALANCE_DATA": str(tmp_path / "data")})
    assert r.returncode == row.code, r.stderr
    assert row.message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert "s3cretpw" not in r.stderr + r.stdout
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr      # control characters are shown escaped
    if row.usage:
        assert r.stderr.startswith(USAGE), r.stderr
    else:
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr


def test_ctrl_d_at_a_confirmation_prompt_exits_2_and_deletes_nothing(tmp_path):
    """A real terminal (pty): ``sessions delete`` asks for confirmation; Ctrl-D (end of input) there is
    "no answer", exit 2, and the patient is still in the store."""
    import pty
    import select

    env = {"ISOBALANCE_DATA": str(tmp_path / "data")}
    added = run_cli("patients", "add", "Bob", env=env)
    assert added.returncode == 0, added.stderr
    pid = added.stdout.strip()
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "isobalance.cli", "sessions", "delete", pid],
                            stdin=slave, stdout=slave, stderr=slave, env={**os.environ, **env}, close_fds=True)
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 120
        while b"for good?" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 4096)
        assert b"for good?" in seen, seen
        os.write(master, b"\x04")                                  # Ctrl-D
        code = proc.wait(timeout=60)
        while select.select([master], [], [], 0.2)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = seen.decode(errors="replace")
    assert code == 2, text
    assert "error: no answer (end of input)" in text and "Traceback" not in text and "internal error" not in text
    assert "Bob" in run_cli("patients", "list", env=env).stdout     # nothing deleted


def test_an_unexpected_exception_is_exit_1_with_one_line(monkeypatch, capsys):
    """Code 1 is for bugs, which cannot be produced on purpose: one is injected here (the only
    stand-in in this file) by making ``Config.to_toml`` raise, then the real ``main`` runs."""
    from isobalance import cli
    from isobalance.config import Config

    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(Config, "to_toml", broken)
    monkeypatch.delenv("ISOBALANCE_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["config"])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err == "internal error: RuntimeError: boom (set ISOBALANCE_DEBUG=1 for details)\n"


def test_a_whole_process_command_ends_without_interpreter_shutdown_losing_nothing(tmp_path):
    """A whole-process command ends through ``_end_process`` (no interpreter finalization, ~0.5 s of
    serial time at the end of every command): the exit code it is given, everything printed (100 kB to
    a pipe), the exit handlers run, a non-daemon thread's work finished as normal exit would wait for
    it; after an interrupt (``join_threads=False``) it does not wait for such a thread."""
    import subprocess
    import sys

    code = ("import atexit, sys, threading, time; from isobalance.cli import _end_process; "
            "out = sys.argv[1]; "
            "atexit.register(lambda: open(out + '.atexit', 'w').write('ran')); "
            "threading.Thread(target=lambda: (time.sleep(1.0), open(out, 'w').write('done'))).start(); "
            "print('x' * 100000, end=''); sys.stderr.write('to stderr'); "
            "_end_process(3, join_threads=sys.argv[2] == 'join')")
    for mode in ("join", "interrupted"):
        out = tmp_path / mode
        done = subprocess.run([sys.executable, "-c", code, str(out), mode], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 3, done.stderr
        assert done.stdout == "x" * 100000 and done.stderr == "to stderr"
        assert (tmp_path / f"{mode}.atexit").read_text() == "ran"
        assert out.exists() == (mode == "join")
        if mode == "join":
            assert out.read_text() == "done"
