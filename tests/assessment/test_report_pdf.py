"""The printable A4 PDF report (assess --pdf), read back with pypdf: page size, findings with their
values and thresholds, hypotheses, exercises and the "hypotheses, not diagnoses" wording."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from assessment.report_pdf import write_pdf
from tests.assessment.test_report import SHOULDER_TILT, report, track  # noqa: F401 (fixtures)
from tests.assessment.synthetic import Pose, make_track

A4_PT = (595.28, 841.89)
REPO = Path(__file__).resolve().parents[2]


def pdf_text(path: Path) -> tuple[PdfReader, str]:
    reader = PdfReader(str(path))
    text = " ".join(page.extract_text() for page in reader.pages)
    return reader, re.sub(r"\s+", " ", text)


def assert_a4(reader: PdfReader) -> None:
    for page in reader.pages:
        box = page.mediabox
        assert (float(box.width), float(box.height)) == pytest.approx(A4_PT, abs=0.5)


def test_pdf_shows_findings_values_hypotheses_and_plan_on_a4(report, tmp_path):  # noqa: F811
    reader, text = pdf_text(write_pdf(report, tmp_path / "report.pdf"))
    assert_a4(reader)
    assert "Hypotheses, not diagnoses" in text and "isobalance reports hypotheses, not diagnoses" in text
    for f in report.findings:
        assert f.label in text, f.metric
    assert "flagged" in text and "within" in text and "not measurable" in text
    assert f"{SHOULDER_TILT:.1f}°" in text and "2.0°" in text            # the flagged value and its threshold
    assert "right shoulder higher by 4.0 deg" in text
    assert "needs a side view; this is a front view" in text
    assert "(weak evidence)" in text                                      # the ⚠ of the threshold source
    assert report.hypotheses and report.plan
    for h in report.hypotheses:
        assert h.pattern in text and all(t.name in text for t in h.tests)
    for p in report.plan:
        assert p.exercise.name in text
    assert "page 1" in text


def test_assess_pdf_flag_writes_the_same_findings_as_report_json(tmp_path):
    """`isobalance assess TRACK --pdf`: report.pdf next to report.json, with each finding's label and value."""
    poses = [Pose(shoulder_line_tilt=-6.0, pelvis_line_tilt=0.3) for _ in range(30)]
    track_csv = make_track(poses, view="front").save(tmp_path / "track.csv")
    done = subprocess.run([sys.executable, "-m", "isobalance.cli", "assess", str(track_csv), "-o",
                           str(tmp_path / "out"), "--pdf", "--no-progress"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"pdf: {tmp_path / 'out' / 'report.pdf'}" in done.stdout
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    reader, text = pdf_text(tmp_path / "out" / "report.pdf")
    assert_a4(reader)
    assert data["findings"]
    for f in data["findings"]:
        assert f["label"] in text
        if f["value"] is not None:
            assert f"{f['value']:.1f}" in text, f["metric"]
    assert "Hypotheses, not diagnoses" in text
