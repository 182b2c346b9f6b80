"""Where isobalance keeps user data on this machine (never anywhere else)."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir(configured: str = "") -> Path:
    """The user data folder: ``configured`` (config ``dashboard.data_dir``), else ``$ISOBALANCE_DATA``,
    else ``$XDG_DATA_HOME/isobalance`` (``~/.local/share/isobalance``). Created on first use."""
    base = configured or os.environ.get("ISOBALANCE_DATA") or ""
    if not base:
        xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        base = str(Path(xdg) / "isobalance")
    path = Path(base).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_store(config, url: str | None = None):
    """The patient store a configuration names: database by ``store.store.resolve_url``'s order (``url``
    is the CLI's ``--db``, then config ``[store] database_url``, ``$ISOBALANCE_DATABASE_URL``, SQLite),
    files in this data folder. The one place the CLI gives the store its data folder."""
    from store import Store
    from store.store import resolve_url

    root = data_dir(config.dashboard.data_dir)
    return Store.open(resolve_url(url, root, config.store.database_url), root)


def output_folder(out: str | os.PathLike) -> Path:
    """Create the output folder OUT and prove a file can be written in it, before any long analysis
    (an unwritable folder used to fail only after the whole video was processed, as an internal error)."""
    import tempfile

    from vision.errors import IsobalanceError

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise IsobalanceError(f"output folder {out} is a file; pass a folder with -o")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".isobalance-write-check-"):
            pass
    except OSError as exc:
        raise IsobalanceError(f"cannot write to the output folder {out} ({exc.strerror or exc}); "
                              "choose another with -o") from None
    return out
