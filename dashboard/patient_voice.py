"""The patient's voice: what the self-assessment saw and what to do next, in plain words.

Why a separate module: the report (``assessment``) speaks to therapists - metric names, thresholds
with their sources, uncertainty, symmetry indices. A patient at home needs one sentence per thing
seen, in everyday words, rounded to whole degrees, and nothing about metrics that need movement or
another view. The numbers, sources and evidence stay on the therapist's pages (Review, History) and
in the saved report.
"""

from __future__ import annotations

from typing import Any

def _deg(value: float | None) -> str:
    return f"about {abs(value):.0f}°" if value is not None else "a little"


def finding_sentence(f: Any) -> str:
    """One plain sentence for a flagged static finding (``assessment.findings.Finding``)."""
    m, side, v = f.metric, f.side, f.value
    if m == "shoulder_line_tilt":
        return f"Your {side} shoulder sits higher than the other, by {_deg(v)}."
    if m == "pelvis_line_tilt":
        return f"Your {side} hip sits higher than the other, by {_deg(v)}."
    if m == "head_tilt":
        return f"Your head tilts: your {side} ear is higher, by {_deg(v)}."
    if m == "trunk_lateral_lean":
        return f"Your upper body leans toward your {side}, by {_deg(v)}."
    if m == "body_axis_lean":
        return f"Your whole body leans toward your {side}, by {_deg(v)}."
    if m == "trunk_flexion":
        return f"Your upper body leans {'forward' if (v or 0) >= 0 else 'backward'}, by {_deg(v)}."
    if m.startswith(("cva_proxy", "forward_head_offset")):
        return "Your head sits forward of your shoulders."
    if m.startswith("knee_hyperextension"):
        return f"Your {side} knee pushes back past straight when you stand."
    if m.startswith("knee_fppa"):
        inward = (v or 0) > 0
        return f"Your {side} knee drifts {'inward' if inward else 'outward'} when you bend it."
    label = f.label.split("(")[0].strip().lower()
    return f"Your {label} differs from one side to the other."


def seen_sentences(report: Any, still_capture: bool = True) -> list[str]:
    """What was seen: one sentence per flagged finding (movement findings skipped on a still capture)."""
    out = []
    for f in report.findings:
        if not f.flagged or (still_capture and f.kind != "static"):
            continue
        s = finding_sentence(f)
        if s not in out:
            out.append(s)
    return out


def not_checked_sentence(report: Any, still_capture: bool = True) -> str | None:
    """One sentence about what could not be checked from this capture, or None."""
    static = [f for f in report.findings if f.kind == "static"]
    missing = [f for f in static if f.status == "not_measurable"]
    if not missing:
        return None
    side_only = all(f.view in ("left_side", "right_side") or "side" in (f.reason or "") for f in missing)
    if side_only:
        return (f"{len(missing)} of the {len(static)} checks need a picture from the side: capture the side "
                "view too to include them.")
    return (f"{len(missing)} of the {len(static)} checks could not be made from this picture (the body "
            "was not fully visible or not seen from the right angle).")


def exercise_line(p: Any) -> str:
    """A planned exercise for the patient: its name and side, without the therapist's reasoning."""
    side = {"left": "on the left", "right": "on the right", "both": "on both sides"}.get(p.side, "")
    return f"**{p.exercise.name}** {side}".strip()
