"""The assessment report as a printable A4 PDF for the therapist (ReportLab's platypus layout).

Built from the validated report dictionary (``Report.to_dict()``, the same data as report.json and
report.html), so the three never disagree. Text uses the Bitstream Vera TTF fonts that ship inside the
reportlab wheel: no system fonts needed, and degrees, en dashes and "×" print. Vera has no "⚠", so
weak-evidence marks print as "(weak evidence)".
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Mapping
from xml.sax.saxutils import escape

from assessment.findings import status_text
from assessment.report import Report, _fmt, _interval, describe_block, validate_report, write_atomic

FONT, BOLD = "IsobalanceVera", "IsobalanceVera-Bold"


def _fonts() -> None:
    import reportlab
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    folder = Path(reportlab.__file__).parent / "fonts"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(folder / "VeraBd.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


def _t(value: Any) -> str:
    """Text safe for a platypus Paragraph (its markup escaped; ⚠ spelled out)."""
    return escape(str(value)).replace("⚠", "(weak evidence)")


def render_pdf(data: Mapping[str, Any]) -> bytes:
    """PDF bytes (A4 portrait) of a report dictionary as ``Report.to_dict()`` makes it."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Table, TableStyle

    validate_report(data)
    _fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12)
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#444444"))
    h1 = ParagraphStyle("h1", parent=body, fontName=BOLD, fontSize=16, leading=20, spaceAfter=4)
    h2 = ParagraphStyle("h2", parent=body, fontName=BOLD, fontSize=12, leading=15, spaceBefore=8, spaceAfter=4)
    h3 = ParagraphStyle("h3", parent=body, fontName=BOLD, fontSize=9.5, leading=12, spaceBefore=4)
    notice = ParagraphStyle("notice", parent=body, backColor=colors.HexColor("#fff4d6"),
                            borderColor=colors.HexColor("#e0a000"), borderWidth=0.6, borderPadding=5,
                            spaceBefore=4, spaceAfter=8)

    def p(text: str, style=body) -> Paragraph:
        return Paragraph(text, style)

    def kv(rows: list[tuple[str, str]]) -> Table:
        t = Table([[p(f"<b>{_t(k)}</b>", small), p(_t(v), small)] for k, v in rows], colWidths=[35 * mm, 140 * mm])
        t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                               ("TOPPADDING", (0, 0), (-1, -1), 1)]))
        return t

    inp, track = data["input"], data["track"]
    story: list = [
        p("Posture assessment report", h1),
        p(_t(f"{inp.get('name', '')} · {inp.get('kind', '')} · created {data['created_utc']} · "
             f"isobalance {data['generator']['version']} · report schema v{data['schema_version']}"), small),
        p("<b>Hypotheses, not diagnoses.</b> " + _t(
            "Every flag below suggests a possible muscle imbalance from video landmarks. Only a clinical "
            "examination, starting with the confirmation tests listed, can support or reject it."), notice),
        p("Summary", h2),
        *[p("• " + _t(line)) for line in data["summary"]],
    ]
    if data["warnings"]:
        story += [p("Warnings", h3), *[p("• " + _t(w)) for w in data["warnings"]]]
    meta = track.get("meta", {})
    story += [p("Recording", h2), kv([
        ("Input", inp.get("path") or inp.get("name") or "—"),
        ("Frames", f"{track.get('n_frames')} ({track.get('n_detected')} with a person, "
                   f"{100 * float(track.get('detection_rate') or 0):.0f}%)"
                   + (f", {_fmt(track['duration_s'])} s" if track.get("duration_s") is not None else "")),
        ("Frame size", f"{meta.get('width')} × {meta.get('height')} px"
                       + (f", rotated {meta['rotation']}°" if meta.get("rotation") else "")),
        ("Views", describe_block(data["views"])),
        ("Framing", describe_block(data["framing"])),
        ("Camera roll", describe_block(data["camera_roll"])),
        ("Model", meta.get("model") or "—"),
    ])]

    story.append(p("Findings", h2))
    if not data["findings"]:
        story.append(p("No metric could be assessed."))
    else:
        rows = [[p(f"<b>{h}</b>", small) for h in ("Metric", "Status", "Value", "Threshold", "Side / direction")]]
        flagged_rows = []
        for i, f in enumerate(data["findings"], start=1):
            label = f["label"] + (" (movement)" if f["kind"] == "movement" else "")
            rows.append([p(_t(label), small), p(_t(status_text(f)), small),
                         p(_t(_fmt(f["value"], f["unit"])), small), p(_t(_fmt(f["threshold"], f["unit"])), small),
                         p(_t(f.get("direction") or f.get("side") or "—"), small)])
            if f["status"] == "flagged":
                flagged_rows.append(i)
        table = Table(rows, colWidths=[52 * mm, 24 * mm, 18 * mm, 20 * mm, 61 * mm], repeatRows=1)
        style = [("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#bbbbbb")),
                 ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")), ("VALIGN", (0, 0), (-1, -1), "TOP")]
        style += [("BACKGROUND", (0, r), (-1, r), colors.HexColor("#fde2d2")) for r in flagged_rows]
        table.setStyle(TableStyle(style))
        story.append(table)
        story.append(p("Evidence per finding", h3))
        for f in data["findings"]:
            u = f.get("uncertainty") or {}
            unc = " · ".join(x for x in (
                f"IQR {_interval(u['iqr'])}" if u.get("iqr") is not None else "",
                f"95% CI of the median {_interval(u['ci95'])}" if u.get("ci95") is not None else "",
                f"{u['n_frames']} frames" if u.get("n_frames") is not None else "") if x) or "—"
            rows = [("Value", _fmt(f["value"], f["unit"]) + (f" — {f['direction']}" if f.get("direction") else "")),
                    ("Threshold", _fmt(f["threshold"], f["unit"])
                     + (" (no published cut-off: reported, never flagged)" if f["threshold"] is None else "")),
                    ("Threshold source", f.get("threshold_source") or "—"),
                    ("Uncertainty", unc),
                    ("Key frames", ", ".join(str(k) for k in f.get("frames", [])[:10]) or "—")]
            if f.get("reason"):
                rows.append(("Not measurable because" if f["status"] == "not_measurable" else "Note", f["reason"]))
            story.append(KeepTogether([
                p(_t(f"{f['label']} — {status_text(f)} "
                     f"({f['metric']}, {f['kind']}, view: {f['view']})"), h3), kv(rows)]))

    story.append(p("Muscle hypotheses", h2))
    if not data["hypotheses"]:
        story.append(p("No flagged finding suggests a muscle hypothesis."))
    for h in data["hypotheses"]:
        ev = h["evidence"]
        rows = []
        if h.get("short"):
            rows.append(("Suggested short", ", ".join(m["label"] for m in h["short"])))
        if h.get("lengthened"):
            rows.append(("Suggested lengthened / weak", ", ".join(m["label"] for m in h["lengthened"])))
        rows.append(("Evidence", f"{ev['label']} {_fmt(ev['value'], ev['unit'])} vs threshold "
                                 f"{_fmt(ev['threshold'], ev['unit'])}"))
        if h.get("confidence_reasons"):
            rows.append(("Confidence lowered", "; ".join(h["confidence_reasons"])))
        rows.append(("Evidence quality", h.get("evidence_note") or "—"))
        rows.append(("Sources", " ".join(f"[{s}]" for s in h.get("sources", []))))
        tests = [p("• " + _t(f"{t['name']}{' ⚠' if t.get('weak') else ''}: {t['how']}"), small)
                 for t in h.get("confirmation_tests", [])]
        story.append(KeepTogether([p(_t(f"{h['pattern']} ({h['confidence']} confidence)"), h3),
                                   p(_t(h["statement"])), kv(rows), p("<b>Confirm by hand</b>", small), *tests]))

    story.append(p("Suggested exercise plan", h2))
    if not data["plan"]:
        story.append(p("No exercise suggested."))
    else:
        story.append(p(_t("Start only after a therapist has confirmed the hypotheses. Short muscles are released "
                          "first (PIR/MET), lengthened ones then held gently (isometric)."), small))
    for item in data["plan"]:
        e = item["exercise"]
        side = "both sides" if item["side"] == "both" else f"{item['side']} side"
        dose = (f"{int(e['effort_pct'][0])}–{int(e['effort_pct'][1])}% effort, hold {int(e['hold_s'])} s, "
                f"relax {int(e['relax_s'])} s" + (f", new-barrier stretch {int(e['stretch_s'])} s" if e.get("stretch_s")
                                                  else "") + f", × {e['repetitions']}")
        story.append(KeepTogether([
            p(_t(f"{e['name']} — {side}"), h3),
            p(_t(f"{e['technique']} · target: {e['target_muscle'].replace('_', ' ')} · camera: {e['camera_view']}"),
              small),
            *[p("• " + _t(w), small) for w in item.get("why", [])],
            kv([("Start", e.get("start_position", "—")), ("Dose", dose)])]))

    story += [p("Please read", h2), *[p("• " + _t(d), small) for d in data["disclaimers"]]]
    if data["references"]:
        story.append(p("References", h2))
        for key, ref in data["references"].items():
            text = ref.get("cite") or ""
            story.append(p(_t(f"[{key}] {text}"), small))

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawString(18 * mm, 10 * mm, f"isobalance posture assessment · {inp.get('name', '')} · "
                                            "hypotheses, not diagnoses")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"page {doc.page}")
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=18 * mm, title="Posture assessment report", author="isobalance",
                            subject=str(inp.get("name", "")))
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def write_pdf(report: Report | Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write the A4 PDF of ``report`` (a Report or its dictionary) atomically to ``path``."""
    data = report.to_dict() if isinstance(report, Report) else report
    return write_atomic(path, render_pdf(data))
