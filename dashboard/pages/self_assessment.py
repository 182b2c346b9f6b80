"""Patient page: self-assessment by webcam.

Live video with the skeleton drawn, then a guided capture - "stand facing the camera", then "turn to
your side" - each step checked live (whole body in frame, camera level, right view, still for a few
seconds) by ``dashboard.live.GuidedCapture``; then each captured view is assessed by the CLI's own
``assessment.assess.assess``: what was found in everyday words, the evidence frames, and the
suggested exercises (also offered on the "Guided exercise" page). With a patient chosen in the sidebar
(the shared picker, ``dashboard.patients``), each assessed view is saved to their history
(``store.save_assessment``, with the captured clip and its landmark track).
"""

from __future__ import annotations

import base64
import math
import tempfile
from pathlib import Path

import streamlit as st

from dashboard.common import ensure_app_navigation, data_folder, load_settings, show_error
from dashboard.live import (CHECK_LABELS, STEP_PROMPTS, STEPS, GuidedCapture, LiveSession, assess_captured,
                            shared_estimator, webrtc_view)
from dashboard.patients import choose_patient, refresh_after_save, save_to_history, show_saved
from vision.errors import IsobalanceError

SESSION_KEY = "self_assessment_session"
REPORTS_KEY = "self_assessment_reports"
SAVED_KEY = "self_assessment_saved"        # step -> outcome of saving that view's report
PATIENT_KEY = "self_assessment_patient"
EXERCISE_CHOICE_KEY = "exercise_choice"     # the exercise the Guided exercise page opens with
POLL_S = 0.5
VIEW_TITLES = {"front": "Facing the camera", "side": "From the side"}


def capture_session(estimator, cfg) -> LiveSession:
    session = st.session_state.get(SESSION_KEY)
    if session is None:
        session = LiveSession(estimator, cfg.vision.pipeline_settings(), GuidedCapture())
        st.session_state[SESSION_KEY] = session
    return session


def check_icon(ok: bool | None) -> str:
    return {True: ":green[:material/check_circle:]", False: ":red[:material/cancel:]",
            None: ":gray[:material/remove_circle:]"}[ok]


def show_live_status(session: LiveSession) -> None:
    """The live state as the webrtc callback last published it (that thread never calls st.*)."""
    snap = session.snapshot()
    if snap.frames == 0:
        st.info("Press **START** above and allow the camera. Then: " + STEP_PROMPTS["front"].lower() + ".")
        return
    pose = "detected" if snap.frames_with_pose else "not detected yet"
    st.markdown(f"**Pose {pose}** — in {snap.frames_with_pose} of {snap.frames} frames "
                f"({snap.size[0]}×{snap.size[1]})", help="frames the pose model has seen in this session")
    if snap.error:
        st.error(snap.error)
    cols = st.columns(len(STEPS))
    for col, step in zip(cols, STEPS):
        if step in snap.captured:
            col.success(f"{VIEW_TITLES[step]}: captured")
        elif step == snap.step:
            col.warning(f"{VIEW_TITLES[step]}: now")
        else:
            col.caption(f"{VIEW_TITLES[step]}: next")
    if snap.step is not None:
        st.subheader(snap.prompt)
        st.progress(min(1.0, snap.held_s / session.task.settings.still_s),
                    text=f"still and ready for {snap.held_s:.1f} of {session.task.settings.still_s:g} s")
        for c in snap.checks:
            st.markdown(f"{check_icon(c.ok)} **{CHECK_LABELS[c.name]}** — {c.message}")
    camera = (f"; the camera sends {snap.camera_fps:.0f} frames per second, {snap.skipped} skipped so far"
              if math.isfinite(snap.camera_fps) else "")
    st.caption(f"{snap.fps:.1f} frames per second processed; pose model {snap.inference_ms:.0f} ms per frame, "
               f"checks and drawing {snap.overlay_ms:.1f} ms; overlay ready {snap.lag_p95_ms:.0f} ms after the "
               f"frame arrived (95th percentile){camera}")


def start_over(session: LiveSession) -> None:
    """"Start over" (a button callback: it runs before the page is drawn again, so the page never shows
    the forgotten views)."""
    session.reset(GuidedCapture())
    for key in (REPORTS_KEY, SAVED_KEY, "plan"):     # "plan": the exercise page no longer offers it
        st.session_state.pop(key, None)


@st.fragment(run_every=POLL_S)
def guided_capture(session: LiveSession, cfg, model, store, patient) -> None:
    """Everything that follows the live capture, polled: the status, the buttons for what has been
    captured, and the assessment.

    Why all of it is inside this fragment (issue #13): the buttons used to be drawn by the whole page
    right after this fragment, which asked for a whole-page run (``st.rerun(scope="app")``) after each
    capture. On a loaded machine the browser lost the element that follows the polling fragment: the
    server's last whole-page run drew "Start over" and finished, the fragment kept drawing, and the
    page had no buttons for good (measured: README "Dashboard"). Drawn here, every poll draws them
    again from the live captures; nothing waits for a whole-page run and the fragment never asks for
    one (only a save to a patient's history does, once, to refresh the sidebar's session count).
    """
    # The buttons come first: the status below changes height from poll to poll (wrapped lines), and a
    # button that moves under the pointer at every poll is hard to click (the browser test's click
    # waited 90 s for it to hold still on a loaded machine).
    captured = session.captured()                     # read once: the buttons below are drawn for these
    cols = st.columns(3)
    cols[0].button("Start over", help="Forget the captured views and begin again", on_click=start_over,
                   args=(session,), key="start_over")
    if "front" in captured and "side" not in captured:
        if cols[1].button("Assess the front view now", help="Side-view measurements will say 'not measurable'",
                          key="assess_front"):
            assess_views(session, cfg, model, ("front",), store, patient)
    if len(captured) == len(STEPS):
        assess_views(session, cfg, model, STEPS, store, patient)
    show_live_status(session)
    reports = st.session_state.get(REPORTS_KEY, {})
    if reports:
        st.header("Your assessment")
        for step in STEPS:
            if step in reports:
                show_report(step, *reports[step])
        publish_plan()
        plan = st.session_state.get("plan")
        if plan:
            first = plan[0].exercise
            # a page switch in the same tab: a link opened a new tab, a new session without this assessment
            if st.button(f"Practise a suggested exercise: {first.name}", type="primary", key="practise_plan"):
                st.session_state[EXERCISE_CHOICE_KEY] = first.id
                st.switch_page(str(Path(__file__).resolve().parent / "exercise.py"))


def save_view(store, patient, report) -> dict | None:
    """Save one assessed view with its clip and landmark track (None = no patient, nothing saved)."""
    if store is None or patient is None:
        return None
    from store import save_assessment

    def save() -> str:
        with tempfile.TemporaryDirectory() as tmp:       # the store keeps its own copy
            files = {"track": report.track.save(Path(tmp) / "track.csv")} if report.track is not None else {}
            if report.video_path is not None and Path(report.video_path).is_file():
                files["video"] = report.video_path
            return save_assessment(store, patient["id"], report.to_dict(), files)

    return save_to_history(patient, save)


def assess_views(session: LiveSession, cfg, model, steps: tuple[str, ...], store=None, patient=None) -> None:
    captured = session.captured()
    folder = data_folder(cfg) / "captures"
    reports = st.session_state.setdefault(REPORTS_KEY, {})
    saved = st.session_state.setdefault(SAVED_KEY, {})
    new = []
    for step in steps:
        if step in reports or step not in captured:
            continue
        with st.spinner(f"Assessing the {step} view…"):
            try:
                reports[step] = assess_captured(captured[step], folder, str(model),
                                                cfg.vision.pipeline_settings().smoothing_params)
            except IsobalanceError as exc:
                show_error(exc, f"The {step} view could not be assessed")
                continue
        saved[step] = save_view(store, patient, reports[step][0])
        new.append(saved[step])
    refresh_after_save(*new)          # only saves made in this run (a rerun finds them done)


def show_report(step: str, report, evidence: dict[int, str]) -> None:
    """The patient's view of one assessed view: what was seen and what to do next, in plain words.
    Numbers with their sources and uncertainty are for the therapist (Review and History pages)."""
    from dashboard.patient_voice import exercise_line, not_checked_sentence, seen_sentences

    st.subheader(VIEW_TITLES[step])
    show_saved(st.session_state.get(SAVED_KEY, {}).get(step),
               "Not saved to any patient's history (no patient was chosen).")
    track = report.track
    if track is not None and len(track):
        found = float(track.detected.mean())
        span = (float(track.timestamp_ms[-1]) - float(track.timestamp_ms[0])) / 1000.0
        st.caption(f"{len(track)} pictures taken over {span:.0f} s; you were seen in {found:.0%} of them.")
    seen = seen_sentences(report, still_capture=True)
    st.markdown("**What we saw**")
    if seen:
        st.markdown("\n".join(f"- {line}" for line in seen))
        st.caption("These are observations to discuss with a therapist, not a diagnosis: posture also "
                   "changes with the day, the camera and how you stood.")
    else:
        st.markdown("- Nothing stood out: your sides looked alike within what the camera can measure.")
    missing = not_checked_sentence(report)
    if missing:
        st.caption(missing)
    if evidence:
        cols = st.columns(min(4, len(evidence)))
        for n, (col, (frame, jpeg)) in enumerate(zip(cols * 4, evidence.items()), 1):
            col.image(base64.b64decode(jpeg), caption=f"Picture {n}")
    for h in report.hypotheses:
        if h.kind == "referral":          # what was seen needs a professional's look before any exercise
            st.warning(h.statement)
    st.markdown("**What to do next**")
    if report.plan:
        st.markdown("Show this to your therapist. If they agree, these gentle exercises can help "
                    "(start only after a therapist has confirmed):")
        st.markdown("\n".join(f"- {exercise_line(p)}" for p in report.plan))
    elif seen:
        st.markdown("Show this to your therapist; they can check by hand what the camera suggests.")
    else:
        st.markdown("Nothing to practise for now. You can repeat the check another day to compare.")


def publish_plan() -> None:
    """Exercises suggested by any assessed view, for the Guided exercise page."""
    reports = st.session_state.get(REPORTS_KEY, {})
    plan = []
    for report, _ in reports.values():
        for p in report.plan:
            if p.exercise.id not in [q.exercise.id for q in plan]:
                plan.append(p)
    st.session_state["plan"] = plan


def main() -> None:
    ensure_app_navigation()
    st.title("Self-assessment")
    st.write("Stand 2-4 m from the camera, in good light, in close-fitting clothes. First face the camera, "
             "then turn to your side. Each step is captured once you have stood still for a few seconds.")
    settings = load_settings()
    if settings is None:
        st.stop()
    cfg, model = settings
    try:
        estimator = shared_estimator(model, cfg.vision.pipeline_settings())
    except IsobalanceError as exc:
        show_error(exc, "The pose model cannot be loaded")
        st.stop()
    session = capture_session(estimator, cfg)
    with st.sidebar:
        store, patient = choose_patient(cfg, PATIENT_KEY, "Patient (assessments are saved to their history)",
                                    "No patient chosen: the assessment is shown but not saved.")

    webrtc_view("self-assessment", session)
    # the polling fragment is the last thing on the page (the sidebar carries the "does not diagnose"
    # note): in the browser runs the element right after it was the one that went missing (issue #13)
    guided_capture(session, cfg, model, store, patient)


main()
