"""Every metric of report.json mirrors: a horizontally flipped clip gives the same findings with the
sides exchanged, values within 1.5 deg (plus the model-error allowance each finding declares), and the
same flag decisions. Generic: it walks every finding, hypothesis and planned exercise of the report,
static and movement alike, on every shared clip, with two real model runs (pixels flipped before the
model sees them), so no metric can be left out by name.

Allowance: MediaPipe is not mirror-equivariant (its 3-D depth least of all). A finding's value may
differ from its mirror twin's by 1.5 deg (0 for other units) + both runs' declared allowance
(``uncertainty.systematic``, the same allowance that widens its flag test), never by a number chosen
here. Sides: a flagged finding must name the exchanged side; a finding within its allowance may name
no side (a comparison does not name one inside the model's own error), but two named sides must be
exchanged. Measurability itself is not compared: the body-axis camera-roll check (today's default
roll estimator, replaced by the roll work) gates the squat clip's tilts in one run only (spread of
its three cues 0.96 vs 1.51 deg around its 1.0 deg rule); the values and flag decisions still mirror.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assessment.angles import ANGLE_BY_ID
from assessment.assess import assess
from realclips import real_track

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "videos"
CLIPS = ("tfjs_pose_squats.mp4", "tfjs_pose_1.mp4", "tfjs_pose.jpg", "pose2sim_static_cam02.mp4",
         "pose2sim_balance/cam01.mp4", "pose2sim_balance/cam02.mp4", "pose2sim_balance/cam03.mp4",
         "pose2sim_balance/cam04.mp4")
TOLERANCE = 1.5
OTHER = {"left": "right", "right": "left", None: None}
VIEW_MIRROR = {"left_side": "right_side", "right_side": "left_side"}


def twin(metric: str) -> tuple[str, int]:
    """(mirror twin's metric id, sign) — from the angle table, or for movement comparisons (L - R)."""
    if metric in ANGLE_BY_ID:
        d = ANGLE_BY_ID[metric]
        return d.mirror_of, d.mirror_sign
    if metric.endswith(("_rom_difference", "_timing_difference")):
        return metric, -1
    raise AssertionError(f"no mirror rule for report metric {metric!r}: add it to the angle table")


def mirror_violations(a: dict, b: dict) -> list[str]:
    """Everything in report ``a`` whose mirror image is not in report ``b``."""
    out = []
    fb = {(f["kind"], f["metric"]): f for f in b["findings"]}
    for f in a["findings"]:
        metric, sign = twin(f["metric"])
        g = fb.get((f["kind"], metric))
        if g is None:
            out.append(f"{f['kind']} {f['metric']}: no mirrored finding {metric}")
            continue
        where = f"{f['kind']} {f['metric']}"
        if (f["status"] == "flagged") != (g["status"] == "flagged"):
            out.append(f"{where}: flag decision {f['status']} vs mirrored {g['status']}")
        named = f["side"] is not None and g["side"] is not None
        if (f["status"] == "flagged" or named) and g["side"] != OTHER[f["side"]]:
            out.append(f"{where}: side {f['side']} vs mirrored {g['side']}")
        if f["value"] is not None and g["value"] is not None:
            allowance = sum(float((x.get("uncertainty") or {}).get("systematic") or 0.0) for x in (f, g))
            bound = (TOLERANCE if f["unit"] == "deg" else 0.0) + allowance
            if abs(sign * f["value"] - g["value"]) > bound:
                out.append(f"{where}: {f['value']:.2f} vs mirrored {g['value']:.2f} {f['unit']} (allowed {bound:.2f})")
    hyp_a = sorted((twin(h["metric"])[0], OTHER.get(h.get("side"), h.get("side"))) for h in a["hypotheses"])
    hyp_b = sorted((h["metric"], h.get("side")) for h in b["hypotheses"])
    if hyp_a != hyp_b:
        out.append(f"hypotheses: {hyp_a} vs mirrored {hyp_b}")
    plan_a = sorted((p["exercise"]["id"], OTHER.get(p.get("side"), p.get("side"))) for p in a["plan"])
    plan_b = sorted((p["exercise"]["id"], p.get("side")) for p in b["plan"])
    if plan_a != plan_b:
        out.append(f"plan: {plan_a} vs mirrored {plan_b}")
    va, vb = a["views"].get("dominant"), b["views"].get("dominant")
    if VIEW_MIRROR.get(va, va) != vb:
        out.append(f"view {va} vs mirrored {vb}")
    return out


@pytest.fixture(scope="module", params=CLIPS)
def reports(request, model_path):
    path = str(SHARED / request.param)
    return (request.param, assess(real_track(path, str(model_path))).to_dict(),
            assess(real_track(path, str(model_path), flipped=True)).to_dict())


def test_every_metric_mirrors(reports):
    name, a, b = reports
    assert a["findings"], name
    problems = mirror_violations(a, b) + mirror_violations(b, a)
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_the_walk_catches_a_report_that_does_not_mirror():
    """The checker itself: a synthetic uneven stance against its exact mirror passes; against itself
    (sides not exchanged) it fails on the value, the side, the hypotheses and the plan."""
    from synthetic import Pose, jitter_track, make_track

    track = jitter_track(make_track([Pose(shoulder_line_tilt=-9.0)] * 60), 1.0)
    a, b = assess(track).to_dict(), assess(track.mirrored()).to_dict()
    assert mirror_violations(a, b) == [] and mirror_violations(b, a) == []
    problems = "\n".join(mirror_violations(a, a))
    for part in ("shoulder_line_tilt: -8.95 vs mirrored -8.95", "side right vs mirrored right", "hypotheses:",
                 "plan:"):
        assert part in problems, problems
