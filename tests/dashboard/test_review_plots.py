"""dashboard.plots draws the report's own numbers: a hand-made series/finding with known values."""

from __future__ import annotations

import math

from dashboard.plots import figures, metric_figure, plottable, threshold_levels

SERIES = {"label": "Shoulder line tilt", "unit": "deg", "frames": [10, 11, 12, 13, 14],
          "t_s": [0.0, 0.2, 0.4, 0.6, 0.8], "values": [-6.0, None, -7.5, -6.5, 1.0]}
FINDING = {"metric": "shoulder_line_tilt", "label": "Shoulder line tilt", "kind": "static", "status": "flagged",
           "value": -6.5, "unit": "deg", "threshold": 5.0, "frames": [12, 13, 99],
           "uncertainty": {"ci95": [-7.5, -6.0]}}


def test_threshold_lines_follow_the_sign_of_the_values():
    assert threshold_levels([1.0, 2.0], 5.0) == [5.0]
    assert threshold_levels([1.0, -2.0, None], 5.0) == [5.0, -5.0]
    assert threshold_levels([-1.0], None) == [] and threshold_levels([-1.0], math.nan) == []


def test_figure_holds_the_values_threshold_band_and_evidence_frames():
    fig = metric_figure(SERIES, FINDING)
    line, evidence = fig.data
    assert list(line.y) == [-6.0, None, -7.5, -6.5, 1.0] and not line.connectgaps     # gaps stay gaps
    assert list(line.customdata) == SERIES["frames"]
    # evidence frames present in the series, at their own values; frame 99 is not in the series
    assert list(evidence.customdata) == [12, 13] and list(evidence.y) == [-7.5, -6.5]
    band = [s for s in fig.layout.shapes if s.type == "rect"]
    lines = sorted(s.y0 for s in fig.layout.shapes if s.type == "line")
    assert [(b.y0, b.y1) for b in band] == [(-7.5, -6.0)]
    assert lines == [-5.0, 5.0]


def test_only_findings_with_series_are_plotted():
    report = {"series": {"shoulder_line_tilt": SERIES},
              "findings": [FINDING, {**FINDING, "metric": "hip_rom_difference", "kind": "movement"}]}
    assert list(plottable(report)) == ["static-shoulder_line_tilt"]
    assert list(figures(report)) == ["static-shoulder_line_tilt"]
    assert figures(report, ["movement-hip_rom_difference"]) == {}
