"""isobalance dashboard entry point (``isobalance dashboard`` runs ``streamlit run`` on this file).

Pages: the patient's self-assessment and guided exercise (live webcam), the therapist's video review,
and the history page when it is installed. All analysis is the CLI's own vision/ and assessment/ code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:          # `streamlit run dashboard/app.py` from a source checkout
    sys.path.insert(0, str(ROOT))

PAGES_DIR = Path(__file__).resolve().parent / "pages"


def navigation_pages() -> list:
    pages = [
        st.Page(str(PAGES_DIR / "self_assessment.py"), title="Self-assessment", icon=":material/accessibility_new:", default=True,
                url_path="self-assessment"),
        st.Page(str(PAGES_DIR / "exercise.py"), title="Guided exercise", icon=":material/timer:", url_path="exercise"),
        st.Page(str(PAGES_DIR / "review.py"), title="Review videos", icon=":material/video_library:", url_path="review"),
    ]
    history = PAGES_DIR / "history.py"
    if history.is_file():
        pages.append(st.Page(str(history), title="History", icon=":material/monitoring:", url_path="history"))
    return pages


def main() -> None:
    st.set_page_config(page_title="isobalance", page_icon="🧍", layout="wide")
    from dashboard.common import mark_navigation

    page = st.navigation(navigation_pages())
    mark_navigation()
    st.sidebar.caption("isobalance suggests hypotheses, not diagnoses. Video stays on this computer.")
    page.run()


main()
