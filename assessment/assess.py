"""Orchestration: a landmark track -> one ``Report`` (findings, hypotheses, plan, plots' data).

Data flows one way: track -> static + movement findings (measurement modules) -> hypotheses (rules)
-> plan (catalog) -> report. A failing movement analysis does not lose the static findings: it
becomes a warning in the report.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from assessment.exercises import Catalog, load_catalog, plan_for
from assessment.findings import Finding
from assessment.hypotheses import RuleSet, hypothesize, load_rules
from assessment.report import Report, json_safe
from vision.errors import IsobalanceError, NoPersonError
from vision.track import LandmarkTrack

CONTEXT_KEYS = ("views", "framing", "camera_roll")


def _plain(obj: Any) -> Any:
    if obj is None:
        return {}
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    return obj


def _unpack(result: Any) -> tuple[list[Finding], dict[str, Any]]:
    """(findings, context) from whatever a measurement entry point returns: a result object with
    ``findings`` (and optionally views/framing/camera_roll/notes), a mapping with those keys, or a list."""
    if result is None:
        return [], {}
    if isinstance(result, (list, tuple)):
        return list(result), {}
    get = result.get if isinstance(result, Mapping) else (lambda k, d=None: getattr(result, k, d))
    findings = list(get("findings", []) or [])
    context: dict[str, Any] = {"notes": [str(n) for n in (get("notes", []) or [])]}
    for key in CONTEXT_KEYS:
        value = get(key, None)
        if value is None and key == "views":
            value = get("view", None)
        value = _plain(value)
        context[key] = value if isinstance(value, Mapping) else ({"value": value} if value not in ({}, None) else {})
    return findings, context


def track_info(track: LandmarkTrack) -> dict[str, Any]:
    ts = track.timestamp_ms[np.isfinite(track.timestamp_ms)]
    return {"meta": track.meta.to_dict(), "n_frames": len(track), "n_detected": int(track.detected.sum()),
            "detection_rate": track.detection_rate(),
            "duration_s": float((ts.max() - ts.min()) / 1000.0) if len(ts) > 1 else None}


def metric_series(track: LandmarkTrack, findings: list[Finding]) -> dict[str, dict[str, Any]]:
    """Per-frame values of every assessed metric that is an angle-table id (for the plots)."""
    from assessment.angles import ANGLE_BY_ID, compute_angles

    ids = tuple(dict.fromkeys(f.metric for f in findings if f.metric in ANGLE_BY_ID))
    if not ids or not len(track):
        return {}
    angles = compute_angles(track, ids=ids)
    t_s = (track.timestamp_ms - track.timestamp_ms[0]) / 1000.0
    return {m: json_safe({"label": ANGLE_BY_ID[m].label, "unit": ANGLE_BY_ID[m].unit,
                          "frames": track.frame_index, "t_s": t_s, "values": angles[m].to_numpy()})
            for m in ids}


def assess(track: LandmarkTrack, video_path: str | Path | None = None, *, input_path: str | Path | None = None,
           rules: RuleSet | None = None, catalog: Catalog | None = None) -> Report:
    """Assess one track. ``video_path`` (when the track came from a video) lets the HTML show real key
    frames; ``input_path`` is what the user passed (video or track file), recorded in the report."""
    from assessment.static import assess_static

    if not len(track) or not track.detected.any():
        raise NoPersonError("no person was detected in any frame, so there is nothing to assess; "
                            "film the whole body, well lit, 2-4 m from the camera")
    warnings: list[str] = []
    findings, context = _unpack(assess_static(track))
    try:
        from assessment.movement import assess_movement

        movement_findings, movement_context = _unpack(assess_movement(track))
    except ImportError:
        movement_findings, movement_context = [], {}
        warnings.append("movement analysis is not available in this installation")
    except IsobalanceError as exc:
        movement_findings, movement_context = [], {}
        warnings.append(f"movement analysis skipped: {exc}")
    warnings = context.pop("notes", []) + warnings
    findings += movement_findings
    warnings += movement_context.pop("notes", [])
    for key in CONTEXT_KEYS:
        if movement_context.get(key) and not context.get(key):
            context[key] = movement_context[key]
    rules = rules or load_rules()
    catalog = catalog or load_catalog(rules=rules)
    hypotheses = hypothesize(findings, rules)
    plan = plan_for(hypotheses, catalog)
    source = input_path or video_path
    if source is None:
        kind = "memory"
    else:
        kind = "track" if Path(source).suffix.lower() in (".csv", ".parquet") else "video"
    return Report(
        input={"kind": kind, "path": str(source) if source is not None else None,
               "name": Path(source).name if source is not None else (Path(track.meta.source).name or "track"),
               "video": str(video_path) if video_path is not None else None},
        track_info=track_info(track), views=json_safe(context.get("views", {})),
        framing=json_safe(context.get("framing", {})), camera_roll=json_safe(context.get("camera_roll", {})),
        findings=findings, hypotheses=hypotheses, plan=plan, series=metric_series(track, findings),
        references=rules.references, warnings=warnings, track=track,
        video_path=Path(video_path) if video_path is not None else None)
