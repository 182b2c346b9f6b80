"""Patients in the dashboard: the store every page shares, a reusable patient picker, and the
progress figures of the history page.

Any page can save into the same store the CLI uses::

    from dashboard.patients import open_store, patient_picker, save_to_history, show_saved
    store = open_store(cfg)                      # None after showing why it cannot be opened
    pid = patient_picker(store, key="review_patient", preselect=False)   # None until chosen or added
    if store and pid:
        outcome = save_to_history(store.patient(pid), lambda: save_assessment(store, pid, report_dict, files))
        show_saved(outcome)       # "Saved to <name>'s history" or the store's error, never an exception

The store is the one the CLI opens (``store.store.resolve_url``: config ``[store] database_url``, else
``$ISOBALANCE_DATABASE_URL``, else SQLite in the data folder; one connection pool per server, cached).
Figures: each metric over sessions as points with their uncertainty band (95% CI widened by the model
error allowance) and the threshold line(s); holds as held-still seconds per session with repetitions
completed.
"""

from __future__ import annotations

import io
import logging
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

import plotly.graph_objects as go
import streamlit as st

from dashboard.common import data_folder, show_error
from store.progress import HoldPoint, MetricSeries
from vision.errors import IsobalanceError

POINT, FLAGGED, THRESHOLD, BAND = "#1f77b4", "#d62728", "#d62728", "rgba(31,119,180,0.35)"
log = logging.getLogger("isobalance.dashboard.patients")
CURRENT_KEY = "patient_current"     # the patient last chosen on any page: one patient for the whole journey


@st.cache_resource(show_spinner=False)
def _cached_store(url: str | None, data_dir: str):
    from store import Store

    return Store.open(url, data_dir)


def open_store(cfg) -> Any:
    """The patient store, or None after showing one plain error (bad URL, server down, newer schema)."""
    from store.store import resolve_url

    try:
        root = data_folder(cfg)
        return _cached_store(resolve_url(None, root, cfg.store.database_url), str(root))
    except IsobalanceError as exc:
        show_error(exc, "The patient store cannot be opened")
        return None


def patient_picker(store, key: str = "patient_id", label: str = "Patient", allow_add: bool = True,
                   preselect: bool = True) -> str | None:
    """A select box of patients (most recent activity first) plus an "add a patient" form.

    Returns the chosen patient id, or None when there is none yet. The choice lives in
    ``st.session_state[key]`` and, for the other pages of the same browser session, in
    ``CURRENT_KEY``: a patient picked on the self-assessment is still the one chosen on the exercise
    and history pages. Pages that save pass ``preselect=False``: nobody is chosen until the user picks
    or adds a patient in this session, so nothing is saved to whoever happens to be first in the list.
    """
    patients = store.patients()
    names = {p["id"]: p for p in patients}
    chosen = None
    if patients:
        ids = [p["id"] for p in patients]
        if st.session_state.get(key) not in names:
            st.session_state.pop(key, None)
            if st.session_state.get(CURRENT_KEY) in names:      # chosen on another page of this session
                st.session_state[key] = st.session_state[CURRENT_KEY]
        chosen = st.selectbox(label, ids, key=key, format_func=lambda i: _label(names[i]),
                              index=0 if preselect else None, placeholder="Choose a patient")
        if chosen is not None:
            st.session_state[CURRENT_KEY] = chosen
    if allow_add:
        with st.expander("Add a patient", expanded=not patients):
            st.text_input("Name or pseudonym", key=f"{key}_new_name")
            st.button("Add patient", key=f"{key}_add", on_click=_add_patient, args=(store, key))
            problem = st.session_state.pop(f"{key}_add_error", None)
            if problem:
                st.error(f"The patient was not added: {problem}", icon="⚠️")
    return chosen


def _add_patient(store, key: str) -> None:
    """The "Add patient" button's callback. Why a callback: it runs before the page's widgets are
    created, the only moment Streamlit lets code choose the picker's value (setting a created widget's
    key raises StreamlitWidgetAlreadyInstantiatedError). The name field is emptied once the patient
    exists, so a second click cannot add the same person twice."""
    name = st.session_state.get(f"{key}_new_name", "")
    try:
        new = store.add_patient(name)
    except IsobalanceError as exc:
        st.session_state[f"{key}_add_error"] = str(exc)
        return
    st.session_state[key] = st.session_state[CURRENT_KEY] = new
    st.session_state[f"{key}_new_name"] = ""


def choose_patient(cfg, key: str, label: str, unsaved: str) -> tuple[Any, dict[str, Any] | None]:
    """(store or None, chosen patient or None) for a page that saves results to a patient's history.

    Nobody is preselected, so nothing is saved to a patient by accident; ``unsaved`` is the caption
    shown whenever no patient is chosen (results are still shown, just not saved).
    """
    store = open_store(cfg)                    # None after showing why it cannot be opened
    patient = None
    if store is not None:
        try:
            pid = patient_picker(store, key=key, label=label, preselect=False)
            patient = store.patient(pid) if pid else None
        except IsobalanceError as exc:
            show_error(exc, "The patient store cannot be used")
    if patient is None:
        st.caption(unsaved)
    return store, patient


def save_to_history(patient: dict[str, Any], save: Callable[[], str]) -> dict[str, str]:
    """Run ``save`` (a store call returning the new session id) for ``patient``; returns ``{"saved":
    message}`` or ``{"save_error": message}``. Never raises: a failing store must not hide results."""
    name = patient["display_name"]
    try:
        sid = save()
    except IsobalanceError as exc:
        return {"save_error": f"Not saved to {name}'s history: {exc}"}
    except Exception as exc:  # noqa: BLE001 - a database problem must not hide the results on the page
        log.exception("saving to the patient store failed")
        return {"save_error": f"Not saved to {name}'s history because of an unexpected problem with the patient "
                              f"store ({type(exc).__name__}); the details are in the dashboard's log."}
    return {"saved": f"Saved to {name}'s history (session {sid[:8]})."}


def refresh_after_save(*outcomes: dict[str, Any] | None) -> None:
    """Run the page once more after a successful save: the patient picker, drawn earlier in this run,
    still shows the old session count. Results live in session state, so nothing is redone."""
    if any(o and o.get("saved") for o in outcomes):
        st.rerun()


def show_saved(outcome: dict[str, Any] | None, nothing: str = "Not saved to any patient's history.") -> None:
    """The outcome of ``save_to_history`` (``nothing`` when there was no save)."""
    outcome = outcome or {}
    if outcome.get("saved"):
        st.success(outcome["saved"], icon=":material/folder_shared:")
    elif outcome.get("save_error"):
        st.error(outcome["save_error"], icon="⚠️")
    else:
        st.caption(nothing)


def _label(p: dict[str, Any]) -> str:
    last = (p["last_session_utc"] or "")[:10] or "no sessions yet"
    return f"{p['display_name']} · {p['n_sessions']} session(s) · {last} · {p['id'][:8]}"


def metric_figure(series: MetricSeries, height: int = 280) -> go.Figure:
    """Value per session with its band (error bars) and the threshold line(s)."""
    pts = [p for p in series.points if p.measured]
    x = [p.recorded_utc.replace("T", " ").rstrip("Z") for p in pts]
    y = [p.value for p in pts]
    up = [(p.high - p.value) if p.high is not None else 0.0 for p in pts]
    down = [(p.value - p.low) if p.low is not None else 0.0 for p in pts]
    fig = go.Figure(go.Scatter(
        x=x, y=y, mode="lines+markers", name=series.label,
        marker={"size": 10, "color": [FLAGGED if p.status == "flagged" else POINT for p in pts]},
        line={"color": POINT, "width": 1},
        error_y={"type": "data", "array": up, "arrayminus": down, "color": BAND, "thickness": 6, "width": 0},
        customdata=[[p.status.replace("_", " "), p.direction] for p in pts],
        hovertemplate="%{x}<br>%{y:.1f} " + series.unit + "<br>%{customdata[0]}<br>%{customdata[1]}<extra></extra>"))
    levels = []
    if series.threshold is not None:
        levels = [series.threshold] + ([-series.threshold] if series.threshold_direction == "abs" else [])
    for level in levels:
        fig.add_hline(y=level, line={"color": THRESHOLD, "dash": "dash", "width": 1},
                      annotation_text=f"threshold {level:g} {series.unit}", annotation_position="top left")
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, showlegend=False,
                      title={"text": f"{series.label} ({series.unit})", "font": {"size": 14}},
                      xaxis={"type": "category", "title": None}, yaxis={"title": series.unit})
    return fig


def hold_figure(points: list[HoldPoint], height: int = 260) -> go.Figure:
    """Held-still seconds per session, labelled with repetitions completed of planned."""
    x = [p.recorded_utc.replace("T", " ").rstrip("Z") for p in points]
    fig = go.Figure(go.Bar(
        x=x, y=[p.held_still_s for p in points], marker_color=POINT,
        text=[f"{p.repetitions_completed}/{p.repetitions_planned} reps" for p in points], textposition="outside",
        hovertemplate="%{x}<br>%{y:.1f} s held still<br>%{text}<extra></extra>"))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title={"text": f"{points[-1].exercise_name}: time held still", "font": {"size": 14}},
                      xaxis={"type": "category", "title": None}, yaxis={"title": "s"})
    return fig


def export_zip(store, patient_id: str) -> bytes:
    """The patient's exported record folder (store.record.export_patient), zipped in memory."""
    from store.record import export_patient

    with tempfile.TemporaryDirectory() as tmp:
        folder = export_patient(store, patient_id, Path(tmp) / "record")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    zf.write(p, p.relative_to(folder))
    return buf.getvalue()
