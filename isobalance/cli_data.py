"""``isobalance data purge``: remove what no saved session refers to from the data folder.

Today that is the dashboard's uploads (``<data>/uploads/<id>/``: the uploaded video, annotated video,
key frames, track and reports) that were never saved to a patient's history; store/uploads.py explains
how the reference is kept. The dashboard removes them by itself after ``dashboard.upload_retention_hours``;
this command does it now (``--older-than`` keeps recent ones, e.g. a review still running).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from isobalance.cli_sessions import CONFIG, DB, open_store

data_app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                       help="Housekeeping of the data folder")
MB = 1024 * 1024


@data_app.command("purge")
def data_purge(older_than: float = typer.Option(0.0, "--older-than", min=0.0,
                                                help="Only uploads untouched for this many hours [0: all]"),
               dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed"),
               db: Optional[str] = DB, config: Optional[Path] = CONFIG):
    """Remove uploaded videos and everything made from them that no saved session refers to."""
    from store.uploads import list_uploads, purge_uploads

    with open_store(db, config) as store:
        gone = purge_uploads(store.layout.uploads, store.referenced_uploads(), older_than * 3600, dry_run=dry_run)
        kept = list_uploads(store.layout.uploads, store.referenced_uploads())
    for u in gone:
        typer.echo(f"{'would remove' if dry_run else 'removed'} upload {u.id[:8]}  {u.size_bytes / MB:.1f} MB  "
                   f"{u.age_s / 3600:.1f} h old")
    freed = sum(u.size_bytes for u in gone) / MB
    typer.echo(f"{len(gone)} unsaved upload(s), {freed:.1f} MB {'would be ' if dry_run else ''}removed; "
               f"{sum(u.referenced for u in kept)} upload(s) kept for saved sessions, "
               f"{sum(not u.referenced for u in kept)} unsaved kept (newer than --older-than)")
