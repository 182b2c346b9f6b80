"""User-derived text shown by st.error / st.markdown / st.header is literal: no link, no emphasis.

``escape_markdown`` is checked with a real CommonMark renderer (markdown-it-py): the rendered HTML has
no ``<a``/``<em>``/``<h1>``, and its text is exactly what the user typed. The guided-exercise page is
then run (streamlit.testing) with the hostile link parameter of issue 11.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from dashboard.common import escape_markdown

EXERCISE = Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "exercise.py"
HOSTILE = [
    "[text](https://evil.example)",
    "![img](https://evil.example/x.png)",
    "<https://evil.example>",
    "**bold** _it_ `code` ~~gone~~",
    "# heading",
    "<script>alert(1)</script>",
    "a\\[b](c) with a backslash",
    "$x^2$ and [ref]: https://evil.example",
    "- a list item\n1. numbered\nwww.evil.example",
    "no exercise 'no-such-exercise'; valid: upper-trapezius-pir",
]


def rendered(markdown: str) -> str:
    return MarkdownIt("commonmark").render(markdown)


def visible_text(page_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page_html)).strip()


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_literally(text):
    out = rendered(escape_markdown(text))
    assert not re.search(r"<(a|img|em|strong|code|h\d|script|del)\b", out), out
    assert visible_text(out) == text


def test_the_samples_are_live_markdown_unescaped():
    """Else the test above would prove nothing: unescaped, these render as link, image, emphasis, heading."""
    assert "<a href" in rendered(HOSTILE[0]) and "<img" in rendered(HOSTILE[1])
    assert "<strong>" in rendered(HOSTILE[3]) and "<h1>" in rendered(HOSTILE[4])


def test_hostile_exercise_link_is_shown_escaped_in_the_error_box(monkeypatch, model_path, tmp_path):
    monkeypatch.setenv("ISOBALANCE_MODEL", str(model_path))
    monkeypatch.setenv("ISOBALANCE_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("ISOBALANCE_CONFIG", raising=False)
    at = AppTest.from_file(str(EXERCISE), default_timeout=120)
    at.query_params["exercise"] = "[text](https://evil.example)"
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "Unknown exercise in the link" in errors[0]
    out = rendered(errors[0])
    assert "<a" not in out and "[text](https://evil.example)" in visible_text(out)
