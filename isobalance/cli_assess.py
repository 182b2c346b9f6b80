"""``isobalance assess VIDEO_OR_TRACK -o OUT/``: landmarks -> findings -> hypotheses -> plan -> report.

``run_assess`` does the work (usable from the dashboard); ``assess_command`` is the typer command the
CLI mounts. Outputs in OUT/: track.csv, report.json, report.html. When a video breaks part-way the
frames read before the break are still assessed and written, then the error is reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from vision.errors import IsobalanceError

TRACK_SUFFIXES = (".csv", ".parquet")


class AssessInputError(IsobalanceError):
    """The input to ``isobalance assess`` cannot be read as a video or a landmark track."""


def load_input_track(path: Path, model: str | None, config: Path | None, progress: bool):
    """(track, video_path or None, error raised part-way or None) for a video/image or a track file."""
    from vision.track import LandmarkTrack, TrackFormatError

    if path.suffix.lower() in TRACK_SUFFIXES:
        try:
            return LandmarkTrack.load(path), None, None
        except TrackFormatError as exc:
            raise AssessInputError(f"{exc}. Pass a video, or a track written by 'isobalance landmarks'.") from None
    if not path.exists():
        raise AssessInputError(f"input not found: {path}")
    from isobalance.config import load_config
    from vision.landmarks_job import model_for
    from vision.parallel import extract_track_fast
    from vision.pipeline import PartialTrackError
    from vision.sources import open_source

    cfg = load_config(config).override("vision", model=model)
    model_path = model_for(cfg.vision.model)
    src = open_source(str(path))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=src.info.n_frames, unit="frame", desc=src.info.name, disable=None)
    try:
        # all cores for a long video file (vision.parallel), else the sequential extract_track as before
        track = extract_track_fast(src, model_path, cfg.vision.pipeline_settings(),
                                   on_progress=bar.update if bar is not None else None)
        error = None
    except PartialTrackError as exc:
        track, error = exc.track, exc
    finally:
        if bar is not None:
            bar.close()
        src.close()
    return track, path, error


def run_assess(input_path: Path, out: Path, model: str | None = None, config: Path | None = None,
               video: Path | None = None, progress: bool = False, pdf: bool = False) -> dict[str, Any]:
    """Assess one input and write OUT/track.csv, OUT/report.json, OUT/report.html (+ OUT/report.pdf);
    returns their paths."""
    from isobalance.paths import output_folder

    input_path, out = Path(input_path), Path(out)
    output_folder(out)                  # checked before the long analysis, not after it
    track, video_path, error = load_input_track(input_path, model, config, progress)
    # the landmarkers are closed: what they freed goes back to the OS before pandas & co. (~100 MB)
    # are imported, so those do not add to it (vision.memory)
    from vision.memory import release_free_memory

    release_free_memory()
    from assessment.assess import assess
    from assessment.report import write_reports

    if video is not None:
        if not Path(video).is_file():
            raise AssessInputError(f"video for key frames not found: {video}")
        video_path = Path(video)
    written = {"track": str(track.save(out / "track.csv"))}
    report = assess(track, video_path=video_path, input_path=input_path)
    if error is not None:
        report.warnings.append(f"the input broke part-way; only the first {len(track)} frames were assessed: {error}")
    report_json, report_html = write_reports(report, out / "report.json", out / "report.html")
    written["report_json"], written["report_html"] = str(report_json), str(report_html)
    if pdf:
        from assessment.report_pdf import write_pdf

        written["report_pdf"] = str(write_pdf(report, out / "report.pdf"))
    written["flagged"] = [f.metric for f in report.findings if f.status == "flagged"]
    written["hypotheses"] = [h.id for h in report.hypotheses]
    written["plan"] = [f"{p.exercise.id}:{p.side}" for p in report.plan]
    if error is not None:
        raise error
    return written


def assess_command(
    input: Path = typer.Argument(..., help="Video/image file, or a landmark track (.csv/.parquet)"),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder for track.csv, report.json, report.html"),
    model: Optional[str] = typer.Option(None, help="Pose model name (lite/full/heavy) or .task path"),
    video: Optional[Path] = typer.Option(None, help="With a track input: the video it came from, for key frames"),
    config: Optional[Path] = typer.Option(None, help="TOML configuration file"),
    progress: bool = typer.Option(True, help="Show a progress bar while reading a video"),
    pdf: bool = typer.Option(False, "--pdf", help="Also write report.pdf (A4, printable) for the therapist"),
) -> None:
    """Assess posture from a video or track: findings, muscle hypotheses, exercise plan, HTML report."""
    from isobalance.cli_errors import fail

    try:
        written = run_assess(input, out, model=model, config=config, video=video, progress=progress, pdf=pdf)
    except IsobalanceError as exc:
        fail(exc)                       # one escaped line, the error's exit code
    typer.echo(f"report: {written['report_html']}")
    if pdf:
        typer.echo(f"pdf: {written['report_pdf']}")
    typer.echo(f"flagged: {', '.join(written['flagged']) or 'none'}")
    typer.echo(f"plan: {', '.join(written['plan']) or 'none'}")
