"""End to end in a real headless Chromium: the fake webcam plays a real clip, the real Streamlit server
runs the real pose model in the webrtc frame callback, and the page shows what the server measured.

Clips (all from ../shared/videos, converted to 640x480 15-fps y4m in a temp folder):

- live pose: the whole squat clip (Chromium loops it).
- still standing: squat frames 20-26 (the woman stands between squats, README facts; frames 19 and 27 already move), played forward
  then backward (no jump at Chromium's loop) and repeated to 12 s. The clip's shoulder line, pelvis
  line and body axis all tilt about 4 deg the same way (measured: -5.3, -4.0, -3.8 deg over the whole
  clip), right at the camera-roll detector's limits, so the level check flickers on it. The
  guided-capture and hold clips are therefore rotated 4 deg counter-clockwise (a levelled camera, a
  known construction); tests/dashboard/test_live_processors.py shows that the same frames rotated
  the other way are reported as a tilted camera.
- There is no side-view clip: the capture test shows that the front step passes, the prompt moves on
  to "turn to your side", and the side check honestly reports "Not a side view yet (front view)".
"""

from __future__ import annotations

import re
import time

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LEVEL_DEG = 4.0
STANDING = (20, 27)


def wait_for_text(page, pattern: str, timeout_s: float = 60.0) -> str:
    """Poll the page's visible text until ``pattern`` (regex) appears; return the match."""
    deadline = time.monotonic() + timeout_s
    rx = re.compile(pattern)
    text = ""
    while time.monotonic() < deadline:
        text = page.inner_text("body")
        m = rx.search(text)
        if m:
            return m.group(0)
        page.wait_for_timeout(500)
    raise AssertionError(f"{pattern!r} did not appear within {timeout_s} s; the page shows:\n{text[-3000:]}")


def click_until(page, button: str, pattern: str, timeout_s: float = 120.0, tries: int = 2) -> str:
    """Click ``button`` until the page shows ``pattern`` (regex); at most ``tries`` clicks.

    The buttons live in the polling fragment, which draws them again on every poll (the browser test saw
    a button detached from the page during a poll). In one run of 6 at load ~20 the page did not react
    to "Start over" for 240 s; whether that click was lost or the page stopped polling is not known. A
    patient would click again: so does this, once; a page that stopped updating still fails the test
    (it goes on to wait for the next capture)."""
    for attempt in range(1, tries + 1):
        page.get_by_role("button", name=button).click(timeout=240_000)
        try:
            return wait_for_text(page, pattern, timeout_s)
        except AssertionError:
            if attempt == tries:
                raise
            print(f"{button!r}: no reaction within {timeout_s:g} s to click {attempt}; clicking again")
    raise AssertionError("unreachable")


def count_websocket_messages(page) -> list[float]:
    """Arrival times of every message the server sends this page (register before ``goto``)."""
    times: list[float] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda _payload: times.append(time.monotonic())))
    return times


def messages_per_s(page, times: list[float], seconds: float) -> float:
    start = time.monotonic()
    page.wait_for_timeout(seconds * 1000)
    return sum(1 for t in times if t >= start) / (time.monotonic() - start)


LOAD_TIMEOUT_MS = 240_000          # a page and its webrtc component on a shared, loaded 2-core machine


def open_live_page(page, url: str, webrtc_start) -> None:
    page.goto(url, timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector("iframe[title*='webrtc']", timeout=LOAD_TIMEOUT_MS)
    webrtc_start(page, timeout_ms=LOAD_TIMEOUT_MS)


def test_live_page_shows_detected_pose(dashboard_server, browser_page_factory, make_y4m, sample_clip,
                                       webrtc_start, screenshot_dir):
    y4m = make_y4m(sample_clip("tfjs_pose_squats.mp4"))
    page = browser_page_factory(y4m)
    open_live_page(page, f"{dashboard_server}/", webrtc_start)
    found = wait_for_text(page, r"Pose detected — in (\d+) of (\d+) frames", 180)
    seen, total = map(int, re.search(r"in (\d+) of (\d+)", found).groups())
    assert 0 < seen <= total
    # frames keep arriving with a pose (liveness bound: a loaded shared machine can stall for a while)
    wait_for_text(page, r"Pose detected — in (\d+) of (\d+) frames", 10)
    deadline = time.monotonic() + 120
    while True:
        found = wait_for_text(page, r"Pose detected — in (\d+) of (\d+) frames", 10)
        seen2, total2 = map(int, re.search(r"in (\d+) of (\d+)", found).groups())
        if total2 > total and seen2 > seen:
            break
        assert time.monotonic() < deadline, f"no new frame with a pose in 120 s ({seen2} of {total2})"
        page.wait_for_timeout(1000)
    # the returned video (skeleton drawn server-side) is playing in the component
    frame = page.frame_locator("iframe[title*='webrtc']").first
    assert frame.locator("video").count() >= 1
    page.screenshot(path=str(screenshot_dir / "live_pose_detected.png"), full_page=True)
    # Streamlit's developer toolbar is hidden (client.toolbarMode = viewer): no "Deploy" button
    assert page.locator("[data-testid='stAppDeployButton']").count() == 0
    assert page.get_by_role("button", name="Deploy").count() == 0
    # for the record (no timing assertion): the rate the server callback kept up with in this run
    print("live status:", wait_for_text(page, r"[\d.]+ frames per second processed; pose model \d+ ms", 10))


def test_guided_capture_advances_from_front_to_side(dashboard_server, browser_page_factory, make_y4m,
                                                    sample_clip, webrtc_start, screenshot_dir):
    """After the front capture the "Assess the front view now" button appears, and "Start over" goes back
    to the front step without a rerun storm. Issue #13: the buttons used to be drawn by a whole-page run
    right after the polling fragment, and on a loaded machine the browser lost them (the page had no
    buttons for good while the fragment kept drawing); the polling fragment now draws them itself."""
    y4m = make_y4m(sample_clip("tfjs_pose_squats.mp4"), *STANDING, pingpong=True, seconds=12,
                   rotate_deg=LEVEL_DEG)
    page = browser_page_factory(y4m)
    messages = count_websocket_messages(page)
    open_live_page(page, f"{dashboard_server}/", webrtc_start)
    wait_for_text(page, r"Pose detected", 180)
    page.screenshot(path=str(screenshot_dir / "capture_front_step.png"), full_page=True)
    wait_for_text(page, r"Facing the camera: captured", 300)        # liveness: a loaded machine processes < 1 frame/s
    wait_for_text(page, r"Not a side view yet \(front view\)", 30)
    page.screenshot(path=str(screenshot_dir / "capture_side_step_prompt.png"), full_page=True)
    # the side step polls like the front step did: the page's normal message rate, for comparison below
    before = messages_per_s(page, messages, 10)
    assess = page.get_by_role("button", name="Assess the front view now")
    assess.wait_for(timeout=60_000)          # drawn by the polling fragment with the capture
    # the front step again: its prompt, or the wait for the first frame of the new capture (a loaded
    # machine took over a minute to run the page once more: liveness bound, not a speed check)
    click_until(page, "Start over", r"Facing the camera: now|Press START above and allow the camera")
    after = messages_per_s(page, messages, 10)
    # a storm is a whole-page run on every poll (issue #13 saw ~96 messages/s); polling alone is a few
    assert after <= 3 * before + 5, f"rerun storm after Start over: {after:.1f} messages/s vs {before:.1f} before"
    wait_for_text(page, r"Facing the camera: captured", 240)           # and it captures again
    click_until(page, "Assess the front view now", r"Your assessment")
    # the patient's voice: pictures and plain words, no frame counts or metric names
    wait_for_text(page, r"\d+ pictures taken over \d+ s; you were seen in 100% of them", 30)
    wait_for_text(page, r"What we saw", 30)
    wait_for_text(page, r"What to do next", 30)
    wait_for_text(page, r"Picture 1", 30)
    page.wait_for_selector("[data-testid='stImage'] img, [data-testid='stFullScreenFrame'] img", timeout=30_000)
    page.screenshot(path=str(screenshot_dir / "capture_front_assessment.png"), full_page=True)
    page.locator("[data-testid='stImage']").first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "capture_front_evidence.png"))


def held_seconds(page) -> float | None:
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Held still")
    if metric.count() == 0:
        return None
    value = metric.first.locator("[data-testid='stMetricValue']").inner_text()
    return float(value.split()[0])


def answer_safety_screen(page) -> None:
    """The guided exercise page asks the red-flag questions and the pain first: answer no, pain 1."""
    page.get_by_text("Before you start: safety questions").wait_for(timeout=60_000)
    groups = page.locator("[data-testid='stRadio']")
    page.get_by_role("button", name="Continue to the exercise").wait_for(timeout=60_000)
    deadline = time.monotonic() + 60
    while groups.count() < 6 and time.monotonic() < deadline:     # the six questions render in turn
        page.wait_for_timeout(300)
    assert groups.count() == 6
    for i in range(6):
        groups.nth(i).get_by_role("radio", name="No").check(force=True)
        page.wait_for_timeout(500)
    pain = page.get_by_label("Pain right now, from 0 (none) to 10 (worst imaginable)")
    pain.fill("1")
    pain.press("Enter")
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Continue to the exercise").click()
    wait_for_text(page, "never hold your breath", 60)        # the blood-pressure caution: the screen passed


def test_hold_timer_runs_on_a_still_clip(dashboard_server, browser_page_factory, make_y4m, sample_clip,
                                         webrtc_start, screenshot_dir):
    y4m = make_y4m(sample_clip("tfjs_pose_squats.mp4"), *STANDING, pingpong=True, seconds=12,
                   rotate_deg=LEVEL_DEG)
    page = browser_page_factory(y4m)
    # upper trapezius PIR watches the head and both shoulders from the front: 10 s holds, 3 repetitions
    # (not a therapist-only technique, so it starts once the safety screen is answered)
    page.goto(f"{dashboard_server}/exercise?exercise=upper-trapezius-pir")
    answer_safety_screen(page)                # a reload would ask again: go on in the same browser session
    page.wait_for_selector("iframe[title*='webrtc']", timeout=180_000)
    webrtc_start(page)
    wait_for_text(page, r"Calibrating|Getting ready|Hold", 180)
    deadline = time.monotonic() + 180                 # generous: a loaded machine processes < 1 frame/s
    first = None
    while time.monotonic() < deadline:
        held = held_seconds(page)
        if held is not None and held > 0.5:
            first = held
            break
        page.wait_for_timeout(400)
    assert first is not None, "the hold timer never started:\n" + page.inner_text("body")[-2000:]
    page.screenshot(path=str(screenshot_dir / "hold_timer_running.png"), full_page=True)
    # either still counting within the same hold (and shown as still), or that hold completed and the next
    # phase began (polled: a loaded shared machine may process well under one frame per second; the clip's
    # natural sway can show a short break at one poll and "Still" again at the next)
    deadline = time.monotonic() + 90
    while True:
        page.wait_for_timeout(1000)
        later = held_seconds(page)
        text = page.inner_text("body")
        if (later is not None and later > first and "Still" in text) or re.search(r"Relax|Stretch|Done", text):
            break
        assert time.monotonic() < deadline, "the hold timer stopped counting:\n" + text[-2000:]
    page.screenshot(path=str(screenshot_dir / "hold_timer_later.png"), full_page=True)
