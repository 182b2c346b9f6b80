"""Patient page: a guided isometric exercise, checked live.

Pick an exercise (from the plan of this session's self-assessment, or from the catalog), read its
instructions, then a short rest calibration and the live hold: a timer that runs only while the named
joints are still, a still / moving indicator, which joint moved, the repetition count, and the
per-repetition summary at the end. All judging is ``assessment.hold.HoldMonitor`` fed frame by frame
(``dashboard.live.LiveHold``) - the same code path as ``isobalance hold``.

A link can preselect an exercise with ``?exercise=<id>``. With a patient chosen (the shared picker,
``dashboard.patients``), the finished hold's result is saved to their history (``store.save_hold``).
When the therapist saved a plan for that patient, the page offers exactly that plan: each item with
its side and dose, and the hold is recorded against the item (``store.plans``).

Safety first (``dashboard.safety_screen``): the red-flag questions and pain before any exercise, the
blood-pressure caution, therapist-only techniques only from the therapist's plan, pain after.
"""

from __future__ import annotations

import streamlit as st

from dashboard.common import ensure_app_navigation, load_settings, show_error
from dashboard.live import LiveHold, LiveSession, shared_estimator, webrtc_view
from dashboard.patients import choose_patient, refresh_after_save, save_to_history, show_saved
from dashboard.pictures import png
from dashboard.words import OUTCOME_WORDS, PHASE_TITLES, PHASE_WORDS
from dashboard.safety_screen import SAFETY_KEY, pain_after_check, safety_gate
from vision.errors import IsobalanceError

SESSION_KEY = "exercise_session"
RESULT_KEY = "exercise_result"
SAVED_KEY = "exercise_saved"              # outcome of saving RESULT_KEY to the patient's history
ENDED_KEY = "exercise_ended"              # the session was ended (summary made or its error shown)
PATIENT_KEY = "exercise_patient"
CHOICE_KEY = "exercise_choice"            # set by the self-assessment's "Practise a suggested exercise"
PAIN_SAVED_KEY = "exercise_pain_saved"    # (session id, pain after) already saved
POLL_S = 0.5
STILLNESS_WORDS = {"still": (":green[:material/radio_button_checked:]", "Still"),
                   "moving": (":orange[:material/radio_button_checked:]", "Moving…"),
                   "returning": (":orange[:material/radio_button_checked:]", "Settling back"),
                   "broken": (":red[:material/radio_button_checked:]", "Moved"),
                   "not_visible": (":gray[:material/radio_button_unchecked:]", "Joints not visible"),
                   "not_judged": (":gray[:material/radio_button_unchecked:]", "Waiting")}


def choose_exercise(catalog):
    """The chosen catalog exercise, or None (after saying what to do)."""
    from assessment.exercises import CatalogError

    plan = st.session_state.get("plan")          # None: no self-assessment yet; []: one that suggested nothing
    if plan:
        options = [p.exercise.id for p in plan]
        st.write("Exercises suggested by your self-assessment (do them only after a therapist has confirmed "
                 "the findings):")
    elif plan is not None:
        options = list(catalog.ids)
        st.info("Your self-assessment in this session is done, and it suggested no exercise. You can repeat "
                "it another day to compare, or ask your therapist: the whole catalog is listed below for an "
                "exercise they choose with you.")
    else:
        options = list(catalog.ids)
        st.caption("No self-assessment in this session yet, so the whole catalog is listed. A therapist "
                   "should choose the exercise with you.")
    wanted = st.query_params.get("exercise") or st.session_state.get(CHOICE_KEY)
    index = None
    if wanted:
        try:
            catalog.get(wanted)
        except CatalogError as exc:
            show_error(exc, "Unknown exercise in the link")
        else:
            if wanted not in options:
                options.append(wanted)
            index = options.index(wanted)
    names = {e.id: e.name for e in catalog}
    chosen = st.selectbox("Exercise", options, index=index, format_func=lambda i: names.get(i, i),
                          placeholder="Choose an exercise")
    if chosen is None:
        st.info("Choose an exercise to see its instructions and start the guided hold.")
        return None
    try:
        return catalog.get(chosen)
    except CatalogError as exc:
        show_error(exc)
        return None


def choose_plan_item(therapy, catalog):
    """The therapist's plan for this patient: exactly its items, side and dose included."""
    names = {e.id: e.name for e in catalog}
    labels = [f"{names.get(i.exercise_id, i.exercise_id)} - {i.side} side" if i.side != "both" else
              f"{names.get(i.exercise_id, i.exercise_id)} - both sides" for i in therapy.items]
    st.write("Your therapist's plan:")
    k = st.selectbox("Exercise", range(len(labels)), index=None, format_func=lambda j: labels[j],
                     placeholder="Choose an exercise of your plan", key="plan_item")
    if k is None:
        st.info("Choose an exercise to see its instructions and start the guided hold.")
    return None if k is None else therapy.items[k]


@st.cache_resource(show_spinner=False)
def exercise_pictures() -> dict:
    from dashboard.pictures import load_pictures

    return load_pictures()


def show_instructions(ex, item=None) -> None:
    from dashboard.words import GLOSSARY, effort_words

    st.subheader(ex.name)
    if item is not None:
        side = "both sides" if item.side == "both" else f"the {item.side} side"
    else:
        side = {"affected": "the side your therapist names", "both": "both sides"}.get(ex.side, f"the {ex.side} side")
    st.markdown(f"**{ex.technique}** for the {ex.target_muscle.replace('_', ' ')}, on {side}. "
                f"Camera: {ex.camera_view} view.", help=GLOSSARY.get(ex.technique))
    picture = exercise_pictures().get(ex.id)
    if picture is not None:
        st.image(png(picture), caption=picture.caption, width=300)
    st.markdown(f"**Start position:** {ex.start_position}")
    st.markdown("\n".join(f"{i}. {s}" for i, s in enumerate(ex.steps, 1)))
    lo, hi = ex.effort_pct if item is None else item.effort()
    st.markdown(f"**How hard:** {effort_words(lo, hi)}",
                help=f"{lo:g}-{hi:g}% of your strongest possible push")
    dose = ex if item is None else item
    st.markdown(f"**Dose{' (your therapist' + chr(39) + 's)' if item is not None else ''}:** contract at "
                f"{lo:g}-{hi:g}% effort for {dose.hold_s:g} s, relax {dose.relax_s:g} s"
                + (f", stretch {dose.stretch_s:g} s" if dose.stretch_s else "") + f"; {dose.repetitions} repetitions.")
    st.markdown("**Keep still:** " + ", ".join(n.replace("_", " ") for n in ex.still_landmarks + ex.still_angles))
    for s in ex.safety:
        st.warning(s, icon="⚠️")


def hold_session(estimator, cfg, ex, calibrate_s: float, settle_s: float, item=None) -> LiveSession:
    from assessment.hold import HoldProtocol, HoldSettings

    key = (ex.id, calibrate_s, settle_s) if item is None else (ex.id, calibrate_s, settle_s, item)
    stored = st.session_state.get(SESSION_KEY)
    if stored is None or stored[0] != key:
        protocol = HoldProtocol.from_exercise(ex) if item is None else item.protocol()
        task = LiveHold(protocol, HoldSettings(calibrate_s=calibrate_s, settle_s=settle_s))
        stored = (key, LiveSession(estimator, cfg.vision.pipeline_settings(), task))
        st.session_state[SESSION_KEY] = stored
        for k in (RESULT_KEY, RESULT_KEY + "_error", SAVED_KEY, ENDED_KEY):
            st.session_state.pop(k, None)
    return stored[1]


def save_result(store, patient, result, exercise_id: str, therapy=None, item=None) -> dict | None:
    """Save the finished hold once, as it is made (None = no patient chosen, nothing saved), with the pain
    before and the plan item in its context (as ``isobalance hold`` saves it); a hold of the therapist's
    plan is recorded against its item too. The outcome carries the session id (pain after updates it)."""
    if store is None or patient is None:
        return None
    from assessment.safety import pain_record
    from store import save_hold
    from store.plans import save_plan_hold

    pain_before = (st.session_state.get(SAFETY_KEY) or {}).get("pain_before")
    result.context = {**result.context,
                      "safety": pain_record(pain_before, None) if pain_before is not None else {},
                      "plan_item": None if item is None else {"exercise_id": item.exercise_id, "side": item.side}}
    saved: dict[str, str] = {}

    def save() -> str:
        saved["session_id"] = (save_plan_hold(store, patient["id"], therapy, item, result.to_dict()) if item is not None
                               else save_hold(store, patient["id"], result.to_dict(), exercise_id))
        return saved["session_id"]

    return save_to_history(patient, save) | saved


def save_pain_after(store, outcome: dict | None) -> None:
    """Pain after the exercise with the stop rule's answer (``dashboard.safety_screen``), saved with the
    hold it follows (``store.plans.record_pain_after``) once per hold."""
    after = pain_after_check()
    sid = (outcome or {}).get("session_id")
    if after is None or store is None or sid is None:
        return
    if st.session_state.get(PAIN_SAVED_KEY) == (sid, after):
        st.caption(f"Pain after ({after}/10) saved with this exercise in your history.")
        return
    from store.plans import record_pain_after

    try:
        record_pain_after(store, sid, after)
    except IsobalanceError as exc:
        show_error(exc, "The pain after the exercise was not saved")
    else:
        st.session_state[PAIN_SAVED_KEY] = (sid, after)
        st.caption(f"Pain after ({after}/10) saved with this exercise in your history.")


def _side_words(side: str) -> str:
    return "both sides" if side == "both" else f"{side} side"


def show_adherence(store, patient, catalog) -> None:
    """This week's done / planned per item of the therapist's plan."""
    from store.plans import adherence

    names = {e.id: e.name for e in catalog}
    rows = adherence(store, patient["id"])
    if rows:
        st.caption("Done this week: " + "; ".join(
            f"{names.get(r['exercise_id'], r['exercise_id'])}, {_side_words(r['side'])}: {r['done_this_week']} of "
            f"{r['per_week']}" for r in rows))


@st.fragment(run_every=POLL_S)
def live_hold_status(session: LiveSession) -> None:
    snap = session.snapshot()
    if snap.frames == 0:
        st.info("Press **START** above and allow the camera. Stand so the joints listed above are in view.")
        return
    if snap.error:
        st.error(snap.error)
    status = snap.hold
    pose = "detected" if snap.frames_with_pose else "not detected yet"
    st.caption(f"Pose {pose} in {snap.frames_with_pose} of {snap.frames} frames; {snap.fps:.1f} frames per "
               f"second processed; pose model "
               f"{snap.inference_ms:.0f} ms per frame, hold check and drawing {snap.overlay_ms:.1f} ms")
    if status is None:
        return
    from assessment.hold import Phase

    icon, words = STILLNESS_WORDS[status.stillness.value]
    cols = st.columns(4)
    cols[0].metric("Phase", PHASE_TITLES[status.phase.value])
    cols[1].metric("Repetition", f"{status.rep} / {status.repetitions}")
    if status.phase is Phase.HOLD:
        target = status.held_s + (status.phase_remaining_s or 0.0)
        cols[2].metric("Held still", f"{status.held_s:.1f} s", help=f"of {target:.0f} s; counts only while still")
    elif status.phase_remaining_s is not None:
        cols[2].metric("Time left", f"{status.phase_remaining_s:.1f} s")
    else:
        cols[2].metric("Time", f"{status.phase_elapsed_s:.1f} s")
    cols[3].metric("Breaks", status.breaks)
    if status.stillness.value == "not_judged":
        words = PHASE_WORDS.get(status.phase.value, words)
    st.subheader(f"{icon} {words}")
    if snap.guidance is not None:
        st.markdown(f"**{snap.guidance.text}**")
    if snap.calibration_restarts:
        st.caption(f"Calibration started again {snap.calibration_restarts} time(s) because you moved.")
    if snap.hold_finished and not st.session_state.get(ENDED_KEY):
        st.rerun(scope="app")             # whole page: main() makes, saves and shows the summary


def show_result(result) -> None:
    data = result.to_dict()
    s = data["summary"]
    st.header("Summary")
    st.write(f"{s['repetitions_completed']} of {s['repetitions_planned']} repetitions completed "
             f"({s['repetitions_counted']} counted: held still long enough with at most "
             f"{data['settings']['max_breaks']} breaks), "
             f"{s['breaks']} break(s), {s['frames']} frames over {s['duration_s']:.0f} s.")
    rows = [{"repetition": r["index"], "outcome": OUTCOME_WORDS.get(r["outcome"], r["outcome"]),
             "counted": "yes" if row["counted"] else row["why_not"],
             "held still (s)": round(r["held_still_s"], 1),
             "longest unbroken (s)": round(r["longest_unbroken_s"], 1), "breaks": len(r["breaks"]),
             "barrier (deg)": "—" if row["barrier_deg"] is None else f"{row['barrier_deg']:.1f} ± {row['barrier_error_deg']:.1f}",
             "joints that moved": ", ".join(sorted({b["joint"].replace("_", " ") for b in r["breaks"]})) or "—"}
            for r, row in zip(data["repetitions"], s["per_repetition"])]
    if rows:
        st.table(rows)
    gain = (data.get("barrier") or {}).get("gain")
    if gain:
        st.write(f"Range gained over the set: {gain['gain_deg']:+.1f} deg "
                 f"({'beyond' if gain['beyond_noise'] else 'within'} measurement noise; {gain['rule']}).")
    for note in data["notes"]:
        st.caption(f"Note: {note}")
    st.download_button("Download the result (JSON)", data=__import__("json").dumps(data, indent=2),
                       file_name=f"hold-{result.protocol.exercise_id}.json", mime="application/json")


def main() -> None:
    ensure_app_navigation()
    st.title("Guided exercise")
    settings = load_settings()
    if settings is None:
        st.stop()
    cfg, model = settings
    from assessment.exercises import load_catalog

    try:
        catalog = load_catalog()
    except IsobalanceError as exc:
        show_error(exc, "The exercise catalog cannot be read")
        st.stop()
    with st.sidebar:
        store, patient = choose_patient(cfg, PATIENT_KEY, "Patient (the hold is saved to their history)",
                                    "No patient chosen: the hold is shown but not saved.")
    therapy = item = None
    if store is not None and patient is not None:
        from store.plans import current_plan

        therapy = current_plan(store, patient["id"])
    if therapy is not None:
        show_adherence(store, patient, catalog)
        item = choose_plan_item(therapy, catalog)
        ex = None if item is None else catalog.get(item.exercise_id)
    else:
        ex = choose_exercise(catalog)
    if ex is None:
        st.stop()
    show_instructions(ex, item)
    if not safety_gate(ex, therapist_confirmed=item is not None):
        st.stop()
    with st.expander("Timing"):
        calibrate_s = st.slider("Rest calibration (s)", 0.0, 10.0, 3.0, 0.5,
                                help="Stand relaxed and still at the start: measures how much the joints "
                                     "jitter on this camera, so small jitter is not called movement")
        settle_s = st.slider("Still before each hold starts (s)", 0.5, 5.0, 1.0, 0.5)
    try:
        estimator = shared_estimator(model, cfg.vision.pipeline_settings())
        session = hold_session(estimator, cfg, ex, calibrate_s, settle_s, item)
    except IsobalanceError as exc:
        show_error(exc, "The exercise cannot be started")
        st.stop()

    webrtc_view(f"exercise-{ex.id}", session)
    status_box = st.container()
    finish = st.button("Finish and show the summary", help="End the session now; an open hold counts as ended")
    # The summary is made (and saved) before the live status runs: the status fragment asks for a
    # whole-page rerun when the hold finishes, and that rerun must find the summary already there
    # (otherwise every rerun asks for another one - the rerun storm of issue #13).
    if not st.session_state.get(ENDED_KEY) and (session.snapshot().hold_finished or finish):
        st.session_state[ENDED_KEY] = True
        try:
            st.session_state[RESULT_KEY] = session.hold_result()
        except IsobalanceError as exc:
            st.session_state[RESULT_KEY + "_error"] = str(exc)
        else:
            st.session_state[SAVED_KEY] = save_result(store, patient, st.session_state[RESULT_KEY], ex.id,
                                                      therapy, item)
            refresh_after_save(st.session_state[SAVED_KEY])
    with status_box:
        live_hold_status(session)
    if st.session_state.get(RESULT_KEY + "_error"):
        st.error(f"No summary: {st.session_state[RESULT_KEY + '_error']}", icon="⚠️")
    if RESULT_KEY in st.session_state:
        show_result(st.session_state[RESULT_KEY])
        save_pain_after(store, st.session_state.get(SAVED_KEY))
        show_saved(st.session_state.get(SAVED_KEY), "Not saved to any patient's history (no patient was chosen).")


main()
