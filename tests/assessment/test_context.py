"""The orchestrator reads the capture once and hands its decisions to both analyses.

Synthetic skeletons (exact ground truth, tests/assessment/synthetic.py); the call counts are taken
by wrapping the real functions (a spy, not a mock: the real code still runs).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import assessment.angles
import assessment.context
from assessment.assess import assess
from assessment.context import RollInput, build_context
from assessment.roll import scene_and_body_roll
from assessment.movement import assess_movement
from assessment.static import assess_static
from assessment.views import RollReport
from synthetic import Pose, jitter_track, make_track, squat_poses, still_then_moving


def squat_track():
    return jitter_track(make_track(still_then_moving(Pose(), 40, squat_poses(3)), "front"), 0.5, seed=1)


def test_assess_computes_angles_and_decides_the_capture_once(monkeypatch):
    calls = {"build_context": 0, "compute_angles": 0, "compute_world_joint_angles": 0}

    def spy(module, name):
        real = getattr(module, name)

        def wrapped(*a, **k):
            calls[name] += 1
            return real(*a, **k)
        monkeypatch.setattr(module, name, wrapped)

    spy(assessment.context, "build_context")
    spy(assessment.context, "compute_angles")
    spy(assessment.context, "compute_world_joint_angles")
    monkeypatch.setattr(assessment.angles, "compute_angles",
                        lambda *a, **k: pytest.fail("angles recomputed outside the context"))
    import assessment.assess as orchestrator
    monkeypatch.setattr(orchestrator, "build_context", assessment.context.build_context)
    report = assess(squat_track())
    assert calls == {"build_context": 1, "compute_angles": 1, "compute_world_joint_angles": 1}
    assert {f.kind for f in report.findings} == {"static", "movement"}


def test_context_is_plain_frozen_data_and_analyses_accept_it():
    track = squat_track()
    ctx = build_context(track)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.roll = RollReport(False, None, {})        # type: ignore[misc]
    assert len(ctx.views) == len(ctx.yaw) == len(ctx.angles) == len(track)
    assert set(ctx.gates) >= {"shoulder_line_tilt", "pelvis_line_tilt"}
    # given the context or not, the analyses give the same findings
    for fn in (assess_static, assess_movement):
        a, b = fn(track, ctx), fn(track)
        assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]


def test_a_roll_estimator_plugs_in_and_gates_frontal_tilts():
    """The roll seam: any callable (RollInput) -> RollReport decides the roll for both analyses."""
    track = jitter_track(make_track([Pose(shoulder_line_tilt=9.0)] * 60), 1.0)
    seen: list[RollInput] = []

    def tilted_scene(inp: RollInput) -> RollReport:
        seen.append(inp)
        return RollReport(True, 7.0, {"scene": 7.0}, "camera rolled 7 deg (scene lines)")

    assert assess_static(track).finding("shoulder_line_tilt").status == "flagged"
    ctx = build_context(track, roll_estimator=tilted_scene)
    f = assess_static(track, ctx).finding("shoulder_line_tilt")
    assert f.status == "not_measurable" and f.reason == "camera rolled 7 deg (scene lines)"
    assert ctx.gates["shoulder_line_tilt"] == f.reason and ctx.gates["knee_fppa_left"] == ""
    [inp] = seen
    assert len(inp.still_rows) == 60 and inp.view.dominant == "front"
    # the default estimator (no scene lines in a synthetic track): a level body is not a rolled camera
    default = scene_and_body_roll(inp)
    assert not default.corrected and not default.suspected and default.source == "assumed level"
    assert abs(default.estimates["body_axis_body"]) < 0.5
