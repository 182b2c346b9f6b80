"""Interactive (plotly) metric-over-time plots drawn from a report's own per-frame series.

Nothing is computed here: the values are ``report["series"][metric]`` (written by
``assessment.assess.metric_series``) and the threshold, uncertainty and evidence frames are the
finding's. The threshold lines follow the HTML report's rule (``assessment.report.svg_plot``): the
threshold, and its negative too when the metric takes negative values.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import plotly.graph_objects as go

from assessment.report import finding_key

LINE, THRESHOLD, EVIDENCE, BAND = "#1f77b4", "#d62728", "#ff7f0e", "rgba(31,119,180,0.12)"


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def threshold_levels(values: list[float | None], threshold: float | None) -> list[float]:
    """Threshold line(s) to draw: the threshold, plus its negative when the metric goes negative."""
    thr = _num(threshold)
    if thr is None:
        return []
    finite = [v for v in values if v is not None]
    return [thr] + ([-thr] if thr > 0 and finite and min(finite) < 0 else [])


def metric_figure(series: Mapping[str, Any], finding: Mapping[str, Any], height: int = 300) -> go.Figure:
    """One metric over time: the per-frame values, threshold line(s), the 95% CI of the finding's
    value as a band, and the finding's evidence frames marked."""
    t = [_num(v) for v in series["t_s"]]
    y = [_num(v) for v in series["values"]]
    frames = [int(f) for f in series.get("frames", [])]
    unit = "°" if series.get("unit") in ("deg", "°") else (series.get("unit") or "")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=t, y=y, mode="lines+markers", name=series.get("label", finding["metric"]),
                             line={"color": LINE}, marker={"size": 4}, customdata=frames, connectgaps=False,
                             hovertemplate=f"frame %{{customdata}}<br>%{{x:.2f}} s<br>%{{y:.1f}}{unit}<extra></extra>"))
    ci = (finding.get("uncertainty") or {}).get("ci95")
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(_num(v) is not None for v in ci):
        fig.add_hrect(y0=ci[0], y1=ci[1], fillcolor=BAND, line_width=0, layer="below",
                      name="95% CI of the value", showlegend=True)
    for i, level in enumerate(threshold_levels(y, finding.get("threshold"))):
        fig.add_hline(y=level, line={"color": THRESHOLD, "dash": "dash"}, name="threshold", showlegend=i == 0,
                      annotation_text=f"{level:+.1f}{unit}", annotation_position="top right",
                      annotation_font_color=THRESHOLD)
    row = {f: i for i, f in enumerate(frames)}
    evidence = [row[int(f)] for f in finding.get("frames", []) if int(f) in row]
    if evidence:
        fig.add_trace(go.Scatter(x=[t[i] for i in evidence], y=[y[i] for i in evidence], mode="markers",
                                 name="evidence frames", marker={"color": EVIDENCE, "size": 11, "symbol": "diamond"},
                                 customdata=[frames[i] for i in evidence],
                                 hovertemplate="evidence frame %{customdata}<br>%{x:.2f} s<extra></extra>"))
    fig.update_layout(title=f"{series.get('label', finding['metric'])} ({finding.get('kind', 'static')})",
                      xaxis_title="time (s)", yaxis_title=f"{series.get('label', '')} ({unit or 'value'})",
                      height=height, margin={"l": 50, "r": 20, "t": 50, "b": 40},
                      legend={"orientation": "h", "y": -0.25})
    return fig


def plottable(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """finding key -> finding, for every finding whose metric has a per-frame series in the report."""
    series = report.get("series") or {}
    return {finding_key(f): f for f in report.get("findings", []) if f["metric"] in series}


def figures(report: Mapping[str, Any], keys: list[str] | None = None) -> dict[str, go.Figure]:
    """finding key -> figure for the chosen findings (all plottable ones by default)."""
    chosen = plottable(report)
    keys = list(chosen) if keys is None else [k for k in keys if k in chosen]
    return {k: metric_figure(report["series"][chosen[k]["metric"]], chosen[k]) for k in keys}
