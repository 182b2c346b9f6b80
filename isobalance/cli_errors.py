"""How the command line ends: the documented exit codes, one escaped line on stderr, never a traceback.

Exit codes (README "Exit codes"): 0 done; 1 internal error (a bug); 2 bad input or setup, usage errors
included; 3 nobody detected; 4 the input broke part-way (what was computed before the break is
written); 130 interrupted (Ctrl+C, SIGINT or SIGTERM; finished results are kept).
"""

from __future__ import annotations

import re
from typing import NoReturn

import typer

INTERNAL, BAD_INPUT, INTERRUPTED = 1, 2, 130   # 3 and 4 travel on NoPersonError / PartialInputError

# C0 controls but tab, DEL and C1 controls: ESC sequences, bells, carriage returns, line breaks
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """``text`` with terminal control characters shown as ``\\xNN``: a file or patient name holding an
    escape sequence cannot recolour, retitle or rewrite the user's terminal, nor add a second line."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def fail(exc: BaseException, code: int | None = None, prefix: str = "error") -> NoReturn:
    """Print ``prefix: message`` (one escaped line) and end with the error's exit code."""
    typer.echo(f"{prefix}: {printable(exc)}", err=True)
    raise SystemExit(code if code is not None else getattr(exc, "exit_code", BAD_INPUT))
