"""History page: pick a patient, see what changed since last time, each metric over sessions with its
uncertainty band and threshold, holds per exercise, the sessions, and download the whole record.

Everything comes from the patient store (store/), the same one ``isobalance sessions`` reads. A
change is called real only beyond the measurement uncertainty (store/progress.py explains the rule).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import streamlit as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:          # run on its own (AppTest, streamlit run) from a source checkout
    sys.path.insert(0, str(ROOT))

from dashboard.common import app_config, ensure_app_navigation, show_error  # noqa: E402
from dashboard.patients import export_zip, hold_figure, metric_figure, open_store, patient_picker  # noqa: E402
from store.progress import progress  # noqa: E402
from vision.errors import IsobalanceError  # noqa: E402

PICKER_KEY, EXPORT_KEY, PURGE_KEY = "history_patient", "history_export", "history_purge_uploads"


def show_changes(prog) -> None:
    st.subheader("What changed since last time")
    if prog.n_assessments < 2:
        st.info(f"{prog.n_assessments} assessment(s) so far: a comparison needs two.")
    elif not prog.changes:
        st.info("No metric was measured in both of the last two assessments.")
    else:
        real = [c for c in prog.changes if c.real]
        if not real:
            st.success("No metric changed beyond the measurement uncertainty since the last assessment.")
        for c in real:
            st.markdown(f"- **{c.sentence}**")
        with st.expander(f"All {len(prog.changes)} compared metrics"):
            for c in prog.changes:
                st.markdown(f"- {c.sentence}")
    for line in prog.hold_changes:
        st.markdown(f"- {line}")
    st.caption("A change is called real only when the two sessions' ranges (95% confidence interval widened by "
               "the model error allowance) do not overlap and, where published, the difference exceeds the "
               "minimal detectable change. These are measurements of posture, not diagnoses.")


def show_metrics(prog) -> None:
    st.subheader("Metrics over sessions")
    series = sorted(prog.metrics.values(), key=lambda s: (s.kind, s.label))
    measured = [s for s in series if any(p.measured for p in s.points)]
    if not measured:
        st.info("No assessment with a measurable metric yet.")
        return
    for s in measured:
        st.plotly_chart(metric_figure(s), key=f"history_metric_{s.key}", width="stretch")
        st.caption(f"Threshold source: {s.threshold_source}"
                   + (f" · smallest detectable change {s.mdc:g} {s.unit} ({s.mdc_source})" if s.mdc else ""))
    never = [s.label for s in series if s not in measured]
    if never:
        st.caption("Not measurable in any session: " + ", ".join(never) + ".")


def show_holds(prog) -> None:
    st.subheader("Exercise holds")
    if not prog.holds:
        st.info("No exercise hold has been checked for this patient yet.")
        return
    for ex, points in sorted(prog.holds.items()):
        st.plotly_chart(hold_figure(points), key=f"history_hold_{ex}", width="stretch")


def show_plan_progress(store, pid: str) -> None:
    """The therapist's plan: adherence (holds done / planned per ISO week), the range gained at the barrier
    between sessions, and every hold with its pain before and after (``store.plans``)."""
    from store.plans import adherence, barrier_gains, current_plan, hold_log

    plan = current_plan(store, pid)
    holds = hold_log(store, pid)
    if plan is None and not holds:
        return
    st.subheader("Exercise plan: adherence, range gained, pain")
    if plan is None:
        st.caption("No plan saved for this patient: the holds below were chosen from the catalog.")
    else:
        rows = adherence(store, pid)
        weeks = sorted({w for r in rows for w in r["weeks"]} | {rows[0]["week"]})[-6:]
        st.caption(f"Current plan saved {plan.saved_utc} ({plan.note}). Holds done / planned per week:")
        st.dataframe(pd.DataFrame([{"exercise": r["exercise_id"], "side": r["side"], "planned a week": r["per_week"],
                                    **{w: f"{r['weeks'].get(w, 0)} / {r['per_week']}" for w in weeks}}
                                   for r in rows]), hide_index=True, width="stretch", key="history_adherence")
    gains = barrier_gains(store, pid)
    for g in gains:
        verdict = "beyond the measurement noise" if g["beyond_noise"] else "within the measurement noise"
        st.markdown(f"- **{g['exercise_name']} ({g['side'] or 'side not recorded'})**: barrier range "
                    f"{g['from_deg']:.1f}° → {g['to_deg']:.1f}° over {g['sessions']} sessions, "
                    f"{g['gain_deg']:+.1f}° ({verdict}; {g['rule']}).")
    if not gains and holds:
        st.caption("Range gained between sessions: needs a barrier measured in two holds of the same exercise "
                   "and side (PIR / MET exercises whose barrier the camera can see).")
    if holds:
        st.dataframe(pd.DataFrame([{
            "date (UTC)": h["recorded_utc"], "exercise": h["exercise_id"], "side": h["side"] or "—",
            "counted": f"{h['counted']} / {h['planned']}",
            "pain before": "—" if h["pain_before"] is None else f"{h['pain_before']}/10",
            "pain after": "—" if h["pain_after"] is None else f"{h['pain_after']}/10",
            "stop rule": {True: "stopped", False: "fine", None: "—"}[h["pain_stop"]]} for h in holds]),
            hide_index=True, width="stretch", key="history_hold_log")


def show_sessions(store, pid: str) -> None:
    st.subheader("Sessions")
    rows = [{"date (UTC)": s["recorded_utc"], "kind": s["kind"], "source": f"{s['source_kind']}: {s['source']}",
             "summary": " ".join(s["summary"]), "id": s["id"][:8]} for s in store.sessions(pid)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def show_unsaved_uploads(store, cfg) -> None:
    """Uploaded videos no patient's session refers to, with a button that removes them now (what
    ``isobalance data purge`` does; store/uploads.py keeps the rules)."""
    from dashboard.uploads import MB, uploads_dir
    from store.uploads import list_uploads, purge_uploads

    folder = uploads_dir(cfg)
    loose = [u for u in list_uploads(folder, store.referenced_uploads()) if not u.referenced]
    with st.expander("Uploaded videos not saved to any patient"):
        st.caption(f"Uploads saved to a patient's history stay until that session or patient is deleted; the "
                   f"others are removed after {cfg.dashboard.upload_retention_hours:g} h.")
        if not loose:
            st.caption("None: every upload kept on this machine belongs to a saved session.")
        elif st.button(f"Remove {len(loose)} unsaved upload(s) ({sum(u.size_bytes for u in loose) / MB:.1f} MB)",
                       key=PURGE_KEY):
            gone = purge_uploads(folder, store.referenced_uploads())
            st.success(f"Removed {len(gone)} upload(s) and everything made from them.")


def main() -> None:
    ensure_app_navigation()
    st.title("History")
    try:
        cfg = app_config()
    except IsobalanceError as exc:
        show_error(exc, "The configuration cannot be used")
        return
    store = open_store(cfg)
    if store is None:
        return
    try:
        pid = patient_picker(store, key=PICKER_KEY)
        if pid is None:
            st.info("No patients yet. Add one above; assessments and holds saved for them appear here.")
            return
        prog = progress(store, pid)
        if not store.sessions(pid):
            st.info("No sessions for this patient yet.")
        else:
            show_changes(prog)
            show_metrics(prog)
            show_holds(prog)
            show_plan_progress(store, pid)
            show_sessions(store, pid)
        if st.button("Prepare the whole record for download", key="history_prepare_export"):
            st.session_state[EXPORT_KEY] = (pid, export_zip(store, pid))
        ready = st.session_state.get(EXPORT_KEY)
        if ready and ready[0] == pid:
            st.download_button("Download record (JSON + CSV + HTML + files, zip)", ready[1],
                               file_name=f"isobalance-{pid[:8]}.zip", mime="application/zip",
                               key="history_download")
    except IsobalanceError as exc:
        show_error(exc)
    finally:
        show_unsaved_uploads(store, cfg)


main()
