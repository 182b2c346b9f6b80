"""``isobalance hold VIDEO --exercise ID -o OUT/``: check an isometric hold, frame by frame.

``run_hold`` does the work (usable from the dashboard); ``hold_command`` is the typer command the CLI
mounts. Frames stream through the pose model into the same ``HoldMonitor`` a live webcam uses
(``webcam:N`` works too; it stops when the protocol is done or after ``--max-frames``). Outputs in
OUT/: hold.json (result) and hold.mp4 (each frame annotated with timer, phase and stillness).
When a video breaks part-way, the result for the frames read is still written, then the error is
reported.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import typer

from vision.errors import IsobalanceError


class HoldInputError(IsobalanceError):
    """The input or the options of ``isobalance hold`` cannot be used."""


def run_hold(video: str | Path, exercise: str, out: Path, model: str | Path | None = None,
             calibrate_s: float = 0.0, settle_s: float = 1.0, write_video: bool = True,
             max_frames: int | None = None, config: Path | None = None, progress: bool = False) -> dict[str, Any]:
    """Run the hold monitor over a video (or webcam) and write OUT/hold.json (+ OUT/hold.mp4)."""
    from assessment.exercises import load_catalog
    from assessment.hold import HoldMonitor, HoldProtocol, HoldSettings, Phase
    from assessment.hold_drawing import draw_hold_overlay
    from isobalance.config import load_config
    from isobalance.paths import output_folder
    from vision.errors import NoPersonError, PartialInputError
    from vision.drawing import AnnotatedVideoWriter
    from vision.landmarker import PoseEstimator
    from vision.landmarks_job import model_for
    from vision.pipeline import make_smoother, stream_poses
    from vision.sources import open_source
    from vision.subject import SubjectSelector

    if not (math.isfinite(calibrate_s) and math.isfinite(settle_s)) or calibrate_s < 0 or settle_s <= 0:
        raise HoldInputError("--calibrate-s must be >= 0 and --settle-s > 0 (finite seconds), "
                             f"not {calibrate_s} and {settle_s}")
    protocol = HoldProtocol.from_exercise(load_catalog().get(exercise))    # CatalogError lists valid ids
    out = Path(out)
    output_folder(out)                  # checked before the long analysis, not after it
    spec = str(video)
    live = spec.startswith("webcam:")
    if not live and not Path(spec).exists():
        raise HoldInputError(f"video not found: {spec}")
    cfg = load_config(config).override("vision", model=str(model) if model is not None else None)
    model_path = model_for(cfg.vision.model)
    settings = cfg.vision.pipeline_settings()
    src = open_source(spec, **({"max_frames": max_frames} if live and max_frames else {}))
    info = src.info
    monitor = HoldMonitor(protocol, (info.width, info.height),
                          HoldSettings(calibrate_s=calibrate_s, settle_s=settle_s))
    video_path = out / "hold.mp4"
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=info.n_frames, unit="frame", desc=info.name, disable=None)
    writer = None
    try:
        # a long file on every core; otherwise (or a file that must be read in order) frames stream
        frames, seen = _hold_on_every_core(src, model_path, settings, monitor, protocol,
                                           video_path if write_video else None, bar) \
            if not live and not max_frames else (0, 0)
        if not frames:
            writer = AnnotatedVideoWriter(video_path, info.width, info.height, info.fps) if write_video else None
            if writer is not None:
                writer.__enter__()
            with PoseEstimator(model_path, mode="video", num_poses=settings.num_poses,
                               min_detection_confidence=settings.min_detection_confidence,
                               min_presence_confidence=settings.min_presence_confidence,
                               min_tracking_confidence=settings.min_tracking_confidence) as est:
                for frame, pose in stream_poses(src, est, SubjectSelector(), make_smoother(settings),
                                                settings.prefetch):
                    status = monitor.update(pose)
                    frames += 1
                    seen += pose.detected
                    if writer is not None:
                        rgb = frame.rgb.copy()
                        draw_hold_overlay(rgb, status, pose.image, protocol.still_landmarks)
                        writer.write(rgb, frame.timestamp_ms)
                    if bar is not None:
                        bar.update(1)
                    if (live and status.phase is Phase.DONE) or (max_frames and frames >= max_frames):
                        break
    finally:
        if writer is not None:
            writer.__exit__(None, None, None)
        if bar is not None:
            bar.close()
        src.close()
    if frames == 0:
        raise HoldInputError(f"{info.name} has no frames")
    if seen == 0:
        raise NoPersonError(f"no person detected in any of the {frames} frames of {info.name}; nothing to check")
    result = monitor.result()            # NotMeasurableError when the watched joints were never seen
    result.source = spec
    if src.error is not None:
        result.notes.append(f"the input broke part-way; only the first {frames} frames were checked: {src.error}")
    written = {"result": str(result.save_json(out / "hold.json")),
               "video": str(video_path) if write_video and video_path.exists() else None,
               "repetitions_completed": result.completed, "repetitions_planned": protocol.repetitions,
               "breaks": sum(len(r.breaks) for r in result.repetitions), "frames": frames}
    if src.error is not None:
        raise PartialInputError(f"{src.error} The result for the frames read is in {written['result']}.")
    return written


def _hold_on_every_core(src, model_path, settings, monitor, protocol, video_path: Path | None,
                        bar) -> tuple[int, int]:
    """A long video file: the track on every core (``vision.parallel``), the monitor over it frame by
    frame, then the annotated video drawn in parallel parts (``vision.render``). Returns (frames checked,
    frames with a person), or (0, 0) when the file is short or must be read sequentially (the caller's
    streaming loop then runs)."""
    from functools import partial

    from vision.parallel import available_cores, parallel_pays, run_parallel
    from vision.render import render_video
    from vision.sources import VideoFileSource
    from vision.track import PoseFrame

    if not isinstance(src, VideoFileSource) or not parallel_pays(src.info.n_frames):
        return 0, 0
    run = run_parallel(src.path, model_path, settings, on_progress=bar.update if bar is not None else None)
    if run is None:
        return 0, 0
    track = run.track
    statuses = [monitor.update(PoseFrame(int(track.frame_index[i]), float(track.timestamp_ms[i]), track.image[i],
                                         track.world[i], int(track.n_people[i]))) for i in range(len(track))]
    if video_path is not None:
        render_video(src.path, video_path, list(zip(statuses, track.image)),
                     partial(draw_hold_frame, still_landmarks=protocol.still_landmarks),
                     workers=available_cores(), info=src.info)
    return len(track), int(track.detected.sum())


def draw_hold_frame(rgb, index: int, timestamp_ms: float, payload, still_landmarks: tuple[str, ...] = ()) -> None:
    """``vision.render``'s drawing of one hold.mp4 frame: the same overlay as the streaming loop."""
    from assessment.hold_drawing import draw_hold_overlay

    status, image_landmarks = payload
    draw_hold_overlay(rgb, status, image_landmarks, still_landmarks)


def hold_command(
    video: Path = typer.Argument(..., help="Video file of the hold (or webcam:N for a live check)"),
    exercise: str = typer.Option(..., "--exercise", "-e", help="Exercise id from the catalog"),
    out: Path = typer.Option(Path("hold_out"), "-o", "--out", help="Output folder for hold.json and hold.mp4"),
    model: Optional[Path] = typer.Option(None, help="Pose model name (lite/full/heavy) or .task path"),
    calibrate_s: float = typer.Option(0.0, "--calibrate-s",
                                      help="Seconds at rest at the start to measure jitter (0 = default band)"),
    settle_s: float = typer.Option(1.0, "--settle-s", help="Seconds still in position before a hold starts"),
    video_out: bool = typer.Option(True, "--video/--no-video", help="Write the annotated video"),
    max_frames: Optional[int] = typer.Option(None, help="Stop after this many frames"),
    config: Optional[Path] = typer.Option(None, help="TOML configuration file"),
    progress: bool = typer.Option(True, help="Show a progress bar"),
) -> None:
    """Check that the joints an exercise names stay still during its isometric holds."""
    from isobalance.cli_errors import fail

    try:
        written = run_hold(video, exercise, out, model=model, calibrate_s=calibrate_s, settle_s=settle_s,
                           write_video=video_out, max_frames=max_frames, config=config, progress=progress)
    except IsobalanceError as exc:
        fail(exc)                       # one escaped line, the error's exit code
    typer.echo(f"result: {written['result']}")
    if written["video"]:
        typer.echo(f"video: {written['video']}")
    typer.echo(f"repetitions: {written['repetitions_completed']}/{written['repetitions_planned']} completed, "
               f"{written['breaks']} break(s)")
