"""Therapist page: upload videos, watch them being processed, then review each one.

For every video: annotated playback, the findings (value, threshold, uncertainty, evidence frames),
metrics over time, the muscle hypotheses with their confirmation tests, an exercise plan the therapist
can edit, and downloads (HTML report, JSON, landmark CSV, edited plan). The analysis is the CLI's own
(``dashboard.review_job`` runs vision/ and assessment/); this page only shows files the job wrote in
the upload's folder under the data folder, reached through generated upload ids.

With a patient chosen at the top (``dashboard.patients.patient_picker``), each finished report is saved
as a session of that patient (``store.save_assessment`` through ``review_upload``'s ``on_report`` seam);
a store that fails says so once and the review is still shown. No patient: nothing is saved.

Session state (what AppTest can set and read): ``review_results`` is the list of handled uploads,
each ``{"name": shown name, "upload_id": id or None, "error": message or None, "saved": message or
None, "save_error": message or None}``; ``review_seen`` the uploader file ids already handled (a file
is processed once, not on every rerun).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import streamlit as st

from assessment.findings import status_text
from dashboard import plots
from dashboard.common import app_config, ensure_app_navigation, escape_markdown, model_path, show_error
from dashboard.patients import choose_patient, refresh_after_save, save_to_history, show_saved
from dashboard.review_job import (KEY_FRAME_DIR, NO_PERSON, PARTIAL, key_frame_name, load_review,
                                  review_upload)
from dashboard.uploads import VIDEO_SUFFIXES, display_name, save_upload
from dashboard.words import VIEW_WORDS, human, therapist_words
from vision.errors import IsobalanceError

RESULTS_KEY, SEEN_KEY, UPLOADER_KEY, SELECTED_KEY = "review_results", "review_seen", "review_uploader", "review_selected"
PATIENT_KEY = "review_patient"
SAVED_FILES = {"track": "track_csv", "video": "video", "report_html": "report_html"}   # store role -> review file
log = logging.getLogger("isobalance.dashboard.review")


# ------------------------------------------------------------------------------------------ processing
def saver(store, patient: dict[str, Any] | None, entry: dict[str, Any]):
    """The ``on_report`` seam: save the finished report as a session of ``patient``. The outcome goes
    into ``entry`` ("saved" or "save_error") so a failing store never fails the review itself."""
    if store is None or patient is None:
        return None

    def save(report, files: dict[str, Path]) -> None:
        from store import save_assessment

        keep = {role: files[kind] for role, kind in SAVED_FILES.items() if kind in files}
        document = report.to_dict()
        # the history names the session by the file the therapist uploaded, not by its generated storage name
        document["track"].setdefault("meta", {})["source"] = entry["name"]
        entry.update(save_to_history(patient, lambda: save_assessment(store, patient["id"], document, keep)))

    return save


def process_file(uploaded, cfg, model, store=None, patient: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check, save and review one uploaded file with a progress bar (and save the report to the
    patient's history when one is chosen); never raises for a bad file."""
    name = display_name(uploaded.name)
    bar = st.progress(0.0, text=f"{name}: checking the file")
    shown = {"pct": -1}
    entry: dict[str, Any] = {"name": name, "upload_id": None, "error": None, "saved": None, "save_error": None}

    def on_progress(done: int, total: int | None) -> None:
        pct = int(100 * min(done / total, 1.0)) if total else 0
        if pct != shown["pct"]:         # one update per percent, not per frame
            shown["pct"] = pct
            bar.progress(pct / 100, text=f"{name}: frame {done} of {total or '?'}")

    try:
        upload = save_upload(uploaded.name, uploaded, uploaded.size, cfg, store=store)
        bar.progress(0.0, text=f"{name}: finding the body in every frame")
        review_upload(upload, cfg, model, on_progress=on_progress, on_report=saver(store, patient, entry))
        return entry | {"upload_id": upload.id}
    except IsobalanceError as exc:
        return entry | {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one broken file must not stop the page or the other files
        log.exception("review of an uploaded file failed")
        return entry | {"error": f"{name} could not be processed because of an unexpected problem "
                                 f"({type(exc).__name__}); the details are in the dashboard's log."}
    finally:
        bar.empty()


def handle_uploads(cfg, store=None, patient: dict[str, Any] | None = None) -> None:
    """The uploader, the messages about files already handled, then any new file processed in turn
    (its message, if any, appears as soon as it is known)."""
    files = st.file_uploader(
        "Upload one or more videos", accept_multiple_files=True, key=UPLOADER_KEY,
        max_upload_size=cfg.dashboard.max_upload_mb,
        help=f"{', '.join(s.lstrip('.').upper() for s in VIDEO_SUFFIXES)}, up to "
             f"{cfg.dashboard.max_upload_mb} MB each. Film the whole body, front or side view, 2-4 m away.")
    seen: list[str] = st.session_state.setdefault(SEEN_KEY, [])
    results: list[dict] = st.session_state.setdefault(RESULTS_KEY, [])
    for entry in results:
        if entry.get("error"):
            st.error(entry["error"], icon="⚠️")
    new = [f for f in files or [] if f.file_id not in seen]
    if not new:
        return
    try:
        model = model_path(cfg)
    except IsobalanceError as exc:
        show_error(exc, "No pose model, so the videos cannot be processed")
        return
    for f in new:
        seen.append(f.file_id)
        results.append(process_file(f, cfg, model, store, patient))
        if results[-1]["error"]:
            st.error(results[-1]["error"], icon="⚠️")
        else:
            st.session_state[SELECTED_KEY] = results[-1]["upload_id"]   # show the newest review
    refresh_after_save(*results[-len(new):])


# ------------------------------------------------------------------------------------------ display
def _fmt(value: Any, unit: str = "") -> str:
    if not isinstance(value, (int, float)) or value != value:
        return "—"
    return f"{value:.1f}{'°' if unit in ('deg', '°') else (' ' + unit if unit else '')}"


def _interval(pair: Any, unit: str = "") -> str:
    if isinstance(pair, (list, tuple)) and len(pair) == 2:
        return f"{_fmt(pair[0], unit)} to {_fmt(pair[1], unit)}"
    return "—"


def findings_table(findings: list[Mapping[str, Any]]) -> pd.DataFrame:
    rows = [{"Metric": f["label"], "Kind": f.get("kind", "static"), "Status": status_text(f),
             "View": human(f.get("view", ""), VIEW_WORDS),
             "Value": _fmt(f.get("value"), f.get("unit", "")), "Threshold": _fmt(f.get("threshold"), f.get("unit", "")),
             "95% CI": _interval((f.get("uncertainty") or {}).get("ci95"), f.get("unit", "")),
             "Frames used": _count((f.get("uncertainty") or {}).get("n_frames")),
             "Evidence frames": ", ".join(str(i) for i in f.get("frames", [])) or "—",
             "Direction / reason": therapist_words(f.get("direction") or f.get("reason") or "")} for f in findings]
    return pd.DataFrame(rows)


def _count(n: Any) -> str:
    return str(int(n)) if isinstance(n, (int, float)) and n == n else "—"


def views_text(views: Mapping[str, Any], n_analysed: int | None) -> str:
    """The camera view for a therapist: dominant view, shares, yaw, and on how many frames it was judged."""
    if not views:
        return "not reported"
    parts = [human(views.get("dominant", "unknown"), VIEW_WORDS)]
    shares = sorted((views.get("fractions") or {}).items(), key=lambda kv: -kv[1])
    if shares:
        parts.append(", ".join(f"{human(k, VIEW_WORDS)} {v:.0%}" for k, v in shares) + " of the frames judged")
    yaw = views.get("yaw_median")
    if isinstance(yaw, (int, float)) and yaw == yaw:
        parts.append(f"body turned about {abs(yaw):.0f}° from square to the camera (median)")
    n = views.get("n_frames")
    if isinstance(n, int):
        parts.append(f"judged on {n} of the {n_analysed} frames analysed (the still period)" if n_analysed and n != n_analysed
                     else f"judged on {n} frames")
    return "; ".join(parts)


def framing_text(framing: Mapping[str, Any]) -> str:
    if not framing:
        return "not reported"
    frac = framing.get("fraction_in_frame")
    text = f"whole body in frame in {frac:.0%} of the frames" if isinstance(frac, (int, float)) else "not measured"
    cut = framing.get("cut_off") or {}
    if cut:
        text += "; cut off: " + ", ".join(f"{human(k)} in {v:.0%}" for k, v in sorted(cut.items(), key=lambda kv: -kv[1]))
    return text


def settings_text(value: Any) -> str:
    """A settings mapping in words with sensible decimals (e.g. the smoothing filter's parameters)."""
    if isinstance(value, Mapping):
        return ", ".join(f"{human(k)} {settings_text(v)}" for k, v in value.items()) or "none"
    if isinstance(value, float):
        return f"{value:.3g}"
    return human(str(value)) if isinstance(value, str) else str(value)


def show_finding(f: Mapping[str, Any], folder: Path) -> None:
    unit = f.get("unit", "")
    u = f.get("uncertainty") or {}
    st.markdown(f"**Value** {_fmt(f.get('value'), unit)} · **threshold** {_fmt(f.get('threshold'), unit)} · "
                f"**view** {human(f.get('view', '—'), VIEW_WORDS)}")
    if f.get("direction"):
        st.markdown(f"**Direction:** {therapist_words(f['direction'])}")
    if f.get("reason"):
        st.markdown(f"**Why {'not measurable' if f['status'] == 'not_measurable' else 'noted'}:** "
                    f"{therapist_words(f['reason'])}")
    st.markdown(f"**Threshold source:** {therapist_words(f.get('threshold_source') or 'none')}")
    if u:
        st.markdown(f"**Uncertainty:** 95% confidence interval {_interval(u.get('ci95'), unit)} ({u.get('ci_method', 'method not given')}); "
                    f"interquartile range {_interval(u.get('iqr'), unit)}; {_count(u.get('n_frames'))} frames"
                    + (f"; possible systematic error ±{_fmt(u['systematic'], unit)}" if u.get("systematic") else ""))
    pictures = [(i, folder / KEY_FRAME_DIR / key_frame_name(i)) for i in f.get("frames", [])]
    pictures = [(i, p) for i, p in pictures if p.is_file()]
    if pictures:
        st.image([str(p) for _, p in pictures], caption=[f"evidence frame {i}" for i, _ in pictures], width=180)


def show_hypotheses(hypotheses: list[Mapping[str, Any]]) -> None:
    if not hypotheses:
        st.info("No muscle hypothesis: no metric was flagged beyond its threshold and uncertainty.")
        return
    for h in hypotheses:
        with st.container(border=True):
            st.markdown(f"**{h['pattern']}** — {h['confidence']} confidence")
            st.markdown(therapist_words(h["statement"]))
            if h.get("short"):
                st.markdown("Suggested short: " + ", ".join(m["label"] for m in h["short"]))
            if h.get("lengthened"):
                st.markdown("Suggested lengthened (weak): " + ", ".join(m["label"] for m in h["lengthened"]))
            ev = h.get("evidence") or {}
            st.caption(f"Evidence: {ev.get('label', h['metric'])} {_fmt(ev.get('value'), ev.get('unit', ''))} "
                       f"vs threshold {_fmt(ev.get('threshold'), ev.get('unit', ''))}. "
                       + therapist_words(" ".join(h.get("confidence_reasons", []))))
            st.markdown("**Confirm by hand before acting on it:**")
            for t in h.get("confirmation_tests", []):
                st.markdown(f"- **{t['name']}**{' ⚠' if t.get('weak') else ''}: {t['how']}")


FORWARD_HEAD_METRICS = ("cva_proxy_left", "cva_proxy_right", "forward_head_offset_left", "forward_head_offset_right")


def forward_head_note(findings: list[Mapping[str, Any]]) -> None:
    """The forward-head rule is fed only by report-only side-view metrics: say what that means."""
    measured = [f for f in findings if f.get("metric") in FORWARD_HEAD_METRICS and f.get("value") is not None]
    if measured:
        st.info("Forward head is measured here but never judged: the ear-shoulder angles of a webcam are not "
                "the clinical craniovertebral angle and no cut-off is validated for them, so isobalance does not "
                "suggest forward-head exercises from them (README, Clinical rules). Judge forward head by hand "
                "(e.g. the craniovertebral angle on a side photo with C7 palpated) and, if you confirm it, add "
                "its exercises to the plan below yourself.", icon=":material/info:")


def save_plan_button(plan: Mapping[str, Any], catalog, store, patient, upload_id: str) -> None:
    """"Save plan for this patient": what the guided exercise page and ``isobalance hold --patient`` run."""
    from dashboard.plan_table import therapy_plan
    from store.plans import save_plan

    if store is None or patient is None:
        st.caption("Choose a patient at the top to save this plan for them.")
        return
    if not plan["exercises"]:
        st.caption("Include at least one exercise to save a plan.")
        return
    if plan["skipped"]:
        st.caption("Complete or untick the rows above to save the plan.")
        return
    name = escape_markdown(patient["display_name"])
    if st.button(f"Save plan for {name}", key=f"save_plan_{upload_id}", type="primary"):
        try:
            plan_id = save_plan(store, patient["id"], therapy_plan(plan, catalog, patient["id"]))
        except IsobalanceError as exc:
            show_error(exc, "The plan was not saved")
        else:
            st.success(f"Plan saved for {name} (plan {plan_id[:8]}): their guided exercise "
                       "page and 'isobalance hold --patient' now offer exactly these exercises.")


def _reset_row(key: str, k: int) -> None:
    """Another exercise was chosen for row ``k``: its side and dose start again from the catalog."""
    for field in ("side", "hold", "relax", "stretch", "reps", "effort", "per_week"):
        st.session_state.pop(f"{key}_{k}_{field}", None)


def plan_row_editor(row: dict[str, Any], k: int, key: str, catalog) -> dict[str, Any]:
    """One plan row as standard widgets (keys ``{key}_{k}_<field>``); the row as edited."""
    from dashboard.plan_table import MAX_HOLD_S, MAX_PER_WEEK, MAX_PHASE_S, MAX_REPS, row_for, side_options
    from assessment.therapy_plan import MAX_EFFORT_PCT

    names = {e.id: e.name for e in catalog}
    with st.container(border=True):
        top = st.columns([1, 5, 3])
        include = top[0].checkbox("Include", value=row["include"], key=f"{key}_{k}_include")
        eid = top[1].selectbox("Exercise", list(names), index=list(names).index(row["exercise_id"]),
                               format_func=names.get, key=f"{key}_{k}_exercise", on_change=_reset_row,
                               args=(key, k))
        ex = catalog.get(eid)
        base = row if eid == row["exercise_id"] else row_for(ex, row["side"])
        sides = side_options(ex)
        side = top[2].radio("Side", sides, index=sides.index(base["side"]) if base["side"] in sides else None,
                            horizontal=True, key=f"{key}_{k}_side",
                            help="The side to treat, resolved by you from the findings and your own tests")
        dose = st.columns(6)
        hold = dose[0].number_input("Hold (s)", 1.0, float(MAX_HOLD_S), float(base["hold_s"]), 1.0,
                                    key=f"{key}_{k}_hold")
        relax = dose[1].number_input("Relax (s)", 0.0, float(MAX_PHASE_S), float(base["relax_s"]), 1.0,
                                     key=f"{key}_{k}_relax")
        stretch = 0.0
        if ex.technique != "isometric":
            stretch = dose[2].number_input("Stretch (s)", 0.0, float(MAX_PHASE_S), float(base["stretch_s"]), 1.0,
                                           key=f"{key}_{k}_stretch")
        reps = dose[3].number_input("Repetitions", 1, MAX_REPS, int(base["reps"]), 1, key=f"{key}_{k}_reps")
        effort = dose[4].slider("Effort (% of max)", 0.0, MAX_EFFORT_PCT, tuple(base["effort_pct"]), 5.0,
                                key=f"{key}_{k}_effort", help="Never more than half of maximal effort")
        per_week = dose[5].number_input("Sessions a week", 1, MAX_PER_WEEK, int(base["per_week"]), 1,
                                        key=f"{key}_{k}_per_week")
        why = "; ".join(base["why"]) if base["why"] else "added by you"
        st.caption(f"{ex.technique} for the {ex.target_muscle.replace('_', ' ')} · why: {why}")
    return {**base, "include": include, "exercise_id": eid, "side": side, "hold_s": hold, "relax_s": relax,
            "stretch_s": stretch, "reps": reps, "effort_pct": effort, "per_week": per_week}


def plan_editor(report: Mapping[str, Any], upload_id: str, catalog) -> list[dict[str, Any]]:
    """The plan rows as standard widgets: per row include, exercise, side and dose; below, a catalog
    exercise can be added. The rows live in ``st.session_state["plan_<upload id>"]``."""
    from dashboard.plan_table import plan_rows

    key = f"plan_{upload_id}"
    rows = st.session_state.setdefault(key, plan_rows(report.get("plan", []), catalog))
    if not rows:
        st.info("No exercise was suggested (no hypothesis). You can still add catalog exercises below.")
    edited = [plan_row_editor(row, k, key, catalog) for k, row in enumerate(rows)]
    names = {e.id: e.name for e in catalog}
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    extra = left.selectbox("Add a catalog exercise", list(names), index=None, format_func=names.get,
                           placeholder="Choose an exercise to add", key=f"{key}_add")
    right.button("Add to the plan", key=f"{key}_add_button", disabled=extra is None, on_click=_add_row,
                 args=(key, catalog))
    return edited


def _add_row(key: str, catalog) -> None:
    """"Add to the plan": a new row with the catalog's dose and no side yet; the chooser is emptied."""
    from dashboard.plan_table import row_for

    chosen = st.session_state.get(f"{key}_add")
    if chosen is not None:
        st.session_state[key].append(row_for(catalog.get(chosen), None))
        st.session_state[f"{key}_add"] = None


def show_plan(report: Mapping[str, Any], upload_id: str, stem: str, store=None, patient=None) -> None:
    from assessment.exercises import load_catalog
    from dashboard.plan_table import edited_plan, plan_download

    catalog = load_catalog()
    plan = edited_plan(plan_editor(report, upload_id, catalog), catalog, report)
    for problem in plan["skipped"]:
        st.warning(f"Not in the plan yet: {problem}.")
    save_plan_button(plan, catalog, store, patient, upload_id)
    if plan["exercises"] and not plan["skipped"]:
        text = plan_download(plan, catalog, (patient or {}).get("id", ""))
        st.download_button("Download edited plan (JSON)", text, file_name=f"{stem}-plan.json",
                           mime="application/json", key=f"dl_plan_{upload_id}",
                           help="The file 'isobalance hold --plan FILE' runs at home.")
        with st.expander(f"Edited plan as downloaded ({len(plan['exercises'])} exercises)"):
            st.json(text)
    else:
        with st.expander("Edited plan (complete or untick every row to download it)"):
            st.json(plan)


def show_downloads(files: Mapping[str, Path], upload_id: str, stem: str) -> None:
    offered = [("report_html", "HTML report", f"{stem}-report.html", "text/html"),
               ("report_json", "Report (JSON)", f"{stem}-report.json", "application/json"),
               ("track_csv", "Landmarks (CSV)", f"{stem}-landmarks.csv", "text/csv"),
               ("annotated_video", "Annotated video (MP4)", f"{stem}-annotated.mp4", "video/mp4")]
    cols = st.columns(len(offered))
    for col, (kind, label, file_name, mime) in zip(cols, offered):
        path = files.get(kind)
        if path is not None and path.is_file():
            col.download_button(label, data=lambda p=path: p.read_bytes(), file_name=file_name, mime=mime,
                                key=f"dl_{kind}_{upload_id}")


def show_review(cfg, upload_id: str, entry: Mapping[str, Any] | None = None, store=None, patient=None) -> None:
    try:
        result, report = load_review(cfg, upload_id)
    except IsobalanceError as exc:
        show_error(exc)
        return
    name = result.upload.original_name
    stem = Path(name).stem or "recording"
    st.header(escape_markdown(name))         # the uploaded file's name: shown as typed, never a link
    if entry is not None:
        show_saved(entry, "Not saved to any patient's history (no patient was chosen, or there was no report).")
    if result.status == PARTIAL:
        st.warning(escape_markdown(result.message))
    elif result.status == NO_PERSON:
        st.error(escape_markdown(result.message))
    left, right = st.columns([2, 3])
    with left:
        st.subheader("Annotated playback")
        video = result.files.get("annotated_video")
        if video is not None and video.is_file():
            st.video(str(video))
        else:
            st.info("No annotated video was written for this upload.")
    with right:
        st.subheader("Summary")
        if report is not None:
            st.markdown("\n".join(f"- {line}" for line in report["summary"]))
            for w in report.get("warnings", []):
                if w != result.message:
                    st.warning(escape_markdown(w))
            track = report.get("track") or {}
            st.caption(f"Camera view: {views_text(report.get('views') or {}, track.get('n_frames'))}")
            st.caption(f"Framing: {framing_text(report.get('framing') or {})}")
            meta = track.get("meta") or {}
            st.caption(f"Pose model: {Path(str(meta.get('model', ''))).name or '—'}; "
                       f"smoothing: {settings_text(meta.get('smoothing') or {})}")
    if report is None:
        st.subheader("Downloads")
        show_downloads(result.files, upload_id, stem)
        return

    st.subheader("Findings")
    st.table(findings_table(report["findings"]).set_index("Metric"))      # a table wraps: no column is cut off
    for f in report["findings"]:
        with st.expander(f"{f['label']} ({f.get('kind', 'static')}): {status_text(f)}"):
            show_finding(f, result.upload.folder)

    st.subheader("Metrics over time")
    choices = plots.plottable(report)
    if choices:
        flagged = [k for k, f in choices.items() if f["status"] == "flagged"]
        measured = [k for k, f in choices.items() if f["status"] != "not_measurable"]
        chosen = st.multiselect("Metrics", list(choices), default=(flagged or measured)[:3],
                                format_func=lambda k: f"{choices[k]['label']} ({choices[k].get('kind', 'static')})",
                                key=f"metrics_{upload_id}")
        for key, fig in plots.figures(report, chosen).items():
            st.plotly_chart(fig, key=f"plot_{upload_id}_{key}", width="stretch")
    else:
        st.info("No metric has per-frame values to plot.")

    st.subheader("Muscle hypotheses")
    show_hypotheses(report.get("hypotheses", []))
    forward_head_note(report["findings"])
    st.subheader("Exercise plan")
    show_plan(report, upload_id, stem, store, patient)
    st.subheader("Downloads")
    show_downloads(result.files, upload_id, stem)
    from assessment.report_pdf import render_pdf

    st.download_button("Printable report (PDF, A4)", data=lambda: render_pdf(report), file_name=f"{stem}-report.pdf",
                       mime="application/pdf", key=f"dl_pdf_{upload_id}")
    for d in report.get("disclaimers", []):
        st.caption(d)


def main() -> None:
    ensure_app_navigation()
    st.title("Review videos")
    st.caption("Videos are processed on this computer and kept in its data folder under generated names. "
               "Findings are hypotheses to confirm by hand, not diagnoses.")
    try:
        cfg = app_config()
    except IsobalanceError as exc:
        show_error(exc, "The configuration cannot be used")
        return
    store, patient = choose_patient(cfg, PATIENT_KEY, "Patient (reviews are saved to their history)",
                                    "No patient chosen: reviews are shown but not saved to any history.")
    handle_uploads(cfg, store, patient)
    results: list[dict] = st.session_state.get(RESULTS_KEY, [])
    done = [e for e in results if e.get("upload_id")]
    if not done:
        st.info("Upload a video to see its findings.")
        return
    labels = {e["upload_id"]: f"{e['name']} ({i + 1})" for i, e in enumerate(done)}
    upload_id = done[-1]["upload_id"]
    if len(done) > 1:
        if st.session_state.get(SELECTED_KEY) not in labels:
            st.session_state[SELECTED_KEY] = upload_id
        upload_id = st.selectbox("Recording", list(labels), format_func=labels.get, key=SELECTED_KEY)
    show_review(cfg, upload_id, next(e for e in done if e["upload_id"] == upload_id), store, patient)


main()
