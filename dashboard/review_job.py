"""Process one saved upload with the same code as the CLI: landmarks -> assess -> report files.

Nothing here measures anything: ``vision.pipeline.extract_track`` finds the landmarks (drawn into an
annotated H.264 video as they arrive, like ``isobalance landmarks``), ``assessment.assess.assess``
makes the report, ``assessment.report`` writes its JSON and HTML. Everything lands in the upload's own
folder, next to a ``review.json`` record the page reads back, so a finished review can be shown again
without recomputing it.

Seam for the session store: ``review_upload(..., on_report=save)`` calls ``save(report, files)`` with
the finished ``Report`` and the paths of every file written (keys of ``ReviewResult.files``) once the
report is on disk. It is not called when there is no report (nobody in the video).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from assessment.report import MAX_KEY_FRAMES_PER_FINDING, Report, write_atomic
from dashboard.uploads import SavedUpload, UploadRejected, inside, load_upload
from isobalance.config import Config
from vision.errors import IsobalanceError, NoPersonError
from vision.track import LandmarkTrack

REVIEW_RECORD = "review.json"
KEY_FRAME_DIR = "keyframes"
COMPLETE, PARTIAL, NO_PERSON = "complete", "partial", "no_person"

ProgressFn = Callable[[int, "int | None"], None]
ReportFn = Callable[[Report, dict[str, Path]], None]


class ReviewError(IsobalanceError):
    """A finished review cannot be read back (its files are missing or damaged)."""


@dataclass
class ReviewResult:
    upload: SavedUpload
    status: str                                   # complete | partial | no_person
    message: str = ""                             # why partial / why no report, in plain words
    files: dict[str, Path] = field(default_factory=dict)   # kind -> file inside upload.folder
    report: Report | None = None                  # in memory only right after processing

    def to_dict(self) -> dict[str, Any]:
        return {"upload": self.upload.to_dict(), "status": self.status, "message": self.message,
                "files": {k: p.name if k != "key_frames" else f"{KEY_FRAME_DIR}/" for k, p in self.files.items()}}


def extract_annotated(upload: SavedUpload, config: Config, model_path: str | os.PathLike,
                      on_progress: ProgressFn | None = None) -> tuple[LandmarkTrack, IsobalanceError | None]:
    """(track, error raised part-way or None). Writes ``annotated.mp4`` while the model runs."""
    from vision.landmarks_job import extract_with_annotated_video
    from vision.sources import open_source

    done = 0

    def on_frame(frame, pose) -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, info.n_frames)

    with open_source(upload.video) as src:
        info = src.info
        return extract_with_annotated_video(src, Path(model_path), config.vision.pipeline_settings(),
                                            upload.folder / "annotated.mp4", on_frame=on_frame)


def write_key_frames(report: Report, folder: Path) -> Path:
    """``keyframes/frame_<index>.jpg``: each finding's evidence frames with the skeleton drawn
    (the same pictures as the HTML report, made by ``assessment.report.key_frame_images``)."""
    from assessment.report import key_frame_images

    out = folder / KEY_FRAME_DIR
    out.mkdir(exist_ok=True)
    if report.track is None:
        return out
    wanted = [int(i) for f in report.findings for i in list(f.frames)[:MAX_KEY_FRAMES_PER_FINDING]]
    for index, jpeg in key_frame_images(report.track, wanted, report.video_path).items():
        write_atomic(out / key_frame_name(index), base64.b64decode(jpeg))
    return out


def key_frame_name(index: int) -> str:
    return f"frame_{int(index):06d}.jpg"


def review_upload(upload: SavedUpload, config: Config, model_path: str | os.PathLike,
                  on_progress: ProgressFn | None = None, on_report: ReportFn | None = None) -> ReviewResult:
    """Landmarks, annotated video, assessment and report files for one upload.

    A video that breaks part-way gives a ``partial`` review of the frames read before the break; a
    video with nobody in it gives a ``no_person`` review (annotated video and track, no report). Other
    errors are raised as ``IsobalanceError`` with a plain message. ``model_path`` is the bundle
    ``config.vision.model`` names (``dashboard.common.model_path``).
    """
    track, error = extract_annotated(upload, config, model_path, on_progress)
    return assess_track(upload, track, error, on_report)


def assess_track(upload: SavedUpload, track: LandmarkTrack, error: IsobalanceError | None = None,
                 on_report: ReportFn | None = None) -> ReviewResult:
    """The assessment half of ``review_upload``: ``assess`` + report files + key frames + record."""
    from assessment.assess import assess
    from assessment.report import write_reports

    folder = upload.folder
    files: dict[str, Path] = {"video": upload.video, "track_csv": track.save(folder / "track.csv")}
    if (folder / "annotated.mp4").is_file():
        files["annotated_video"] = folder / "annotated.mp4"
    status, message = (PARTIAL, f"The video broke part-way; only the first {len(track)} frames were "
                                f"assessed: {_plain(error, upload)}") if error is not None else (COMPLETE, "")
    try:
        report = assess(track, video_path=upload.video, input_path=upload.video)
    except NoPersonError as exc:
        result = ReviewResult(upload, NO_PERSON, _plain(exc, upload) + (f" {message}" if message else ""), files)
        write_record(result)
        return result
    report.input["name"] = upload.original_name
    if error is not None:
        report.warnings.append(message)
    files["report_json"], files["report_html"] = write_reports(report, folder / "report.json",
                                                               folder / "report.html")
    files["key_frames"] = write_key_frames(report, folder)
    result = ReviewResult(upload, status, message, files, report)
    write_record(result)
    if on_report is not None:
        on_report(report, dict(files))
    return result


def _plain(error: BaseException | None, upload: SavedUpload) -> str:
    """The error's message with the generated path replaced by the name the user uploaded."""
    text = str(error or "")
    for p in (upload.video, upload.video.name):
        text = text.replace(str(p), upload.original_name)
    return text


def write_record(result: ReviewResult) -> Path:
    return write_atomic(result.upload.folder / REVIEW_RECORD,
                        json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")


def load_review(config: Config, upload_id: str) -> tuple[ReviewResult, dict[str, Any] | None]:
    """A finished review read back from its folder: (result without the in-memory report, report JSON
    data or None). Every path is rebuilt from plain file names inside the upload's folder."""
    upload = load_upload(config, upload_id)
    try:
        record = json.loads((upload.folder / REVIEW_RECORD).read_text(encoding="utf-8"))
        files = {k: inside(upload.folder, v) if k != "key_frames" else upload.folder / KEY_FRAME_DIR
                 for k, v in record["files"].items()}
        result = ReviewResult(upload, record["status"], record.get("message", ""), files)
        data = None
        if "report_json" in files:
            data = json.loads(files["report_json"].read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UploadRejected):
        raise ReviewError(f"the review of {upload.original_name} is incomplete or damaged; "
                          f"upload the video again.") from None
    return result, data
