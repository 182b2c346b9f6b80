"""`isobalance models ...`: see, download, check and build the pose model bundles."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Optional

import typer

from isobalance.cli_errors import fail
from vision import models
from vision.errors import IsobalanceError

models_app = typer.Typer(help="Pose model bundles: list, fetch, verify, build offline.", no_args_is_help=True)


@contextlib.contextmanager
def user_errors():
    """An isobalance error becomes its message on stderr and exit code 2, never a traceback."""
    try:
        yield
    except IsobalanceError as exc:
        fail(exc)                       # one escaped line, the error's exit code


@models_app.command("list")
def list_models() -> None:
    """Each cache slot: cached or not, path, sha256, where it came from; then the model in use."""
    with user_errors():
        for slot in models.cached_models():
            state = "cached " if slot.cached else "missing"
            typer.echo(f"{slot.name:<22} {state} {slot.path}")
            if slot.cached:
                typer.echo(f"{'':<22} sha256 {slot.sha256}  source: {slot.source or 'unrecorded'}")
        typer.echo(f"cache: {models.models_dir()}")
    try:
        typer.echo(f"in use for 'full': {models.resolve_model('full')}")
    except IsobalanceError as exc:
        typer.echo(f"in use for 'full': none ({exc})")


@models_app.command("fetch")
def fetch(
    name: str = typer.Argument("full", help="lite, full or heavy"),
    force: bool = typer.Option(False, "--force", help="Download again even if cached."),
) -> None:
    """Download an official bundle from Google, check it loads, record its sha256."""
    with user_errors():
        path = models.fetch_model(models.check_name(name), force=force)
        typer.echo(f"{path}  sha256 {models.sha256_of(path)}")


@models_app.command("verify")
def verify(target: Optional[str] = typer.Argument(None, help="lite/full/heavy or a .task path (default: full)")) -> None:
    """Check a bundle: uncompressed zip, both pose members, loadable by MediaPipe; print its sha256."""
    with user_errors():
        if target is None or target in models.MODEL_NAMES:
            path = models.resolve_model(target or "full")
        else:
            path = Path(target)
        report = models.verify_model(path)
        typer.echo(f"path     {report.path}")
        typer.echo(f"sha256   {report.sha256}")
        typer.echo(f"size     {report.size} bytes")
        typer.echo(f"members  {', '.join(report.members)}")
        if report.path.resolve().parent == models.models_dir().resolve():
            models.check_against_registry(report.path, "found in cache")
            recorded = models.read_registry()[report.path.name]
            typer.echo(f"registry matches the sha256 recorded {recorded['recorded']} ({recorded['source']})")
        if not report.loads:
            raise models.InvalidModelError(f"{report.path} does not load in MediaPipe: {report.load_error}")
        typer.echo("loads    yes (MediaPipe PoseLandmarker)")


@models_app.command("build")
def build(
    name: str = typer.Argument("full", help="full or lite"),
    wheel: Optional[Path] = typer.Option(None, "--wheel", help="A mediapipe==0.10.21 wheel already on disk."),
    npm_tarball: Optional[Path] = typer.Option(None, "--npm-tarball",
                                               help="lite: the @mediapipe/pose 0.5.1675469404 npm tarball on disk."),
) -> None:
    """Build a bundle offline: the pose detector (and the 'full' landmark model) from mediapipe 0.10.21's PyPI
    wheel, the 'lite' landmark model from Google's @mediapipe/pose npm package (neither is installed)."""
    with user_errors():
        path = models.build_offline(wheel, name=name, npm_tarball=npm_tarball)
        typer.echo(f"{path}  sha256 {models.sha256_of(path)}")
