"""Issue #13's therapist journey in a real headless Chromium against the real Streamlit server (fixtures in
tests/dashboard/conftest.py): add a patient on the review page, upload ``tfjs_pose_squats.mp4`` through
the page's own file input (the real model processes it), read the findings, edit the plan with its
widgets (a catalog exercise added, its side resolved and its dose changed, the suggestions dropped),
save it for the patient, then open the guided exercise page in the same tab: it offers exactly that
plan item with that side and dose. A screenshot of every step goes to artifacts/screenshots/
(therapist-journey-*.png).

Liveness: the machine is shared and loaded, so every wait polls the page (Streamlit's "running"
indicator, then the element wanted) with generous bounds; nothing sleeps a fixed time.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

pytestmark = pytest.mark.browser
PROCESS_TIMEOUT_MS = 300_000
EXERCISE_NAME = "Levator scapulae post-isometric relaxation"


def idle(page, timeout_s: float = 120.0) -> None:
    """Wait until Streamlit has finished the current run (its status widget says nothing is running)."""
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while time.monotonic() < deadline:
        running = page.locator("[data-testid='stStatusWidget']").filter(has_text=re.compile("Running|Stop")).count()
        quiet = quiet + 1 if not running else 0
        if quiet >= 3:                               # three polls in a row without a run
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"the page was still running after {timeout_s} s")


def poll(check, timeout_s: float, step_s: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step_s)
    return False


def shown_value(widget) -> str:
    """What a selectbox shows: its text and the value of its search field (where Streamlit puts the choice)."""
    return widget.evaluate("el => el.textContent + ' ' + Array.from(el.querySelectorAll('input'))"
                           ".map(i => i.value + ' ' + (i.getAttribute('aria-label') || '')).join(' ')")


def key(page, name: str):
    """The element container of the widget with Streamlit key ``name`` (Streamlit marks it st-key-<key>)."""
    return page.locator(f".st-key-{name}")


def open_options(page, widget, tries: int = 4):
    """Open a selectbox's list and return its options once they show. A rerun that lands during the
    click closes the list (CI once waited 90 s for an option of a list that had closed), so the list is
    opened again, a bounded number of times; a list that never shows fails."""
    options = page.get_by_role("option")
    for _ in range(tries):
        idle(page)
        widget.locator("input").click()
        try:
            options.first.wait_for(timeout=15_000)
            return options
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
    raise AssertionError(f"the selectbox's options never showed in {tries} tries")


def choose(page, widget_key: str, option: str, tries: int = 3) -> None:
    """Pick ``option`` in a selectbox and check that the widget shows it (a rerun may undo a click)."""
    widget = key(page, widget_key)
    for _ in range(tries):
        open_options(page, widget)
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=15_000)
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
            continue
        idle(page)
        if poll(lambda: option in shown_value(widget), 10):
            return
    raise AssertionError(f"{option!r} was never chosen in {widget_key}: it shows {shown_value(widget)!r}")


def set_number(page, widget_key: str, value: float) -> None:
    field = key(page, widget_key).locator("input")
    field.fill(str(value))
    field.press("Enter")
    idle(page)


def test_therapist_uploads_reviews_edits_and_saves_the_plan_the_patient_then_gets(
        dashboard_server, dashboard_data_dir, browser_page_factory, screenshot_dir, sample_clip):
    shots = iter(range(1, 100))

    def shot(step: str) -> None:
        page.screenshot(path=str(screenshot_dir / f"therapist-journey-{next(shots):02d}-{step}.png"), full_page=True)

    clip = Path(sample_clip("tfjs_pose_squats.mp4"))
    uploads = dashboard_data_dir / "uploads"
    before = set(uploads.iterdir()) if uploads.is_dir() else set()
    page = browser_page_factory(width=1400, height=1400)
    page.goto(dashboard_server)
    page.locator("[data-testid='stSidebarNav']").get_by_text("Review videos").click()
    page.get_by_role("heading", name="Review videos").wait_for()
    idle(page)
    shot("review-page")

    # a new patient, added where the therapist works
    field = key(page, "review_patient_new_name").locator("input")
    if not field.is_visible():                   # open when the store has no patient yet
        page.get_by_text("Add a patient").click()
    name = f"Journey {time.time_ns() % 10**8}"
    field.fill(name)
    field.press("Enter")
    idle(page)
    key(page, "review_patient_add").locator("button").click()
    idle(page)
    picker = key(page, "review_patient")
    chosen = poll(lambda: picker.count() and name in shown_value(picker.first), 120)
    shot("patient-added")
    assert chosen, (shown_value(picker.first), page.locator("[data-testid='stMain']").inner_text()[:2000])

    # upload -> processing -> findings
    page.locator("input[type='file']").set_input_files([str(clip)])
    page.get_by_role("heading", name="tfjs_pose_squats.mp4").wait_for(timeout=PROCESS_TIMEOUT_MS)
    page.get_by_role("heading", name="Findings").wait_for()
    idle(page, 300)
    assert page.locator("[data-testid='stException']").count() == 0
    page.get_by_text(re.compile(r"Saved to .*'s history")).first.wait_for()
    [folder] = [p for p in set(uploads.iterdir()) - before if (p / "report.json").is_file()]
    plan_key = f"plan_{folder.name}"
    page.get_by_role("heading", name="Findings").scroll_into_view_if_needed()
    shot("findings")

    # edit the plan: every suggestion dropped, a catalog exercise added, its side resolved, its dose changed
    page.get_by_role("heading", name="Exercise plan").scroll_into_view_if_needed()
    rows = 0
    while key(page, f"{plan_key}_{rows}_exercise").count():
        rows += 1
    for k in range(rows):
        key(page, f"{plan_key}_{k}_include").locator("label").click()
        idle(page)
    shot("plan-suggestions-dropped")
    choose(page, f"{plan_key}_add", EXERCISE_NAME)
    key(page, f"{plan_key}_add_button").locator("button").click()
    idle(page)
    key(page, f"{plan_key}_{rows}_side").wait_for()
    page.get_by_text(re.compile(r"choose a side")).first.wait_for()          # not saveable until resolved
    key(page, f"{plan_key}_{rows}_side").get_by_text("right", exact=True).click()
    idle(page)
    set_number(page, f"{plan_key}_{rows}_hold", 7)
    set_number(page, f"{plan_key}_{rows}_reps", 4)
    key(page, f"{plan_key}_{rows}_side").scroll_into_view_if_needed()
    shot("plan-edited")

    save = key(page, f"save_plan_{folder.name}").locator("button")
    save.wait_for()
    save.click()
    idle(page)
    page.get_by_text(re.compile(r"Plan saved for " + re.escape(name))).wait_for()
    shot("plan-saved")

    # the patient's guided exercise page (same tab, the chosen patient carries across) offers exactly it
    page.locator("[data-testid='stSidebarNav']").get_by_text("Guided exercise").click()
    page.get_by_role("heading", name="Guided exercise").wait_for()
    idle(page)
    page.get_by_text("Your therapist's plan:").wait_for()
    options = [o.strip() for o in open_options(page, key(page, "plan_item")).all_inner_texts()]
    assert options == [f"{EXERCISE_NAME} - right side"], options
    page.keyboard.press("Escape")
    choose(page, "plan_item", f"{EXERCISE_NAME} - right side")
    shot("exercise-plan-offered")
    from assessment.safety import load_safety

    for f in load_safety().red_flags:
        key(page, f"red_flag_{f.id}").get_by_text("No", exact=True).click()
        idle(page)
    set_number(page, "pain_before_input", 1)
    key(page, "safety_continue").locator("button").click()
    idle(page)
    page.get_by_text(re.compile(r"for the levator scapulae, on the right side")).wait_for()
    page.get_by_text(re.compile(r"for 7 s, relax .* 4 repetitions")).wait_for()
    page.get_by_text(re.compile(r"never hold your breath")).wait_for()      # the safety screen passed
    page.get_by_role("button", name="Finish and show the summary").wait_for()     # the hold can start
    assert page.locator("[data-testid='stException']").count() == 0
    shot("exercise-instructions")
