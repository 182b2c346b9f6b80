"""End to end in a real headless Chromium against the real Streamlit server (fixtures in
tests/dashboard/conftest.py): the therapist uploads ``tfjs_pose_squats.mp4`` (plus a text file named
.mp4) through the page's own file input, the real model processes it, and the page shows the findings,
a playable annotated video and the downloads. Screenshots go to artifacts/screenshots/.

Known facts of the clip (shared/videos/README): 65 frames at 5 fps (13 s), front view, a person in
every frame.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from assessment.findings import status_text

pytestmark = pytest.mark.browser
PROCESS_TIMEOUT_MS = 240_000


def test_upload_processes_the_squat_clip_and_shows_its_findings(dashboard_server, dashboard_data_dir,
                                                                browser_page_factory, screenshot_dir,
                                                                sample_clip, tmp_path):
    clip = Path(sample_clip("tfjs_pose_squats.mp4"))
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is text, not a video\n" * 40)
    page = browser_page_factory(width=1400, height=1100)
    # the way a therapist gets there: the dashboard's address, then "Review videos" in the navigation
    page.goto(dashboard_server)
    page.locator("[data-testid='stSidebarNav']").get_by_text("Review videos").click()
    page.get_by_role("heading", name="Review videos").wait_for()
    assert page.url.endswith("/review")
    page.get_by_text("Upload a video to see its findings.").wait_for()
    page.get_by_text("No patient chosen: reviews are shown but not saved to any history.").wait_for()

    page.locator("input[type='file']").set_input_files([str(fake), str(clip)])
    # the progress bar counts the clip's frames while the model runs
    page.get_by_text(re.compile(r"tfjs_pose_squats\.mp4: frame \d+ of 65")).wait_for(timeout=120_000)
    assert page.locator("[data-testid='stProgress']").count() == 1
    page.screenshot(path=str(screenshot_dir / "review-processing.png"))

    page.get_by_role("heading", name="tfjs_pose_squats.mp4").wait_for(timeout=PROCESS_TIMEOUT_MS)
    page.get_by_role("heading", name="Findings").wait_for()
    # the bad file: one clear message, the page carried on
    page.get_by_text("fake.mp4 is not a readable video").wait_for()
    assert page.locator("text=Traceback").count() == 0
    assert page.locator("[data-testid='stException']").count() == 0

    # the findings the report holds are on the page (table + one expander per finding)
    [folder] = [p for p in (dashboard_data_dir / "uploads").iterdir() if (p / "report.json").is_file()]
    assert re.fullmatch(r"[0-9a-f]{32}", folder.name)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["track"]["n_frames"] == 65
    page.get_by_text("65 frames analysed; a person was found in 100% of them.").wait_for()
    page.screenshot(path=str(screenshot_dir / "review-results-top.png"))
    table = page.locator("[data-testid='stTable']").first
    table.wait_for(state="visible")
    # every column of the findings table is on screen (a table wraps; the old grid cut the last one off)
    headers = [h.strip() for h in table.locator("th").all_inner_texts()]
    assert "Direction / reason" in headers, headers
    last = table.locator("th", has_text="Direction / reason").first.bounding_box()
    assert last and last["x"] + last["width"] <= page.viewport_size["width"], last
    assert "None" not in table.inner_text()                   # no "Frames used: None"
    expanders = page.locator("[data-testid='stExpander'] summary")
    labels = [t.strip() for t in expanders.all_inner_texts()]
    for f in report["findings"]:
        assert any(lab.endswith(f"{f['label']} ({f['kind']}): {status_text(f)}") for lab in labels), (f["label"], labels)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)

    # the annotated H.264 video plays in Chromium: metadata loads and lasts the clip's 13 s
    video = page.locator("video").first
    video.scroll_into_view_if_needed()
    page.wait_for_function("() => { const v = document.querySelector('video'); return v && v.readyState >= 1; }",
                           timeout=60_000)
    duration = page.evaluate("() => document.querySelector('video').duration")
    assert 12.0 <= duration <= 13.5, duration
    page.screenshot(path=str(screenshot_dir / "review-results-top.png"))

    # open the first finding's evidence, then the plots, the plan and the downloads
    page.get_by_role("heading", name="Findings").scroll_into_view_if_needed()
    findings = page.locator("[data-testid='stExpander']").filter(has_not_text="Add a patient")   # not the picker's
    findings.nth(1).locator("summary").click()
    findings.nth(1).locator("img").first.wait_for()
    page.screenshot(path=str(screenshot_dir / "review-findings.png"))
    page.get_by_role("heading", name="Metrics over time").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "review-metrics.png"))
    page.get_by_role("heading", name="Exercise plan").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "review-plan-downloads.png"))
    for label in ("HTML report", "Report (JSON)", "Landmarks (CSV)"):
        assert page.get_by_role("button", name=label).count() == 1, label
    # the squat clip suggests no exercise: no empty plan is offered for download
    assert report["plan"] == [] and page.get_by_role("button", name="Download edited plan (JSON)").count() == 0

    # a download delivers the same report the job wrote. A click that lands while Streamlit reruns the
    # page (its media URLs are renewed on each run) can be lost: click again, at most 3 times in all
    for attempt in range(3):
        try:
            with page.expect_download(timeout=30_000) as info:
                page.get_by_role("button", name="Report (JSON)").click()
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
    downloaded = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert downloaded == report
    # the app scrolls inside its own container, so a tall window shows the whole page at once
    page.set_viewport_size({"width": 1400, "height": 6000})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(screenshot_dir / "review-full.png"))
