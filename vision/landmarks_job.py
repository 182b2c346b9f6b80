"""The ``isobalance landmarks`` job: input -> track file(s) + annotated video + summary.json.

Outputs are written as frames arrive (the annotated video) or atomically at the end (the track), and
also when the input breaks part-way, so nothing computed is lost; the error is raised afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Callable

from vision.drawing import AnnotatedVideoWriter
from vision.errors import NoPersonError
from vision.models import resolve_model
from vision.parallel import available_cores, extract_track_fast, parallel_pays, run_parallel
from vision.pipeline import PartialTrackError, PipelineSettings, extract_track
from vision.render import BackgroundRender, draw_track_frame
from vision.sources import Frame, FrameSource, VideoFileSource, open_source
from vision.threads import BackgroundConsumer
from vision.track import LandmarkTrack, PoseFrame


def model_for(spec: str) -> Path:
    """A model name (lite/full/heavy) or a path to a bundle."""
    if spec.endswith(".task") or os.sep in spec:
        return resolve_model("full", path=spec)
    return resolve_model(spec)


def extract_with_annotated_video(src: FrameSource, model: Path, settings: PipelineSettings, video_path: Path,
                                 on_frame: Callable[[Frame, PoseFrame], None] | None = None,
                                 on_progress: Callable[[int], None] | None = None,
                                 on_track: Callable[[LandmarkTrack], None] | None = None
                                 ) -> tuple[LandmarkTrack, PartialTrackError | None]:
    """The track of ``src`` and its annotated video at ``video_path``.

    A long video file with no per-frame consumer (``on_frame``) runs on every core: the parallel track
    (``vision.parallel``), and the video drawn from its final poses in parallel parts on threads of their
    own (``vision.render.BackgroundRender``), the first part starting when the first segment ends, while
    the last still runs; ``on_track(track)`` runs while the parts draw (writing the track's files). Otherwise the pipeline runs sequentially while
    a background thread draws and encodes, and ``on_track`` runs at the end. Returns the track and the
    part-way error (or None): the video and the track keep every frame processed before a break. Used
    by the CLI and the dashboard's review page alike.
    """
    if on_frame is None and isinstance(src, VideoFileSource) and parallel_pays(src.info.n_frames):
        with BackgroundRender(src.path, video_path, draw_track_frame, workers=available_cores(),
                              info=src.info) as render:
            def draw(poses: list[PoseFrame], n: int) -> None:
                # the first part is drawn as soon as the first segment to end has made its frames final,
                # on the core it frees, while the last segment still runs (vision.parallel, ``on_poses``);
                # a pose's image is the track's row (LandmarkTrack.from_frames stacks these)
                render.put_final((pose.image for pose in poses), len(poses), n)

            run = run_parallel(src.path, model, settings, on_progress=on_progress, on_poses=draw)
            if run is not None:
                if on_track is not None:
                    on_track(run.track)
                render.wait()
                return run.track, None
            render.cancel()    # a segment failed: the sequential path below draws the whole video again
    track, error = _extract_in_order(src, model, settings, video_path, on_frame, on_progress)
    if on_track is not None:
        on_track(track)
    return track, error


def _extract_in_order(src: FrameSource, model: Path, settings: PipelineSettings, video_path: Path,
                      on_frame: Callable[[Frame, PoseFrame], None] | None,
                      on_progress: Callable[[int], None] | None) -> tuple[LandmarkTrack, PartialTrackError | None]:
    """The sequential path: the pipeline in frame order, a background thread drawing and encoding."""
    if on_frame is None and on_progress is not None:
        on_frame = lambda frame, pose: on_progress(1)  # noqa: E731
    with AnnotatedVideoWriter(video_path, src.info.width, src.info.height, src.info.fps) as writer:

        def draw_and_write(item) -> None:
            frame, pose = item
            rgb = frame.rgb.copy()
            draw_track_frame(rgb, frame.index, frame.timestamp_ms, pose.image)
            writer.write(rgb, frame.timestamp_ms)

        # drawing and H.264 encoding overlap with inference on the other core
        with BackgroundConsumer(draw_and_write, depth=4) as annotate:

            def submit(frame: Frame, pose: PoseFrame) -> None:
                annotate.submit((frame, pose))
                if on_frame is not None:
                    on_frame(frame, pose)

            try:
                return extract_track(src, model, settings, on_frame=submit), None
            except PartialTrackError as exc:
                return exc.track, exc


def run_landmarks(source: str, out: Path, vision_cfg, parquet: bool = False, write_video: bool = True,
                  max_frames: int | None = None, progress: bool = False) -> dict[str, Any]:
    model = model_for(vision_cfg.model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kwargs = {"max_frames": max_frames} if str(source).startswith("webcam:") and max_frames else {}
    src = open_source(source, **kwargs)
    info = src.info
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=info.n_frames, unit="frame", desc=info.name, disable=None)
    error: PartialTrackError | None = None
    summary: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        stack.callback(src.close)
        if bar is not None:
            stack.callback(bar.close)
        if write_video:
            # the track's files are written while the video is still being drawn (parallel path)
            track, error = extract_with_annotated_video(
                src, model, vision_cfg.pipeline_settings(), out / "annotated.mp4",
                on_progress=bar.update if bar is not None else None,
                on_track=lambda t: summary.update(write_track_outputs(t, out, parquet)))
        else:
            try:
                # without an annotated video nothing needs the frames in order: all cores where it pays
                track = extract_track_fast(src, model, vision_cfg.pipeline_settings(),
                                           on_progress=bar.update if bar is not None else None)
            except PartialTrackError as exc:
                error, track = exc, exc.track
            summary = write_track_outputs(track, out, parquet)
    summary["annotated_video"] = str(out / "annotated.mp4") if write_video and len(track) else None
    summary["error"] = str(error) if error else None
    (out / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False))
    if error is not None:
        raise error
    if not track.detected.any():
        raise NoPersonError(f"no person detected in any of the {len(track)} frames of {info.name} "
                            f"(outputs written to {out}).")
    return summary


def write_track_outputs(track: LandmarkTrack, out: Path, parquet: bool) -> dict[str, Any]:
    track.save(out / "track.csv")
    if parquet:
        track.save(out / "track.parquet")
    detected = track.detected
    return {
        "source": track.meta.source,
        "frames": len(track),
        "frames_with_person": int(detected.sum()),
        "detection_rate": round(track.detection_rate(), 4),
        "frames_with_several_people": int((track.n_people > 1).sum()),
        "duration_s": round(float(track.timestamp_ms[-1]) / 1000, 3) if len(track) else 0.0,
        "size": [track.meta.width, track.meta.height],
        "rotation": track.meta.rotation,
        "model": track.meta.model,
        "smoothing": track.meta.smoothing,
        "subject": track.meta.subject,
        "track": str(out / "track.csv"),
    }
