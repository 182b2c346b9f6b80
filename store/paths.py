"""One rule for identifiers that come from outside, and one way to turn them into paths.

Patient, session and upload ids are generated (``new_id``: 32 lowercase hex characters, a uuid4). Any
id offered from outside (an import record, a journal entry, a URL, a form, a CLI argument) is checked
against that one pattern (``check_id``) before it touches a path, a query or a page, so ``../../x``,
an absolute path, ``""`` or a 5000-character string never gets that far. ``inside(root, *parts)`` is
the only way a path is built from such parts: each part must be a plain name and the result, with
symlinks resolved, must stay inside ``root``.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from store.errors import StoreError

ID = re.compile(r"[0-9a-f]{32}")
ID_PREFIX = re.compile(r"[0-9a-f]{1,32}")
MAX_NAME = 255                      # longest file name most file systems accept


class PathEscapeError(StoreError):
    """A path built from outside input would leave the folder it belongs in."""


def new_id() -> str:
    return uuid.uuid4().hex


def shown(value: Any, limit: int = 40) -> str:
    """``value`` as it may appear in a message: repr (control characters escaped), shortened."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_id(value: Any) -> bool:
    return isinstance(value, str) and ID.fullmatch(value) is not None


def check_id(value: Any, what: str = "id") -> str:
    """``value`` if it is a generated id (32 lowercase hex characters), else a ``StoreError``."""
    if not is_id(value):
        raise StoreError(f"{what} {shown(value)} is not valid: ids are 32 hexadecimal characters")
    return value


def inside(root: str | Path, *parts: str) -> Path:
    """``root/part/...`` for plain names only, checked to stay inside ``root`` (``PathEscapeError``)."""
    base = Path(root)
    for part in parts:
        if (not isinstance(part, str) or not part or part in (".", "..") or len(part) > MAX_NAME
                or any(c in part for c in "/\\\0")):
            raise PathEscapeError(f"{shown(part)} is not a plain file or folder name")
    path = base.joinpath(*parts)
    real_root = base.resolve()
    real = path.resolve()
    if real != real_root and real_root not in real.parents:
        raise PathEscapeError(f"{shown(str(path), 80)} would be outside {real_root}")
    return path
