"""Progress: metric series with bands and thresholds, holds per exercise, and 'what changed' that only
calls a change real beyond the measurement uncertainty. Reports come from the real assessment of
synthetic people whose shoulder tilt is known by construction."""

from __future__ import annotations

import pytest

from store import save_assessment, save_hold
from store.progress import MetricPoint, MetricSeries, compare, hold_history, metric_history, progress, what_changed
from tests.store import documents as docs

KEY = "static-shoulder_line_tilt"


def _patient_with(store, tilts, seeds=None):
    pid = store.add_patient("P")
    seeds = seeds or list(range(1, len(tilts) + 1))
    for i, (tilt, seed) in enumerate(zip(tilts, seeds)):
        save_assessment(store, pid, docs.report(tilt, seed=seed, created_utc=f"2026-0{i + 1}-10T09:00:00Z"))
    return pid


def test_metric_series_carry_value_band_threshold_and_source(store):
    pid = _patient_with(store, [8.0, 2.0])
    s = metric_history(store, pid)[KEY]
    assert [p.value for p in s.points] == pytest.approx([8.0, 2.0], abs=0.4)      # the constructed tilts
    assert all(p.low < p.value < p.high for p in s.points)
    assert s.threshold == 5.0 and s.threshold_direction == "abs" and "Ceballos23" in s.threshold_source
    assert [p.status for p in s.points] == ["flagged", "within"]
    assert [p.recorded_utc for p in s.points] == ["2026-01-10T09:00:00Z", "2026-02-10T09:00:00Z"]


def test_a_six_degree_improvement_is_called_real(store):
    pid = _patient_with(store, [8.0, 2.0])
    p = progress(store, pid)
    change = next(c for c in p.changes if c.key == KEY)
    assert change.real and change.delta == pytest.approx(-6.0, abs=0.5)
    assert "real change" in change.sentence and "closer to level" in change.sentence
    assert "5.0°" in change.sentence                                   # the MDC it had to beat
    assert p.changes[0].real                                           # real changes come first
    # nothing else moved in the construction, so nothing else may be called real
    assert [c.key for c in p.changes if c.real] == [KEY]


def test_the_same_posture_filmed_again_is_not_a_change(store):
    pid = _patient_with(store, [8.0, 7.6], seeds=[1, 2])
    changes, _ = what_changed(store.sessions(pid))
    assert changes and not any(c.real for c in changes)
    change = next(c for c in changes if c.key == KEY)
    assert "no change beyond the measurement uncertainty" in change.sentence


def _series(mdc):
    return MetricSeries(KEY, "shoulder_line_tilt", "static", "Shoulder line tilt", "deg", 5.0, "abs", "src",
                        mdc, "[Gallego20]" if mdc else "", ())


def _pt(value, half, status="within"):
    return MetricPoint("s", "2026-01-01T00:00:00Z", status, value, value - half, value + half, "")


@pytest.mark.parametrize("prev,cur,mdc,real", [
    (_pt(6.0, 0.5), _pt(2.0, 0.5), 5.0, False),     # bands apart but 4 deg < MDC 5 deg
    (_pt(6.0, 0.5), _pt(2.0, 0.5), None, True),     # no MDC known: the bands decide
    (_pt(8.0, 2.0), _pt(2.5, 2.0), 5.0, True),      # 5.5 deg, bands apart
    (_pt(8.0, 3.0), _pt(2.5, 3.0), 5.0, False),     # 5.5 deg but the bands overlap
    (_pt(3.0, 0.2), _pt(-3.0, 0.2), None, True),    # the other side is now higher
])
def test_change_rule_needs_both_separated_bands_and_the_mdc(prev, cur, mdc, real):
    c = compare(_series(mdc), prev, cur)
    assert c.real is real
    assert ("real change" in c.sentence) is real
    if real and prev.value * cur.value < 0:
        assert "other side now higher" in c.sentence


def test_unmeasurable_or_unknown_uncertainty_never_claims_a_change():
    s = _series(5.0)
    gone = MetricPoint("s", "t", "not_measurable", None, None, None, "")
    assert not compare(s, _pt(9.0, 0.1), gone).real
    assert "not measurable this time" in compare(s, _pt(9.0, 0.1), gone).sentence
    no_band = MetricPoint("s", "t", "within", 1.0, None, None, "")
    assert not compare(s, _pt(9.0, 0.1), no_band).real


def test_holds_per_exercise_over_sessions(store):
    pid = store.add_patient("P")
    results = [docs.hold(seed=0), docs.hold(seed=3, duration_s=9.0)]
    for i, r in enumerate(results):
        save_hold(store, pid, r, docs.HOLD_EXERCISE, recorded_utc=f"2026-04-0{i + 1}T10:00:00Z")
    (points,) = hold_history(store, pid).values()
    assert [p.repetitions_completed for p in points] == [r["summary"]["repetitions_completed"] for r in results]
    assert [p.held_still_s for p in points] == pytest.approx(
        [sum(rep["held_still_s"] or 0 for rep in r["repetitions"]) for r in results])
    assert points[0].repetitions_completed == 2            # 20 s of stillness completes both 5-s holds
    assert points[1].repetitions_completed < 2             # 9 s cannot
    _, lines = what_changed(store.sessions(pid))
    assert len(lines) == 1 and "last time 2 of 2" in lines[0]


def test_one_session_has_nothing_to_compare(store):
    pid = _patient_with(store, [8.0])
    p = progress(store, pid)
    assert p.changes == [] and p.n_assessments == 1 and KEY in p.metrics
