"""The assessment report: one data record, written as schema-versioned JSON and a self-contained HTML page.

The JSON is what programs read (dashboard, later comparisons); its shape is pinned by
``assessment/data/report.schema.json`` and ``schema_version``. The HTML is what a therapist reads: a
plain-language summary, every finding with its evidence, plots, key frames with the skeleton drawn,
hypotheses with their manual tests, and the exercise plan. It needs no network: CSS, SVG plots and
JPEG key frames are all inline. Both files are written atomically (temp file + rename).
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import json
import math
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from assessment.exercises import PlannedExercise
from assessment.findings import FLAGGED, NOT_MEASURABLE, REPORTED, WITHIN, Finding, status_text
from assessment.hypotheses import DATA_DIR, Hypothesis, Reference
from vision.errors import IsobalanceError
from vision.track import LandmarkTrack

REPORT_SCHEMA_VERSION = 1
SCHEMA_PATH = DATA_DIR / "report.schema.json"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
MAX_KEY_FRAMES_PER_FINDING = 3
KEY_FRAME_HEIGHT = 360      # px: enough to see the posture, small enough to keep the HTML light

DISCLAIMERS = (
    "isobalance reports hypotheses, not diagnoses. A flagged metric suggests a possible muscle imbalance; "
    "only a clinical examination, starting with the confirmation tests listed, can support or reject it.",
    "Landmarks are joint centres estimated by a pose model from video, not bony landmarks (acromion, iliac "
    "crest, C7, tragus). Two-dimensional angles depend on camera height, distance and angle, and small "
    "left-right differences are common in people without symptoms.",
    "Thresholds and muscle patterns marked ⚠ come from weak, unvalidated or expert-opinion sources.",
    "Do exercises only after a therapist has confirmed the hypothesis. Keep them painless and light, keep "
    "breathing, and stop at once with pain, dizziness, numbness or tingling.",
    "isobalance is not a medical device.",
)


class ReportError(IsobalanceError):
    """A report cannot be built, validated or written."""


@dataclass
class Report:
    input: dict[str, Any]
    track_info: dict[str, Any]
    views: dict[str, Any]
    framing: dict[str, Any]
    camera_roll: dict[str, Any]
    findings: list[Finding]
    hypotheses: list[Hypothesis]
    plan: list[PlannedExercise]
    series: dict[str, dict[str, Any]]
    references: Mapping[str, Reference]
    warnings: list[str] = field(default_factory=list)
    created_utc: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc)
                             .strftime("%Y-%m-%dT%H:%M:%SZ"))
    # Not serialised: what the HTML needs to draw key frames.
    track: LandmarkTrack | None = field(default=None, repr=False, compare=False)
    video_path: Path | None = field(default=None, repr=False, compare=False)

    @property
    def summary(self) -> list[str]:
        return summarize(self)

    def cited_references(self) -> dict[str, Reference]:
        """Only the references this report cites (findings, hypotheses, tests, exercises)."""
        text = json.dumps([[_finding_dict(f) for f in self.findings], [h.to_dict() for h in self.hypotheses],
                           [p.to_dict() for p in self.plan]], ensure_ascii=False)
        return {k: r for k, r in self.references.items() if f'"{k}"' in text or f"[{k}]" in text}

    def to_dict(self) -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError, version

        try:
            ver = version("isobalance")
        except PackageNotFoundError:
            ver = "unknown"
        return json_safe({
            "schema_version": REPORT_SCHEMA_VERSION,
            "generator": {"name": "isobalance", "version": ver},
            "created_utc": self.created_utc,
            "input": self.input,
            "track": self.track_info,
            "views": self.views, "framing": self.framing, "camera_roll": self.camera_roll,
            "summary": self.summary,
            "findings": [_finding_dict(f) for f in self.findings],
            "hypotheses": [h.to_dict() for h in self.hypotheses],
            "plan": [p.to_dict() for p in self.plan],
            "series": self.series,
            "references": {k: r.to_dict() for k, r in self.cited_references().items()},
            "disclaimers": list(DISCLAIMERS),
            "warnings": list(self.warnings),
        })


def json_safe(value: Any) -> Any:
    """Plain JSON types: NaN/inf -> None, numpy scalars/arrays -> Python numbers/lists, tuples -> lists."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        # a numeric array with only finite values needs no walk item by item: ``tolist`` already gives
        # Python ints/floats/bools (the plot series: 0.26 s CPU a 1200-frame report walked one by one)
        if value.dtype.kind in "iub" or (value.dtype.kind == "f" and np.isfinite(value).all()):
            return value.tolist()
        return json_safe(value.tolist())
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def finding_key(f: Mapping[str, Any]) -> str:
    """Unique id of a finding within a report (also its HTML anchor: ``finding-<key>``)."""
    return f"{f.get('kind', 'static')}-{f['metric']}"


def _finding_dict(f: Finding | Mapping[str, Any]) -> dict[str, Any]:
    return dict(f) if isinstance(f, Mapping) else f.to_dict()


# ---------------------------------------------------------------------------------------- summary
def _fmt(value: Any, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    unit = "°" if unit in ("deg", "°") else (f" {unit}" if unit else "")
    return f"{float(value):.1f}{unit}"


def summarize(report: Report) -> list[str]:
    """Plain-language sentences for the top of the report."""
    fs = [{"label": "", "direction": "", "value": None, "unit": "", "status": ""} | _finding_dict(f)
          for f in report.findings]
    flagged = [f for f in fs if f["status"] == FLAGGED]
    within = [f for f in fs if f["status"] == WITHIN and status_text(f) != REPORTED]
    reported = [f for f in fs if status_text(f) == REPORTED]       # measured, no cut-off: never judged
    unmeasurable = [f for f in fs if f["status"] == NOT_MEASURABLE]
    t = report.track_info
    lines = [f"{t.get('n_frames', 0)} frames analysed; a person was found in "
             f"{100 * float(t.get('detection_rate') or 0):.0f}% of them."]
    if not fs:
        lines.append("No posture metric could be assessed from this recording.")
    elif flagged:
        lines.append(f"{len(flagged)} of {len(fs)} metrics flagged: "
                     + "; ".join(f"{f['label']} ({f['direction'] or _fmt(f['value'], f['unit'])})" for f in flagged)
                     + ".")
    else:
        lines.append(f"No metric was flagged ({len(within)} within thresholds"
                     + (f"; {len(reported)} reported without a published cut-off, never judged" if reported else "")
                     + "). Small left-right differences are common in people without symptoms.")
    if unmeasurable:
        lines.append(f"{len(unmeasurable)} not measurable from this recording: "
                     + ", ".join(f["label"] for f in unmeasurable) + " (reasons below).")
    muscle = [h for h in report.hypotheses if h.kind != "referral"]
    lines += [h.statement for h in report.hypotheses if h.kind == "referral"]
    if muscle:
        lines.append(f"The flags suggest {len(muscle)} muscle hypothes"
                     f"{'is' if len(muscle) == 1 else 'es'} to confirm by hand: "
                     + "; ".join(f"{h.pattern} ({h.confidence} confidence)" for h in muscle) + ".")
    if report.plan:
        lines.append(f"A plan of {len(report.plan)} isometric balancing exercises is suggested, to start only "
                     "after a therapist confirms the hypotheses.")
    lines.append("These are hypotheses, not diagnoses.")
    return lines


# ---------------------------------------------------------------------------------------- validation
def load_schema() -> dict[str, Any]:
    with open(SCHEMA_PATH, encoding="utf-8") as fh:
        return json.load(fh)


@functools.cache
def _schema_validator():
    """The schema's validator, built once per process. ``jsonschema.validate`` also re-checks the schema
    against its meta-schema on every call (0.3 s); the schema is a file of this package, checked by
    tests/assessment/test_report.py instead."""
    import jsonschema

    schema = load_schema()
    return jsonschema.validators.validator_for(schema)(schema)


# the per-frame arrays of a series entry and the JSON types of their items (report.schema.json $defs/series)
SERIES_ARRAYS = {"frames": ("integer",), "t_s": ("number", "null"), "values": ("number", "null")}
# Python types whose items are certainly of these JSON types (so the validator need not be asked)
_PLAIN_TYPES = {("integer",): (int,), ("number", "null"): (int, float, type(None))}


def _bad_item(items: list, types: tuple[str, ...]) -> int | None:
    """Index of the first item that is of none of the JSON ``types``, else None. Items whose exact Python
    type is plainly one of them (an ``int`` for "integer"; ``int``/``float``/``None`` for "number" or
    "null") pass at once; any other item is judged by the validator's own type checker, so "integer",
    "number", "null" mean exactly what they mean to jsonschema (1.5 is no integer, 2.0 is, True is neither)."""
    plain = _PLAIN_TYPES[types]
    is_type = _schema_validator().is_type
    for i, v in enumerate(items):
        if type(v) not in plain and not any(is_type(v, t) for t in types):
            return i
    return None


def _without_series_items(data: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(``data`` with each series' per-frame arrays emptied, the first bad per-frame item as "where: why"
    or None). jsonschema walks every number of those arrays through a ``$ref`` (1.46 s CPU for a 1200-frame
    clip's record); their items are checked here in one plain loop instead, the rest by jsonschema."""
    series = data.get("series")
    if not isinstance(series, dict):        # jsonschema's "object" is a dict
        return dict(data), None
    light, bad = {}, None
    for metric, entry in series.items():
        if not isinstance(entry, dict):
            light[metric] = entry
            continue
        entry = dict(entry)
        for key, types in SERIES_ARRAYS.items():
            items = entry.get(key)
            if isinstance(items, list):
                i = _bad_item(items, types) if bad is None else None
                if i is not None:
                    bad = f"series/{metric}/{key}/{i}: {items[i]!r} is not of type {' or '.join(types)}"
                entry[key] = []
        light[metric] = entry
    return {**data, "series": light}, bad


def validate_report(data: Mapping[str, Any]) -> None:
    """Raise ``ReportError`` naming the first place where ``data`` breaks the report schema."""
    import jsonschema

    if data.get("schema_version") != REPORT_SCHEMA_VERSION:
        raise ReportError(f"report schema_version {data.get('schema_version')!r} is not supported "
                          f"(this isobalance reads version {REPORT_SCHEMA_VERSION})")
    light, bad_item = _without_series_items(data)
    error = jsonschema.exceptions.best_match(_schema_validator().iter_errors(light))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ReportError(f"report does not match schema version {REPORT_SCHEMA_VERSION} at {where}: "
                          f"{error.message}")
    if bad_item is not None:
        raise ReportError(f"report does not match schema version {REPORT_SCHEMA_VERSION} at {bad_item}")


# ---------------------------------------------------------------------------------------- writing
def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write a file so readers see either the old file or the complete new one, never half of it."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.partial")  # same folder: rename is atomic
        try:
            with open(tmp, "xb") as fh:   # normal permissions (umask), unlike mkstemp's 0600
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def report_data(report: Report) -> dict[str, Any]:
    """``report`` as its validated JSON record. Validation walks every number of the per-frame series
    (1.1 s CPU for a 1200-frame clip), so writers that need the record twice take it from here once."""
    data = report.to_dict()
    validate_report(data)
    return data


def report_json(report: Report, data: Mapping[str, Any] | None = None) -> str:
    """The JSON text; ``data`` is ``report_data(report)`` when the caller already has it."""
    data = report_data(report) if data is None else data
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)


def write_json(report: Report, path: str | os.PathLike, data: Mapping[str, Any] | None = None) -> Path:
    return write_atomic(path, report_json(report, data) + "\n")


def write_html(report: Report, path: str | os.PathLike, data: Mapping[str, Any] | None = None) -> Path:
    return write_atomic(path, render_html(report, data))


def write_reports(report: Report, json_path: str | os.PathLike, html_path: str | os.PathLike
                  ) -> tuple[Path, Path]:
    """report.json and report.html from one validated record (validated once, not once per file)."""
    data = report_data(report)
    return write_json(report, json_path, data), write_html(report, html_path, data)


# ---------------------------------------------------------------------------------------- HTML pieces
def svg_plot(series: Mapping[str, Any], threshold: float | None, key_frames: Iterable[int] = (),
             width: int = 640, height: int = 170) -> str:
    """A small inline SVG line plot of one metric over time, with its threshold(s) and key frames."""
    t = np.array([np.nan if v is None else v for v in series["t_s"]], dtype=float)
    y = np.array([np.nan if v is None else v for v in series["values"]], dtype=float)
    ok = np.isfinite(t) & np.isfinite(y)
    if ok.sum() < 1:
        return ""
    lines = []
    if threshold is not None and math.isfinite(threshold):
        lines = [threshold] + ([-threshold] if np.nanmin(y) < 0 and threshold > 0 else [])
    lo = min([float(np.nanmin(y[ok]))] + lines)
    hi = max([float(np.nanmax(y[ok]))] + lines)
    pad = max(0.5, 0.1 * (hi - lo))
    lo, hi = lo - pad, hi + pad
    t0, t1 = float(np.nanmin(t[ok])), float(np.nanmax(t[ok]))
    t1 = t1 if t1 > t0 else t0 + 1.0
    ml, mr, mt, mb = 46, 10, 8, 22

    def px(tv: float) -> float:
        return ml + (tv - t0) / (t1 - t0) * (width - ml - mr)

    def py(yv: float) -> float:
        return mt + (hi - yv) / (hi - lo) * (height - mt - mb)

    parts = [f'<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="{_esc(series.get("label", ""))} over time">',
             f'<rect x="{ml}" y="{mt}" width="{width - ml - mr}" height="{height - mt - mb}" class="plot-bg"/>']
    frames = list(series.get("frames", []))
    for kf in key_frames:
        if kf in frames and math.isfinite(t[frames.index(kf)]):
            x = px(t[frames.index(kf)])
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{mt}" y2="{height - mb}" class="plot-key"/>')
    for lv in lines:
        parts.append(f'<line x1="{ml}" x2="{width - mr}" y1="{py(lv):.1f}" y2="{py(lv):.1f}" class="plot-thr"/>')
    if lo < 0 < hi:
        parts.append(f'<line x1="{ml}" x2="{width - mr}" y1="{py(0):.1f}" y2="{py(0):.1f}" class="plot-zero"/>')
    # one polyline per run of finite values, so gaps stay gaps
    run: list[str] = []
    for i in range(len(y)):
        if ok[i]:
            run.append(f"{px(t[i]):.1f},{py(y[i]):.1f}")
        if (not ok[i] or i == len(y) - 1) and run:
            if len(run) == 1:
                x0, y0 = run[0].split(",")
                parts.append(f'<circle cx="{x0}" cy="{y0}" r="2.5" class="plot-dot"/>')
            else:
                parts.append(f'<polyline points="{" ".join(run)}" class="plot-line"/>')
            run = []
    for v in sorted({round(lo + pad, 6), round(hi - pad, 6), *lines}):
        parts.append(f'<text x="{ml - 4}" y="{py(v) + 4:.1f}" class="plot-tick" text-anchor="end">{v:.1f}</text>')
    parts.append(f'<text x="{ml}" y="{height - 6}" class="plot-tick">{t0:.1f} s</text>')
    parts.append(f'<text x="{width - mr}" y="{height - 6}" class="plot-tick" text-anchor="end">{t1:.1f} s</text>')
    parts.append("</svg>")
    return "".join(parts)


def _esc(s: Any) -> str:
    from markupsafe import escape

    return str(escape(str(s)))


def key_frame_images(track: LandmarkTrack, frames: Iterable[int], video_path: Path | None = None
                     ) -> dict[int, str]:
    """frame index -> base64 JPEG with the skeleton drawn: on the video frame when a video is given,
    otherwise on a plain dark canvas of the video's size (still shows the posture)."""
    import cv2

    from vision.drawing import draw_pose

    wanted = sorted({int(f) for f in frames if int(f) in set(track.frame_index.tolist())})
    if not wanted:
        return {}
    row_of = {int(fi): i for i, fi in enumerate(track.frame_index)}
    pictures = key_frame_pictures(video_path, wanted) if video_path is not None else {}
    w, h = (track.meta.width or 720), (track.meta.height or 1280)
    out = {}
    for fi in wanted:
        rgb = pictures.get(fi)
        if rgb is None:
            rgb = np.full((h, w, 3), 40, dtype=np.uint8)
        draw_pose(rgb, track.image[row_of[fi]])
        rgb = _crop_to_body(rgb, track.image[row_of[fi]])
        scale = KEY_FRAME_HEIGHT / rgb.shape[0]
        small = cv2.resize(rgb, (max(1, round(rgb.shape[1] * scale)), KEY_FRAME_HEIGHT),
                           interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            out[fi] = base64.b64encode(buf.tobytes()).decode("ascii")
    return out


def key_frame_pictures(video_path: Path, wanted: list[int]) -> dict[int, np.ndarray]:
    """frame index -> upright RGB picture of the ``wanted`` frames (sorted) of a video or image; {} when
    it cannot be read again (the caller falls back to skeleton-only pictures). A video file's frames are
    decoded up to the last wanted one but only the wanted ones are converted to RGB (py-spy: the conversion
    was 0.7 s of the 2 s this took for 1200 frames), with the indices and rotation ``VideoFileSource`` gives."""
    from vision.sources import VideoFileSource, frame_rgb, open_source, rotate_upright

    pictures: dict[int, np.ndarray] = {}
    wanted_set = set(wanted)
    try:
        with open_source(str(video_path)) as src:
            if not isinstance(src, VideoFileSource):
                for frame in src:
                    if frame.index in wanted_set:
                        pictures[frame.index] = frame.rgb.copy()
                    if frame.index >= wanted[-1]:
                        break
                return pictures
            rotation = src.info.rotation
    except IsobalanceError:
        return {}
    import av

    try:
        with av.open(str(video_path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if index in wanted_set:
                    rgb = rotate_upright(frame_rgb(frame), rotation)
                    pictures[index] = rgb if rgb.flags.writeable else rgb.copy()   # drawn on next
                if index >= wanted[-1]:
                    break
    except (av.error.FFmpegError, IndexError):
        pass    # as VideoFileSource: a decoding error ends the frames, those before it are kept
    return pictures


def _crop_to_body(rgb: np.ndarray, landmarks: np.ndarray, margin: float = 0.15) -> np.ndarray:
    """The body's bounding box plus a margin, so the posture fills the thumbnail."""
    h, w = rgb.shape[:2]
    xy = landmarks[:, :2][np.isfinite(landmarks[:, :2]).all(axis=1)] * (w, h)
    if len(xy) < 2:
        return rgb
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    pad = margin * max(x1 - x0, y1 - y0)
    x0, x1 = int(max(0, x0 - pad)), int(min(w, x1 + pad))
    y0, y1 = int(max(0, y0 - pad)), int(min(h, y1 + pad))
    return rgb[y0:y1, x0:x1] if x1 - x0 > 8 and y1 - y0 > 8 else rgb


def _plain_value(value: Any) -> str:
    """Short readable text for a context value (numbers rounded, nested mappings flattened)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if math.isfinite(value) else "—"
    if isinstance(value, Mapping):
        return ", ".join(f"{k.replace('_', ' ')} {_plain_value(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain_value(v) for v in value) or "none"
    return "—" if value is None else str(value)


def describe_block(block: Mapping[str, Any]) -> str:
    """One line for a views / framing / camera-roll record: its message first, then its fields."""
    if not block:
        return "not reported"
    parts = [str(block["message"])] if block.get("message") else []
    parts += [f"{k.replace('_', ' ')}: {_plain_value(v)}" for k, v in block.items() if k != "message"]
    return "; ".join(parts)


def _interval(value: Any) -> str:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return _fmt(value) if isinstance(value, (int, float)) else "—"


def render_html(report: Report, data: Mapping[str, Any] | None = None) -> str:
    """The therapist's report as one self-contained HTML string (``data``: as in ``report_json``)."""
    import jinja2

    data = report_data(report) if data is None else data
    # static and movement analyses may both report a metric (e.g. knee FPPA): key by kind + metric
    key_frames: dict[str, list[int]] = {finding_key(f): list(f["frames"])[:MAX_KEY_FRAMES_PER_FINDING]
                                        for f in data["findings"]}
    images: dict[int, str] = {}
    if report.track is not None and len(report.track):
        images = key_frame_images(report.track, [k for ks in key_frames.values() for k in ks], report.video_path)
    plots = {finding_key(f): svg_plot(data["series"][f["metric"]], f["threshold"], key_frames[finding_key(f)])
             for f in data["findings"] if f["metric"] in data["series"]}
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined)
    env.filters["num"] = _fmt
    env.filters["interval"] = _interval
    env.filters["describe"] = describe_block
    env.filters["fkey"] = finding_key
    env.filters["status_text"] = status_text
    return env.get_template("report.html.j2").render(
        r=data, key_frames=key_frames, images=images, plots=plots,
        video_used=report.video_path is not None)
