"""Thresholds: cut-offs only on the quantity they were published for, and the README table in step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assessment.thresholds import MOVEMENT_FPPA, MOVEMENT_ROM_DIFF, MOVEMENT_TIMING_DIFF, STATIC_THRESHOLDS

ALL = [*STATIC_THRESHOLDS.values(), MOVEMENT_ROM_DIFF, MOVEMENT_TIMING_DIFF, MOVEMENT_FPPA]
SIDE_VIEW = ("trunk_flexion", "cva_proxy_left", "cva_proxy_right", "forward_head_offset_left",
             "forward_head_offset_right", "knee_hyperextension_left", "knee_hyperextension_right")


def test_every_threshold_says_what_its_figure_was_published_for():
    for t in ALL:
        assert t.published_for, t.metric
        assert t.basis in ("published cut-off", "measurement error", "reported only")


def test_no_cut_off_on_a_quantity_it_was_not_published_for():
    # the clinical CVA cut-off is for C7 -> tragus, not the shoulder-joint proxy; drop-jump FPPA norms
    # are not for squats; side-view metrics are reported only until validated
    for m in SIDE_VIEW:
        assert not STATIC_THRESHOLDS[m].flags, m
    assert "not C7" in STATIC_THRESHOLDS["cva_proxy_left"].published_for
    assert not MOVEMENT_FPPA.flags and "drop jump" in MOVEMENT_FPPA.published_for
    # nothing flags on an MDC: with no published normal range left, every flag is an error bound
    for t in ALL:
        assert "MDC" not in t.source, t.metric
        if t.flags:
            assert t.basis == "measurement error", t.metric


def readme_rows() -> dict[str, str]:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = text.split("<!-- thresholds-table -->")[1].split("<!-- /thresholds-table -->")[0]
    rows = {}
    for line in table.splitlines()[3:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        for metric in re.findall(r"`([a-z_]+)`", cells[0]):
            rows[metric] = cells[-1]
    return rows


@pytest.mark.parametrize("t", ALL, ids=[t.metric for t in ALL])
def test_readme_table_lists_every_threshold_with_what_it_does(t):
    rows = readme_rows()
    # "_right" rows are written as `..._left`, `_right`
    key = t.metric if t.metric in rows else t.metric.replace("_right", "_left")
    assert key in rows, f"{t.metric} missing from the README threshold table"
    assert rows[key] == ("flags (error)" if t.flags else "reports only"), t.metric
