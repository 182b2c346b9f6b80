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


def page_specs(pages_dir: Path = PAGES_DIR) -> list[dict]:
    """The pages in menu order; History only when its file is installed."""
    specs = [
        dict(page=pages_dir / "self_assessment.py", title="Self-assessment", icon=":material/accessibility_new:",
             url_path="self-assessment", default=True),
        dict(page=pages_dir / "exercise.py", title="Guided exercise", icon=":material/timer:", url_path="exercise"),
        dict(page=pages_dir / "review.py", title="Review videos", icon=":material/video_library:",
             url_path="review"),
    ]
    if (pages_dir / "history.py").is_file():
        specs.append(dict(page=pages_dir / "history.py", title="History", icon=":material/monitoring:",
                          url_path="history"))
    return specs


def main() -> None:
    st.set_page_config(page_title="isobalance", page_icon="🧍", layout="wide")
    from dashboard.common import mark_navigation

    page = st.navigation([st.Page(str(spec.pop("page")), **spec) for spec in page_specs()])
    mark_navigation()
    st.sidebar.caption("isobalance points out what to check; it does not diagnose. Video stays on this computer.")
    page.run()


if __name__ == "__main__":        # `streamlit run` and AppTest run the file as __main__
    main()
