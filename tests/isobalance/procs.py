"""Process-table helpers for the signal tests: they read /proc (Linux), the ground truth of what runs."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path
from typing import Callable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state letter, command line) of every process in the table."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        # "pid (comm) S ppid ...": comm may hold spaces and parentheses, so split after the last ')'
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), fields[0], cmdline)
    return table


def descendants(pid: int, table: dict[int, tuple[int, str, str]] | None = None) -> set[int]:
    table = processes() if table is None else table
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, (ppid, _, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def matching(needle: str) -> dict[int, tuple[int, str, str]]:
    """Live processes whose command line contains ``needle`` (a zombie has no command line: see ``processes``)."""
    return {p: v for p, v in processes().items() if needle in v[2] and p != os.getpid()}


def threads_named(pid: int, prefix: str) -> set[str]:
    """Names of ``pid``'s threads (``/proc/PID/task/*/comm``) starting with ``prefix``."""
    names = set()
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return names
    for task in tasks:
        try:
            name = (task / "comm").read_text().strip()
        except OSError:
            continue
        if name.startswith(prefix):
            names.add(name)
    return names


def wait_until(check: Callable[[], bool], timeout_s: float, step_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step_s)
    return check()


def as_foreground(argv: list[str]) -> list[str]:
    """``argv`` run the way a terminal runs a foreground command: Ctrl+C (SIGINT) not ignored.

    Why: a runner that starts the test suite in the background of a non-interactive shell (``cmd &``,
    which POSIX makes ignore SIGINT) passes "SIGINT ignored" on to every child, and Python keeps a
    SIGINT that was ignored at start-up ignored; a SIGINT test would then measure the runner, not the
    command (seen: ``batch`` ran to its end instead of stopping). A tiny Python shim resets SIGINT to its
    default and ``exec``s the command, so the pid the test signals is the command's own.
    """
    shim = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
            "os.execv(sys.argv[1], sys.argv[1:])")
    return [sys.executable, "-c", shim, *argv]


def ignores_sigint(pid: int) -> bool:
    """True if ``pid`` ignores SIGINT (its SigIgn mask in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (2 - 1)))
    return False
