"""The safety screen of the guided exercise page: red-flag questions, pain before and after, the
blood-pressure caution, and the therapist-only gate. The decisions are ``assessment.safety``'s; this
module only asks and shows. Answers live in the browser session (``SAFETY_KEY``), so they are asked
once per visit, and a red flag blocks every exercise for the rest of the visit.
"""

from __future__ import annotations

import streamlit as st

SAFETY_KEY = "exercise_safety"        # {"ok": bool, "message": str, "pain_before": int | None}
PAIN_AFTER_KEY = "exercise_pain_after"


def safety_gate(ex, therapist_confirmed: bool) -> bool:
    """Ask the screen once; True when this exercise may start now (otherwise the reason is shown)."""
    from assessment.safety import load_safety, may_start, pain_before, screen

    rules = load_safety()
    state = st.session_state.get(SAFETY_KEY)
    if state is None:
        st.subheader("Before you start: safety questions")
        answers = {}
        for f in rules.red_flags:
            choice = st.radio(f.question, ["No", "Yes"], index=None, horizontal=True, key=f"red_flag_{f.id}")
            answers[f.id] = None if choice is None else choice == "Yes"
        pain = st.number_input("Pain right now, from 0 (none) to 10 (worst imaginable)", min_value=0, max_value=10,
                               value=None, step=1, key="pain_before_input")
        if not st.button("Continue to the exercise", key="safety_continue"):
            return False
        decision = screen(answers, rules)
        if decision.ok and pain is None:
            st.warning("Give your pain right now (0-10) before starting.")
            return False
        if decision.ok:
            decision = pain_before(int(pain), rules)
        elif not decision.reasons:            # a question left unanswered: ask again, nothing decided
            st.warning(decision.message)
            return False
        state = {"ok": decision.ok, "message": decision.message, "pain_before": pain}
        st.session_state[SAFETY_KEY] = state
        st.rerun()
    if not state["ok"]:
        st.error(state["message"])
        return False
    allowed = may_start(ex, therapist_confirmed)
    if not allowed.ok:
        st.error(allowed.message)
        return False
    st.info(rules.bp_caution, icon="❤️")
    return True


def pain_after_check() -> int | None:
    """After the hold: pain now, and the stop rule's answer; the pain after (None until given)."""
    from assessment.safety import pain_after

    state = st.session_state.get(SAFETY_KEY) or {}
    after = st.number_input("Pain now, after the exercise (0-10)", min_value=0, max_value=10, value=None, step=1,
                            key=PAIN_AFTER_KEY)
    if after is None or state.get("pain_before") is None:
        return None
    decision = pain_after(int(state["pain_before"]), int(after))
    (st.success if decision.ok else st.error)(decision.message)
    return int(after)
