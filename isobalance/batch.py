"""Assess a whole archive of videos: every local core, or a Ray cluster; resumable; one bad video never
stops the rest.

Each video is one job (``assess_video``): landmarks -> assessment -> track.csv, report.json, report.html.
A job returns its files as bytes and the driver writes them, so the same function runs in a local
process pool or on Ray workers on other machines, and the outputs are the same either way (on a
cluster the input paths must be readable on every node: shared storage). Jobs run sequentially inside
(one landmarker, one core each): across many videos that keeps every core busy with no overlap cost.

OUT/<name>/ holds one video's files. ``<name>`` comes from the video's file name made safe
(``output_names``: letters, digits, ``.``, ``_``, ``-`` only, no leading dot, at most 80 characters, a
short hash added where two names would collide or clash with the summary files), and every folder is
checked to be inside OUT (store.paths.inside), so no file name can write anywhere else.
OUT/<name>/batch.json is written last and records the video's sha256, the settings key and its summary
row: a later run skips a video whose record matches (same bytes, same settings, files present).
OUT/summary.csv and OUT/summary.html have one row per video: status, frames, view, key metrics, findings;
the HTML links each report by a relative file link (``./<name>/report.html``, URL-quoted, HTML-escaped).
"""

from __future__ import annotations

import concurrent.futures as cf
import concurrent.futures.process
import csv
import dataclasses
import glob
import hashlib
import html
import io
import json
import os
import re
import tempfile
import unicodedata
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from store.paths import inside
from vision.errors import IsobalanceError

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".3gp"}
OUTPUT_FILES = ("track.csv", "report.json", "report.html")
RECORD = "batch.json"
# Static metrics shown as columns (degrees, subject's sides); the rest stay in each report.
KEY_METRICS = ("head_tilt", "shoulder_line_tilt", "pelvis_line_tilt", "trunk_lateral_lean",
               "knee_fppa_left", "knee_fppa_right", "cva_proxy_left", "cva_proxy_right")
COLUMNS = ("video", "status", "frames", "detection_rate", "duration_s", "view",
           *(f"{m}_deg" for m in KEY_METRICS), "flagged", "findings", "message")


class BatchError(IsobalanceError):
    """The batch as a whole cannot run (no videos, bad output folder, Ray missing or unreachable)."""


class BatchInterrupted(BatchError):
    """Ctrl+C / SIGINT / SIGTERM: workers stopped, the finished videos kept and summarised."""

    exit_code = 130


# --------------------------------------------------------------------------------------------- inputs
def find_videos(spec: str | os.PathLike) -> list[Path]:
    """Videos in a folder (recursively) or matching a glob pattern, in a stable order."""
    text = str(spec)
    path = Path(text)
    if path.is_dir():
        found = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES]
    elif path.is_file():
        found = [path]
    else:
        found = [Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file()]
    found = sorted({p.resolve() for p in found})
    if not found:
        raise BatchError(f"no videos found in {text} (looked for {', '.join(sorted(VIDEO_SUFFIXES))}).")
    return found


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


MAX_NAME = 80


def safe_stem(stem: str) -> str:
    """A file stem as a plain folder name: word characters, ``.``, ``_``, ``-``; no leading or trailing
    dot (``..``, hidden folders); at most ``MAX_NAME`` characters; ``video`` if nothing is left."""
    text = re.sub(r"[^\w.-]+", "_", unicodedata.normalize("NFKC", stem))
    return text.strip("._-")[:MAX_NAME].rstrip("._-") or "video"


SUMMARY_FILES = ("summary.csv", "summary.html")


def _reserved(name: str) -> bool:
    """Names the batch writes itself in OUT (the summary files and their temp files)."""
    return name.lower() in {n + t for n in SUMMARY_FILES for t in ("", ".partial")}


def output_names(videos: list[Path], digests: list[str]) -> list[str]:
    """One folder name per video, never the same twice (case-insensitively): its safe stem, with the
    hash added where two stems collide or clash with the summary files, then a counter if still taken.
    The same videos give the same names on every run (resuming relies on it)."""
    stems = [safe_stem(v.stem) for v in videos]
    lowered = [s.lower() for s in stems]
    names: list[str] = []
    taken: set[str] = set()
    for stem, digest in zip(stems, digests):
        base = stem if lowered.count(stem.lower()) == 1 and not _reserved(stem) else f"{stem}-{digest[:8]}"
        name, n = base, 2
        while name.lower() in taken or _reserved(name):
            name, n = f"{base}-{n}", n + 1
        taken.add(name.lower())
        names.append(name)
    return names


# --------------------------------------------------------------------------------------------- one job
@dataclass(frozen=True)
class VideoJob:
    path: str
    name: str                 # output folder name (also the summary's ``video`` column)
    sha256: str
    vision: dict[str, Any]    # isobalance.config.VisionConfig fields
    settings_key: str


@dataclass
class VideoOutcome:
    name: str
    row: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def settings_key(vision: dict[str, Any], model_sha256: str) -> str:
    """Everything that changes a video's outputs, hashed: vision settings, model bytes, version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("isobalance")
    except PackageNotFoundError:
        ver = "unknown"
    text = json.dumps({"vision": vision, "model": model_sha256, "isobalance": ver}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def assess_video(job: VideoJob) -> VideoOutcome:
    """Worker body (local process or Ray task): one video -> its files and summary row. Never raises."""
    row: dict[str, Any] = {"video": job.name}
    try:
        return _assess_video(job, row)
    except IsobalanceError as exc:
        row.update(status="error", message=str(exc))
    except Exception as exc:  # a bug or a library failure on odd input: reported, the batch goes on
        row.update(status="error", message=f"internal error: {type(exc).__name__}: {exc}")
    return VideoOutcome(job.name, _full_row(row))


def _assess_video(job: VideoJob, row: dict[str, Any]) -> VideoOutcome:
    from assessment.assess import assess
    from assessment.report import write_reports
    from isobalance.config import VisionConfig
    from vision.errors import NoPersonError
    from vision.landmarks_job import model_for
    from vision.pipeline import PartialTrackError, extract_track

    vision = VisionConfig(**job.vision)
    path = Path(job.path)
    error = None
    try:
        track = extract_track(path, model_for(vision.model), vision.pipeline_settings())
    except PartialTrackError as exc:
        track, error = exc.track, exc
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="isobalance-batch-") as tmp:
        out = Path(tmp)
        if len(track):
            files["track.csv"] = track.save(out / "track.csv").read_bytes()
        row.update(frames=len(track), detection_rate=round(track.detection_rate(), 3),
                   duration_s=round(float(track.timestamp_ms[-1]) / 1000, 2) if len(track) else 0.0)
        try:
            report = assess(track, video_path=path, input_path=path)
        except NoPersonError as exc:
            row.update(status="no person", message=str(exc))
            return VideoOutcome(job.name, _full_row(row), files)
        if error is not None:
            report.warnings.append(f"the input broke part-way; only the first {len(track)} frames were "
                                   f"assessed: {error}")
        report_json, report_html = write_reports(report, out / "report.json", out / "report.html")
        files["report.json"], files["report.html"] = report_json.read_bytes(), report_html.read_bytes()
    row.update(_report_columns(report))
    row.update(status="partial" if error is not None else "ok", message=str(error) if error else "")
    return VideoOutcome(job.name, _full_row(row), files)


def _report_columns(report) -> dict[str, Any]:
    by_metric = {f.metric: f for f in report.findings if f.kind == "static"}
    cols: dict[str, Any] = {"view": (report.views or {}).get("dominant", "")}
    for m in KEY_METRICS:
        f = by_metric.get(m)
        cols[f"{m}_deg"] = round(f.value, 1) if f is not None and f.value is not None and f.measurable else ""
    flagged = [f for f in report.findings if f.status == "flagged"]
    cols["flagged"] = "; ".join(f"{f.label}: {f.direction or round(f.value, 1)}" for f in flagged)
    measured = sum(1 for f in report.findings if f.measurable)
    cols["findings"] = f"{len(flagged)} flagged of {measured} measured ({len(report.hypotheses)} hypotheses)"
    return cols


def _full_row(row: dict[str, Any]) -> dict[str, Any]:
    return {c: row.get(c, "") for c in COLUMNS}


# --------------------------------------------------------------------------------------------- engines
def _failed(job: VideoJob, why: str) -> VideoOutcome:
    return VideoOutcome(job.name, _full_row({"video": job.name, "status": "error", "message": why}))


def local_outcomes(jobs: list[VideoJob], workers: int) -> Iterator[VideoOutcome]:
    """Jobs on a local pool of ``workers`` processes (spawn: MediaPipe is not fork-safe), as they finish."""
    from vision.workers import worker_pool

    if not jobs:
        return
    # workers stop with an interrupt and with their driver (vision.workers); finished outcomes are
    # already yielded, so Ctrl+C keeps them and the summary lists them
    with worker_pool(max(1, min(workers, len(jobs)))) as pool:
        futures = {pool.submit(assess_video, job): job for job in jobs}
        for fut in cf.as_completed(futures):
            try:
                yield fut.result()
            except cf.process.BrokenProcessPool:
                yield _failed(futures[fut], "the worker process died (out of memory or killed); "
                                            "run the batch again to retry this video")


def ray_outcomes(jobs: list[VideoJob], address: str | None) -> Iterator[VideoOutcome]:
    """Jobs as Ray tasks (one CPU each) on the cluster at ``address``, or on the Ray already initialised."""
    try:
        import ray
    except ImportError:
        raise BatchError("Ray is not installed; install it with: pip install 'isobalance[ray]'") from None
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise BatchError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(assess_video)
        refs = {task.remote(job): job for job in jobs}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as exc:
                    yield _failed(refs[ref], f"the Ray task failed: {type(exc).__name__}")
    finally:
        if started:
            ray.shutdown()


# --------------------------------------------------------------------------------------------- driver
@dataclass
class BatchResult:
    rows: list[dict[str, Any]]
    out: Path
    reused: int
    summary_csv: Path
    summary_html: Path

    @property
    def failed(self) -> int:
        return sum(1 for r in self.rows if r["status"] == "error")


def run_batch(inputs: str | os.PathLike | Iterable[os.PathLike], out: str | os.PathLike,
              vision=None, workers: int | None = None, ray_address: str | None = None,
              use_ray: bool = False, progress: bool = False,
              on_outcome: Callable[[VideoOutcome], None] | None = None) -> BatchResult:
    """Assess every video of ``inputs`` (a folder, a glob or a list) into ``out``.

    ``vision`` is an ``isobalance.config.VisionConfig`` (default: the configuration defaults).
    Local by default on ``workers`` processes (all available cores); with ``use_ray`` on a Ray cluster
    (``ray_address``: "auto", "ray://host:10001", "local", or None for an already initialised Ray).
    """
    from isobalance.config import VisionConfig
    from isobalance.paths import output_folder
    from vision.landmarks_job import model_for
    from vision.models import sha256_of
    from vision.parallel import available_cores

    vision = vision or VisionConfig()
    out = Path(out)
    if isinstance(inputs, (str, os.PathLike)):
        videos = find_videos(inputs)
    else:
        videos = sorted({Path(p).resolve() for p in inputs})
        if not videos:
            raise BatchError("no videos given")
    output_folder(out)                  # checked before any video is read
    vision_dict = dataclasses.asdict(vision)
    key = settings_key(vision_dict, sha256_of(model_for(vision.model)))
    digests = [sha256_file(v) for v in videos]
    names = output_names(videos, digests)
    rows: dict[str, dict[str, Any]] = {}
    jobs: list[VideoJob] = []
    for video, digest, name in zip(videos, digests, names):
        previous = _reusable_row(inside(out, name), digest, key)
        if previous is not None:
            rows[name] = previous | {"video": name}
        else:
            jobs.append(VideoJob(str(video), name, digest, vision_dict, key))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(videos), initial=len(rows), unit="video", desc="batch", disable=None)
    interrupted = False
    try:
        outcomes = (ray_outcomes(jobs, ray_address) if use_ray
                    else local_outcomes(jobs, workers or available_cores()))
        by_name = {j.name: j for j in jobs}
        for outcome in outcomes:
            _write_outcome(inside(out, outcome.name), outcome, by_name[outcome.name])
            rows[outcome.name] = outcome.row
            if on_outcome is not None:
                on_outcome(outcome)
            if bar is not None:
                bar.set_postfix_str(f"{outcome.name}: {outcome.row['status']}", refresh=False)
                bar.update(1)
    except KeyboardInterrupt:       # the pool is already stopped (vision.workers.worker_pool)
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
        ordered = [rows[n] for n in names if n in rows]
        csv_path, html_path = write_summary(ordered, out)
    if interrupted:
        raise BatchInterrupted(f"{len(ordered)} of {len(videos)} videos finished before the interruption "
                               f"and are kept; their summary: {html_path}")
    return BatchResult(ordered, out, len(videos) - len(jobs), csv_path, html_path)


def _reusable_row(folder: Path, digest: str, key: str) -> dict[str, Any] | None:
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("sha256") != digest or record.get("settings_key") != key:
        return None
    if not all((folder / f).is_file() for f in record.get("files", [])):
        return None
    return _full_row(record.get("row", {}))


def _write_outcome(folder: Path, outcome: VideoOutcome, job: VideoJob) -> None:
    if not outcome.files and not folder.exists():
        if outcome.row["status"] == "error":
            return                                    # nothing to write, no empty folder
    folder.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:      # stale files of an earlier run with other settings must not linger
        if name not in outcome.files:
            (folder / name).unlink(missing_ok=True)
    for name, data in outcome.files.items():
        _atomic_write(folder / name, data)
    if outcome.row["status"] == "error":
        (folder / RECORD).unlink(missing_ok=True)     # nothing to reuse: the next run tries again
        return
    record = {"video": job.path, "sha256": job.sha256, "settings_key": job.settings_key,
              "files": sorted(outcome.files), "row": outcome.row}
    _atomic_write(folder / RECORD, json.dumps(record, indent=2).encode())  # last: marks the video done


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(data)
    tmp.replace(path)


# --------------------------------------------------------------------------------------------- summary
def write_summary(rows: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    csv_path, html_path = (out / n for n in SUMMARY_FILES)
    _atomic_write(csv_path, buf.getvalue().encode("utf-8"))
    _atomic_write(html_path, summary_html(rows).encode("utf-8"))
    return csv_path, html_path


_STATUS_COLOUR = {"ok": "#e6f4ea", "partial": "#fff4d6", "no person": "#fff4d6", "error": "#fde7e7"}


def report_link(name: str) -> str:
    """A video's report as a relative file link, safe inside an HTML attribute: ``./`` first so no name
    can read as a scheme (``javascript:``), every character but letters and digits URL-quoted."""
    return html.escape("./" + urllib.parse.quote(name, safe="") + "/report.html", quote=True)


def summary_html(rows: list[dict[str, Any]]) -> str:
    """A self-contained page: one row per video, linking to its report."""
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in _STATUS_COLOUR}
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in COLUMNS)
    body = []
    for r in rows:
        cells = []
        for c in COLUMNS:
            text = html.escape(str(r.get(c, "")))
            if c == "video" and r["status"] in ("ok", "partial"):
                text = f'<a href="{report_link(r["video"])}">{text}</a>'
            cells.append(f"<td>{text}</td>")
        colour = _STATUS_COLOUR.get(r["status"], "#ffffff")
        body.append(f'<tr style="background:{colour}">{"".join(cells)}</tr>')
    tally = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>isobalance batch summary</title>"
            "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:13px}"
            "td,th{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}"
            "th{background:#f3f3f3}</style></head><body>"
            f"<h1>Batch summary</h1><p>{len(rows)} videos: {html.escape(tally)}. Angles in degrees, "
            "subject's sides; flagged findings suggest an imbalance to check, they are not diagnoses. "
            "Each report lists its evidence and sources.</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></body></html>")
