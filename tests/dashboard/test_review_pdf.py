"""The review page's printable PDF download: offered with the other downloads, and the PDF it makes from
the stored report.json holds the flagged finding, its hypothesis and the "not diagnoses" wording."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader
from streamlit.testing.v1 import AppTest

from assessment.report_pdf import render_pdf
from tests.dashboard.test_review import PAGE, RUN_TIMEOUT_S, raised_shoulder_track, review_with_plan, setup  # noqa: F401


def test_review_offers_the_printable_pdf_of_the_stored_report(review_with_plan):  # noqa: F811
    saved, report = review_with_plan
    at = AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT_S)
    at.session_state["review_results"] = [{"name": saved.original_name, "upload_id": saved.id, "error": None}]
    at.run()
    assert not at.exception and not at.error
    assert "Printable report (PDF, A4)" in [b.label for b in at.get("download_button")]
    # the button's bytes: render_pdf of the report the page shows (read back, A4)
    reader = PdfReader(io.BytesIO(render_pdf(report)))
    assert round(float(reader.pages[0].mediabox.width)) == 595 and round(float(reader.pages[0].mediabox.height)) == 842
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in reader.pages))
    [flagged] = [f for f in report["findings"] if f["status"] == "flagged" and f["metric"] == "shoulder_line_tilt"]
    assert flagged["label"] in text and f"{flagged['value']:.1f}°" in text
    assert any(h["pattern"] in text for h in report["hypotheses"])
    assert "Hypotheses, not diagnoses" in text and "raised shoulder.mp4" in text
