"""Orchestration: a landmark track -> one ``Report`` (findings, hypotheses, plan, plots' data).

Data flows one way: track -> capture context (``assessment.context``: labels, angles, views, still
windows, roll, gates, decided once) -> static + movement findings (measurement modules) -> hypotheses
(rules) -> plan (catalog) -> report. A failing movement analysis does not lose the static findings: it
becomes a warning in the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assessment.context import RollEstimator, build_context
from assessment.exercises import Catalog, load_catalog, plan_for
from assessment.findings import Finding
from assessment.hypotheses import RuleSet, hypothesize, load_rules
from assessment.report import Report, json_safe
from vision.errors import IsobalanceError, NoPersonError
from vision.track import LandmarkTrack


def track_info(track: LandmarkTrack) -> dict[str, Any]:
    ts = track.timestamp_ms[np.isfinite(track.timestamp_ms)]
    return {"meta": track.meta.to_dict(), "n_frames": len(track), "n_detected": int(track.detected.sum()),
            "detection_rate": track.detection_rate(),
            "duration_s": float((ts.max() - ts.min()) / 1000.0) if len(ts) > 1 else None}


def metric_series(track: LandmarkTrack, findings: list[Finding],
                  angles: pd.DataFrame | None = None) -> dict[str, dict[str, Any]]:
    """Per-frame values of every assessed metric that is an angle-table id (for the plots);
    ``angles``: the context's angles when already computed."""
    from assessment.angles import ANGLE_BY_ID, compute_angles

    ids = tuple(dict.fromkeys(f.metric for f in findings if f.metric in ANGLE_BY_ID))
    if not ids or not len(track):
        return {}
    angles = compute_angles(track, ids=ids) if angles is None else angles
    t_s = (track.timestamp_ms - track.timestamp_ms[0]) / 1000.0
    return {m: json_safe({"label": ANGLE_BY_ID[m].label, "unit": ANGLE_BY_ID[m].unit,
                          "frames": track.frame_index, "t_s": t_s, "values": angles[m].to_numpy()})
            for m in ids}


def assess(track: LandmarkTrack, video_path: str | Path | None = None, *, input_path: str | Path | None = None,
           rules: RuleSet | None = None, catalog: Catalog | None = None,
           roll_estimator: RollEstimator | None = None) -> Report:
    """Assess one track. ``video_path`` (when the track came from a video) lets the HTML show real key
    frames; ``input_path`` is what the user passed (video or track file), recorded in the report.

    The capture is read once (``build_context``: views, labels, still windows, roll, gates, angles)
    and handed to the static and movement analyses; nothing downstream re-derives it."""
    from assessment.static import assess_static

    if not len(track) or not track.detected.any():
        raise NoPersonError("no person was detected in any frame, so there is nothing to assess; "
                            "film the whole body, well lit, 2-4 m from the camera")
    ctx = build_context(track, roll_estimator=roll_estimator)
    static = assess_static(ctx.track, ctx)
    findings, warnings = list(static.findings), list(static.notes)
    try:
        from assessment.movement import assess_movement

        movement = assess_movement(ctx.track, ctx)
        findings += movement.findings
        warnings += movement.notes
    except ImportError:
        warnings.append("movement analysis is not available in this installation")
    except IsobalanceError as exc:
        warnings.append(f"movement analysis skipped: {exc}")
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
        track_info=track_info(track),
        views=json_safe({**static.views.to_dict(), "left_right_swaps": ctx.swaps.to_dict(track.frame_index)}),
        framing=json_safe(static.framing.to_dict()), camera_roll=json_safe(static.camera_roll.to_dict()),
        findings=findings, hypotheses=hypotheses, plan=plan, series=metric_series(ctx.track, findings, ctx.angles),
        references=rules.references, warnings=warnings, track=ctx.track,
        video_path=Path(video_path) if video_path is not None else None)
