"""`isobalance samples ...`: the real sample clips (manifest.json), where they are, and getting them."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

import sample_videos
from isobalance.cli_models import user_errors

samples_app = typer.Typer(help="Sample clips of real people: list and fetch (sha256-checked).", no_args_is_help=True)


@samples_app.command("list")
def list_samples() -> None:
    """Every clip: what it shows, frames, license, and the checked local copy if there is one."""
    with user_errors():
        for clip in sample_videos.load_manifest().values():
            timing = f"{clip.frames} frames @ {clip.fps:g} fps" if clip.fps else "still image"
            typer.echo(f"{clip.name}: {clip.view} view, {clip.activity}; {clip.width}x{clip.height}, {timing}; "
                       f"{clip.license} ({clip.source['repo']})")
            for segment in clip.segments:
                typer.echo(f"    frames {segment.start_frame}-{segment.end_frame}: {segment.label}")
            try:
                local = sample_videos.find_local(clip.name) or f"not on this machine (fetch downloads {clip.url})"
            except sample_videos.SampleChecksumError as exc:
                local = f"WRONG FILE: {exc}"
            typer.echo(f"    local: {local}")


@samples_app.command("fetch")
def fetch(
    names: Optional[List[str]] = typer.Argument(None, help="Clip names (default: all)."),
    from_dir: Optional[Path] = typer.Option(None, "--from", help="Copy from this folder instead of downloading."),
    dest: Optional[Path] = typer.Option(None, "-o", "--output", help="Destination folder (default: the user cache)."),
) -> None:
    """Copy (after a sha256 check) or download the clips into DEST."""
    with user_errors():
        target = dest if dest is not None else sample_videos.samples_cache_dir()
        for path in sample_videos.fetch(target, from_dir=from_dir, names=names or None):
            typer.echo(str(path))
