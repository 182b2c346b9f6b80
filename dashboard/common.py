"""Helpers every dashboard page shares: the one configuration, the pose model, the data folder, and
showing an isobalance error as one plain sentence (never a traceback).

Settings come only from ``isobalance.config.load_config`` (the file named by ``ISOBALANCE_CONFIG``,
which ``isobalance dashboard --config`` sets for the server), so the dashboard and the CLI cannot
disagree. Model resolution is the CLI's (``vision.landmarks_job.model_for``), cached per model name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import streamlit as st

from isobalance.config import Config, load_config
from vision.errors import IsobalanceError


NAV_KEY = "_isobalance_navigation"


def server_runtime() -> bool:
    """True inside a real Streamlit server (streamlit.testing's AppTest has no session manager)."""
    from streamlit.runtime import Runtime

    # AppTest installs a spec'd Mock as the runtime: it passes isinstance but has no session manager
    return Runtime.exists() and hasattr(Runtime.instance(), "_session_mgr")


def mark_navigation() -> None:
    """Called by app.py before it runs a page: this run went through the app's st.navigation."""
    st.session_state[NAV_KEY] = True


def ensure_app_navigation() -> None:
    """Call first in every page. Why: the first session of a fresh server that opens a deep link
    (e.g. /exercise) is run by Streamlit's legacy ``pages/`` folder mode, which executes the page file
    without app.py (wrong menu, no settings from app.py) until app.py's st.navigation has run once.
    Leave that mode (what st.navigation itself does) and rerun once, now through app.py."""
    if st.session_state.get(NAV_KEY) or not server_runtime() or st.session_state.get(NAV_KEY + "_rerun"):
        return
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False
    st.session_state[NAV_KEY + "_rerun"] = True
    st.rerun()


def config_path() -> str | None:
    return os.environ.get("ISOBALANCE_CONFIG") or None


def app_config() -> Config:
    """The configuration for this run (defaults, overridden by the ISOBALANCE_CONFIG file).

    Raises ``ConfigError`` (an IsobalanceError) with a plain sentence when the file is bad.
    """
    return _cached_config(config_path())


@st.cache_resource(show_spinner=False)
def _cached_config(path: str | None) -> Config:
    return load_config(path)


def model_path(cfg: Config) -> Path:
    """The pose model bundle the configuration names (raises ModelError / ModelNotFoundError)."""
    return _cached_model_path(cfg.vision.model, os.environ.get("ISOBALANCE_MODEL", ""))


@st.cache_resource(show_spinner=False)
def _cached_model_path(spec: str, env_model: str) -> Path:
    # env_model is part of the cache key only: resolve_model reads ISOBALANCE_MODEL itself
    from vision.landmarks_job import model_for

    return Path(model_for(spec))


def data_folder(cfg: Config) -> Path:
    """The user data folder (config ``dashboard.data_dir``, $ISOBALANCE_DATA, or ~/.local/share)."""
    from isobalance.paths import data_dir

    return data_dir(cfg.dashboard.data_dir)


# What makes markdown live in one line of text: links and images need '[', autolinks '<', '://', 'www.'
# or '@'; emphasis '*', '~' or a word-boundary '_'; code '`'; math '$'; the escape itself '\\'.
# Parentheses, dots and intraword '_' stay as they are (file names keep reading naturally).
_MARKDOWN_INLINE = re.compile(r"([\\`*\[\]<>~$@]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|:(?=//))")
_MARKDOWN_LINE_START = re.compile(r"(^|\n)(\s*)([-=+#|]|\d+(?=\.))")   # lists, headings, tables
_WWW_AUTOLINK = re.compile(r"(?i)\b(www)\.")


def escape_markdown(text: object) -> str:
    """``text`` shown literally by st.error/st.markdown/st.header: whatever would make a link, an
    autolinked URL or e-mail, emphasis, code, HTML, math, a heading, list or table is backslash-escaped,
    so a file name, link parameter or patient name renders exactly as typed."""
    out = _MARKDOWN_INLINE.sub(r"\\\1", str(text))
    out = _WWW_AUTOLINK.sub(r"\1\\.", out)
    # "- item" -> "\- item"; "1. item" -> "1\. item" (a backslash before a digit would show)
    return _MARKDOWN_LINE_START.sub(lambda m: m[1] + m[2] + (m[3] + "\\" if m[3][0].isdigit() else "\\" + m[3]), out)


def show_error(exc: IsobalanceError, what: str = "") -> None:
    """One clear message for the user; the page keeps whatever it already shows. The message may
    quote what a user typed or uploaded (``?exercise=...``, file names): shown escaped, never as links."""
    prefix = f"{what}: " if what else ""
    st.error(f"{prefix}{escape_markdown(exc)}", icon="⚠️")


def load_settings() -> tuple[Config, Path] | None:
    """Config and model path, or None after showing why they cannot be used (page stops there)."""
    try:
        cfg = app_config()
    except IsobalanceError as exc:
        show_error(exc, "The configuration cannot be used")
        return None
    try:
        path = model_path(cfg)
    except IsobalanceError as exc:
        show_error(exc, "No pose model")
        return None
    return cfg, path
