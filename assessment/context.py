"""What the camera shows, decided once per track: the one input of the static and movement analyses.

Why: views, left/right labels, camera roll and gates are facts about the capture, not about a
metric. Deciding them in each analysis meant a track travelled static -> views -> angles and back
several times, angles were computed more than once, and the analyses could disagree about the same
frame. ``build_context`` decides them in one pass, in one direction:

    track -> left/right relabelling (assessment.swaps) -> 3-D joint angles -> per-frame views
          -> still windows -> framing -> camera roll (a pluggable estimator) -> 2-D angles (on the
          levelled track when the roll is known) -> static gates

and hands the result to ``assess_static`` / ``assess_movement`` as plain data (``TrackContext``).

Roll seam: ``RollEstimator`` is any callable ``(RollInput) -> RollReport``; the default,
``assessment.roll.scene_and_body_roll``, combines the scene's verticals (measured by ``vision.scene_roll``
during extraction, kept in the track's metadata) with the body axis in quiet standing. A roll known
well enough is removed: every 2-D angle is measured on the levelled track; otherwise the tilt metrics
are gated with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from assessment.angles import ANGLE_BY_ID, DEFAULT_MIN_VISIBILITY, FRONTAL, compute_angles, compute_world_joint_angles
from assessment.findings import TrackInputError
from assessment.gates import track_perspective_gate
from assessment.swaps import SwapReport, find_swaps
from assessment.views import (FramingReport, RollReport, ViewSummary, check_framing,
                              sequence_views, summarize, view_gate, visibility_gate)
from vision.track import LandmarkTrack

FPPA_METRICS = ("knee_fppa_left", "knee_fppa_right")


@dataclass(frozen=True)
class RollInput:
    """What a roll estimator may look at (plain data; no analysis results). No angles: the roll is
    decided first, so that every 2-D angle is computed once, relative to gravity."""
    track: LandmarkTrack
    still_rows: np.ndarray        # rows of quiet standing (may be empty)
    view: ViewSummary             # dominant view over the still rows


RollEstimator = Callable[[RollInput], RollReport]


@dataclass(frozen=True)
class TrackContext:
    """Per-track decisions shared by every analysis. Arrays are per row of ``track``."""
    track: LandmarkTrack                  # after left/right relabelling: what every analysis measures
    angles: pd.DataFrame                  # 2-D angles, every id of the ANGLES table, computed once
    world_angles: pd.DataFrame | None     # 3-D joint angles (None when the track has too few world landmarks)
    yaw: np.ndarray                       # body yaw per row, deg (views.body_yaw), after relabelling
    views: np.ndarray                     # view per row (views.sequence_views)
    swaps: SwapReport                     # rows (per body part) whose left/right labels were exchanged back
    still: tuple                          # static.StillWindow runs of quiet standing
    still_rows: np.ndarray                # rows inside them
    view: ViewSummary                     # dominant view over the still rows (all rows if none)
    framing: FramingReport                # over the still rows (all rows if none)
    roll: RollReport                      # camera roll estimate (RollReport.uncertainty_deg when known)
    gates: Mapping[str, str]              # static metric -> reason it cannot be measured ('' = measurable)
    min_visibility: float = DEFAULT_MIN_VISIBILITY
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self, rows: np.ndarray | None = None) -> ViewSummary:
        """Dominant view and median yaw over ``rows`` (all rows by default)."""
        return summarize(self.views, self.yaw, rows)


def has_world(track: LandmarkTrack) -> bool:
    """At least half of the frames with a pose carry complete world landmarks."""
    if not len(track) or not track.detected.any():
        return False
    return bool(np.isfinite(track.world[track.detected]).all(axis=(1, 2)).mean() >= 0.5)


def static_gate(metric: str, ctx_track: LandmarkTrack, rows: np.ndarray, view: ViewSummary,
                framing: FramingReport, roll: RollReport, min_visibility: float) -> str:
    """Why a static metric cannot be measured on this capture ('' when it can): view, visibility,
    framing, a suspected camera roll (frontal tilts only; FPPA is a joint-chain angle), then the
    perspective gate (assessment.gates: fake tilt predicted from yaw and camera height)."""
    d = ANGLE_BY_ID[metric]
    reason = view_gate(d, view) or visibility_gate(d, ctx_track, rows, min_visibility)
    if not reason:
        cut = {n: f for n, f in framing.cut_off.items() if n in d.landmarks and f > 0.5}
        if cut:
            name, f = max(cut.items(), key=lambda kv: kv[1])
            reason = f"{name.replace('_', ' ')} outside the frame in {f:.0%} of frames"
    if not reason and roll.suspected and set(d.views) <= set(FRONTAL) and metric not in FPPA_METRICS:
        reason = roll.message
    if not reason:
        reason = track_perspective_gate(metric, ctx_track.pixels(), ctx_track.visibility, rows, view.yaw_median,
                                        ctx_track.meta.scene_roll, (ctx_track.meta.width, ctx_track.meta.height),
                                        min_visibility)
    return reason


def build_context(track: LandmarkTrack, *, min_visibility: float = DEFAULT_MIN_VISIBILITY,
                  max_speed: float | None = None, min_duration_s: float | None = None,
                  roll_estimator: RollEstimator | None = None, relabel: bool = True) -> TrackContext:
    """Decide views, left/right labels, still windows, framing, roll and gates once for ``track``."""
    from assessment.roll import level_track, scene_and_body_roll
    from assessment.static import MIN_STILL_S, STATIC_METRICS, STILL_SPEED, still_windows

    roll_estimator = roll_estimator or scene_and_body_roll

    if not isinstance(track, LandmarkTrack):
        raise TrackInputError("an assessment needs a LandmarkTrack (see vision.track)")
    if not (track.meta.width and track.meta.height):
        raise TrackInputError("the track does not record its frame size, so angles cannot be measured "
                              "in pixels; re-extract it with isobalance")
    swaps = find_swaps(track, min_visibility) if relabel else SwapReport.none(len(track))
    track = swaps.apply(track)
    world = compute_world_joint_angles(track, min_visibility=min_visibility) if has_world(track) else None
    yaw, views = sequence_views(track, min_visibility)
    windows, notes = still_windows(track, STILL_SPEED if max_speed is None else max_speed,
                                   MIN_STILL_S if min_duration_s is None else min_duration_s, min_visibility)
    rows = (np.concatenate([np.arange(w.start, w.stop) for w in windows]) if windows
            else np.zeros(0, dtype=np.int64))
    view = summarize(views, yaw, rows if len(rows) else None)
    framing = check_framing(track, rows if len(rows) else None)
    roll = roll_estimator(RollInput(track, rows, view))
    # every 2-D angle relative to gravity when the roll is known (measured on the levelled track)
    levelled = level_track(track, roll.angle_deg) if roll.corrected and roll.angle_deg else track
    angles = compute_angles(levelled, min_visibility=min_visibility)
    if swaps.message:
        notes.append(swaps.message)
    gates = {m: static_gate(m, track, rows, view, framing, roll, min_visibility) for m in STATIC_METRICS}
    return TrackContext(track, angles, world, yaw, views, swaps, tuple(windows), rows, view, framing, roll,
                        gates, min_visibility, tuple(notes))

