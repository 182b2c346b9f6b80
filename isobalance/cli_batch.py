"""``isobalance batch DIR_OR_GLOB -o OUT/``: assess many videos on every core, or on a Ray cluster.

Mounted by isobalance.cli as ``app.command("batch")(cli_batch.batch_command)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vision.errors import IsobalanceError


def batch_command(
    inputs: str = typer.Argument(..., help="Folder of videos (searched recursively) or a glob, e.g. 'archive/**/*.mp4'"),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder: one folder per video, summary.csv, summary.html"),
    workers: Optional[int] = typer.Option(None, help="Local worker processes [all available cores]"),
    ray: Optional[str] = typer.Option(None, "--ray", help="Run on a Ray cluster: 'auto' (the cluster this machine "
                                      "belongs to), 'ray://HOST:10001', or 'local'. Needs pip install 'isobalance[ray]'"),
    model: Optional[str] = typer.Option(None, help="Pose model name (lite/full/heavy) or .task path"),
    config: Optional[Path] = typer.Option(None, help="TOML configuration file"),
    progress: bool = typer.Option(True, help="Show a progress bar"),
) -> None:
    """Assess a folder of videos: reports per video and one summary table (CSV + HTML). Resumable."""
    from isobalance.batch import BatchInterrupted, run_batch
    from isobalance.cli_errors import fail, printable
    from isobalance.config import load_config

    try:
        cfg = load_config(config).override("vision", model=model)
        result = run_batch(inputs, out, cfg.vision, workers=workers, ray_address=ray, use_ray=ray is not None,
                           progress=progress)
    except BatchInterrupted as exc:
        fail(exc, prefix="interrupted")
    except IsobalanceError as exc:
        fail(exc)
    statuses = [r["status"] for r in result.rows]
    tally = ", ".join(f"{statuses.count(s)} {s}" for s in dict.fromkeys(statuses))
    typer.echo(f"{len(result.rows)} videos ({tally}); {result.reused} reused from an earlier run")
    typer.echo(f"summary: {result.summary_html}")
    for row in result.rows:
        if row["status"] == "error":
            typer.echo(f"  {printable(row['video'])}: {printable(row['message'])}", err=True)
    if result.failed:
        raise SystemExit(2)
