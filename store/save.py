"""The two calls the dashboard and the CLI save through (stable API, see store/__init__.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from store.documents import assessment_fields, hold_fields
from store.store import NewSession, Store


def save_assessment(store: Store, patient_id: str, report: Mapping[str, Any],
                    files: Mapping[str, str | Path] | None = None, *, recorded_utc: str | None = None,
                    notes: str = "") -> str:
    """Save one assessment (``Report.to_dict()``) with its files (role -> path, e.g. ``{"track":
    track.csv, "video": clip.mp4, "report_html": report.html}``); returns the new session id.
    The files are copied into the store (sha256 recorded); the originals are left alone."""
    fields = assessment_fields(report, recorded_utc=recorded_utc, notes=notes)
    return store.save_sessions(patient_id, [NewSession(fields, {k: Path(v) for k, v in (files or {}).items()})])[0]


def save_hold(store: Store, patient_id: str, hold_result: Mapping[str, Any], exercise_id: str,
              files: Mapping[str, str | Path] | None = None, *, recorded_utc: str | None = None,
              notes: str = "") -> str:
    """Save one checked hold (``HoldResult.to_dict()``) as a session of kind "hold", with optional files
    (e.g. ``{"hold_video": hold.mp4}``); returns the new session id."""
    fields = hold_fields(hold_result, exercise_id, recorded_utc=recorded_utc, notes=notes)
    return store.save_sessions(patient_id, [NewSession(fields, {k: Path(v) for k, v in (files or {}).items()})])[0]
