"""The therapist review page under Streamlit's own app testing (``streamlit.testing.v1.AppTest``).

AppTest drives the page's real ``st.file_uploader`` (streamlit >= 1.5x stages files through it), so
uploads go through the same code as in a browser: checks, the data folder, the real pose model on
real clips, the CLI's assessment. Inputs with known properties:

- ``tfjs_pose_squats.mp4``: 65 frames, front view, a person in every frame (shared/videos/README).
- a text file named ``.mp4``, a ``.txt`` file, a file over a 1 MB limit set in the config file.
- the squat clip re-muxed with ``+faststart`` and cut to half its bytes: decoding stops part-way.
- the squat clip's first 10 frames cropped to their leftmost 200 px: the subject is not in them.
- ``pose2sim_static_cam02.mp4`` landmarks with the right shoulder raised by 8 deg (the construction of
  tests/assessment/test_assess.py), which must give a shoulder hypothesis and a non-empty plan.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from assessment.findings import status_text
from assessment.therapy_plan import plan_from_dict
from dashboard.plan_table import edited_plan, plan_rows
from dashboard.uploads import MB, load_upload, save_upload, uploads_dir
from isobalance.config import load_config

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "review.py")
RUN_TIMEOUT_S = 300


@pytest.fixture
def setup(tmp_path, monkeypatch, model_path):
    """A config file (data folder in tmp_path, upload limit) read by the page through ISOBALANCE_CONFIG."""

    def make(max_upload_mb: int = 50, extra: str = "") -> Path:
        cfg = tmp_path / f"isobalance-{max_upload_mb}.toml"
        cfg.write_text(f'[dashboard]\ndata_dir = "{tmp_path / "data"}"\nmax_upload_mb = {max_upload_mb}\n{extra}',
                       encoding="utf-8")
        monkeypatch.setenv("ISOBALANCE_CONFIG", str(cfg))
        monkeypatch.setenv("ISOBALANCE_MODEL", str(model_path))
        monkeypatch.delenv("ISOBALANCE_DATA", raising=False)
        return tmp_path / "data"

    return make


def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT_S)
    at.run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    at.file_uploader(key="review_uploader").set_value([(n, b, "application/octet-stream") for n, b in files])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def saved_folders(data: Path) -> list[Path]:
    root = data / "uploads"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def texts(elements) -> list[str]:
    return [e.value for e in elements]


@pytest.fixture(scope="module")
def squats(sample_clip) -> bytes:
    return Path(sample_clip("tfjs_pose_squats.mp4")).read_bytes()


# ---------------------------------------------------------------------------------------- upload paths
def test_empty_page_invites_an_upload(setup):
    setup()
    at = page()
    assert at.title[0].value == "Review videos"
    assert "Upload a video" in at.info[0].value
    assert at.file_uploader(key="review_uploader").accept_multiple_files


def test_good_clip_among_bad_files_is_processed_and_shown(setup, squats):
    """Bad files get one clear message each; the good file in the same upload is still processed."""
    data = setup()
    at = upload(page(), ("notes.txt", b"hello"), ("fake.mp4", b"this is text, not a video\n" * 50),
                ("../../escape/tfjs_pose_squats.mp4", squats))
    errors = texts(at.error)
    assert len(errors) == 2
    assert errors[0].startswith("notes.txt: '.txt' files are not accepted; upload a video")
    assert errors[1].startswith("fake.mp4 is not a readable video")
    assert not any("Traceback" in e for e in errors)
    # stored once, under a generated name, inside the data folder; rejected files left nothing behind
    [folder] = saved_folders(data)
    assert re.fullmatch(r"[0-9a-f]{32}", folder.name)
    assert (folder / "video.mp4").read_bytes() == squats
    assert not (data.parent / "escape").exists() and not list(data.rglob("*tfjs_pose_squats*"))
    # the review: the clip's documented 65 frames with a person in all, and the report's own findings
    assert at.header[0].value == "tfjs_pose_squats.mp4"
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["track"]["n_frames"] == 65 and report["views"]["dominant"] == "front"
    assert any(m.value.startswith("- 65 frames analysed; a person was found in 100% of them.") for m in at.markdown)
    table = at.table[0].value
    assert list(table.index) == [f["label"] for f in report["findings"]]
    assert list(table["Status"]) == [status_text(f) for f in report["findings"]]
    assert "reported (no cut-off)" in list(table["Status"])     # the squat clip has report-only metrics
    assert set(table.columns) >= {"Value", "Threshold", "95% CI", "Evidence frames"}
    # therapist words: the report says "FPPA" and "5.2 deg"; the page spells the abbreviation out (issue #13)
    assert any("FPPA" in (f.get("reason") or "") for f in report["findings"])
    shown = " ".join(table["Direction / reason"]) + " " + " ".join(m.value for m in at.markdown)
    assert "frontal-plane projection angle (FPPA)" in shown and not re.search(r"\d deg\b", shown)
    from dashboard.words import ABBREVIATIONS

    for short in set(re.findall(r"\b(?:" + "|".join(ABBREVIATIONS) + r")\b", shown)):
        assert f"{ABBREVIATIONS[short]} ({short})" in shown, f"{short} is never spelled out"
    # every finding has an expander with its threshold source; measured ones show their evidence frames
    assert len(at.expander) >= len(report["findings"])
    measured = [f for f in report["findings"] if f["frames"]]
    captions = [c for img in at.get("image") for c in img.captions]
    assert {f"evidence frame {i}" for f in measured for i in f["frames"][:3]} <= set(captions)
    # annotated playback, interactive plots, downloads
    assert len(at.get("video")) == 1 and (folder / "annotated.mp4").stat().st_size > 10_000
    assert len(at.get("plotly_chart")) >= 1
    labels = [b.label for b in at.get("download_button")]
    assert {"HTML report", "Report (JSON)", "Landmarks (CSV)"} <= set(labels)
    # the squat clip suggests no exercise, so there is no plan to download (the plan test covers the download)
    assert report["plan"] == [] and "Download edited plan (JSON)" not in labels
    # a rerun (any widget change) does not process the file again
    at.run()
    assert len(saved_folders(data)) == 1 and len(at.error) == 2


def test_file_over_the_configured_limit_is_refused(setup):
    data = setup(max_upload_mb=1)
    at = upload(page(), ("big.mp4", b"\0" * (MB + MB // 2)))
    [error] = texts(at.error)
    assert error.startswith("big.mp4 is 1.5 MB, over the 1 MB upload limit (setting dashboard.max_upload_mb)")
    assert saved_folders(data) == []
    assert "Upload a video" in at.info[0].value       # the page still works


def test_truncated_clip_shows_partial_results_and_a_warning(setup, sample_clip, tmp_path):
    setup()
    fs = tmp_path / "fs.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(sample_clip("tfjs_pose_squats.mp4")),
                    "-c", "copy", "-movflags", "+faststart", str(fs)], check=True)
    at = upload(page(), ("cut.mp4", fs.read_bytes()[: fs.stat().st_size // 2]))
    assert not at.error
    [warning] = [w for w in texts(at.warning) if "broke part-way" in w]
    n = int(re.search(r"only the first (\d+) frames were assessed", warning).group(1))
    assert 10 < n < 65
    assert "cut.mp4" in warning and "video.mp4" not in warning    # the user's name, not the stored one
    assert any(m.value.startswith(f"- {n} frames analysed") for m in at.markdown)
    assert len(at.table[0].value) > 0 and at.get("video")


def test_clip_with_nobody_says_so_and_keeps_the_annotated_video(setup, sample_clip, tmp_path):
    from tests.vision.clips import decode_all, write_lossless

    data = setup()
    frames, _ = decode_all(sample_clip("tfjs_pose_squats.mp4"))
    empty = write_lossless(tmp_path / "empty.mp4", [np.ascontiguousarray(f.rgb[:, :200]) for f in frames[:10]],
                           [f.timestamp_ms for f in frames[:10]])
    at = upload(page(), ("empty room.mp4", empty.read_bytes()))
    [error] = texts(at.error)
    assert "no person was detected in any frame" in error
    assert not at.table and len(at.get("video")) == 1
    assert {b.label for b in at.get("download_button")} == {"Landmarks (CSV)", "Annotated video (MP4)"}
    [folder] = saved_folders(data)
    assert not (folder / "report.json").exists()


def test_unexpected_failure_is_one_message_and_the_page_keeps_working(setup, sample_clip, monkeypatch):
    """Error injection: the processing step raises a non-isobalance error (a bug); the user sees one
    sentence for each file and no traceback, and the page still renders."""
    import dashboard.review_job

    def broken(*args, **kwargs):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(dashboard.review_job, "review_upload", broken)
    setup()
    clip = Path(sample_clip("pose2sim_static_cam02.mp4")).read_bytes()
    at = upload(page(), ("a.mp4", clip), ("b.mp4", clip))
    assert texts(at.error) == [f"{n} could not be processed because of an unexpected problem (RuntimeError); "
                               "the details are in the dashboard's log." for n in ("a.mp4", "b.mp4")]
    assert "Upload a video" in at.info[0].value


def test_missing_model_is_a_clear_error(setup, monkeypatch, sample_clip):
    setup()
    monkeypatch.setenv("ISOBALANCE_MODEL", "/nonexistent/pose.task")
    at = upload(page(), ("a.mp4", Path(sample_clip("pose2sim_static_cam02.mp4")).read_bytes()))
    [error] = texts(at.error)
    assert error.startswith("No pose model, so the videos cannot be processed:") and "/nonexistent/pose.task" in error


def test_bad_config_file_is_a_clear_error(setup, monkeypatch, tmp_path):
    setup()
    bad = tmp_path / "bad.toml"
    bad.write_text("[dashboard]\nmax_upload_mb = 'lots\n", encoding="utf-8")
    monkeypatch.setenv("ISOBALANCE_CONFIG", str(bad))
    at = page()
    [error] = texts(at.error)
    assert error.startswith("The configuration cannot be used: config file") and "not valid TOML" in error
    assert not at.file_uploader


# ---------------------------------------------------------------------------------------- stored reviews
def test_session_values_cannot_point_outside_the_uploads_folder(setup, tmp_path):
    """Upload ids are the only way from the session to files; a tampered id or a tampered review
    record naming another file is refused with a message, and nothing outside is read."""
    data = setup()
    secret = tmp_path / "secret.json"
    secret.write_text('{"summary": ["should never be shown"]}', encoding="utf-8")
    cfg = load_config()
    folder = uploads_dir(cfg) / ("a" * 32)
    folder.mkdir(parents=True)
    (folder / "upload.json").write_text(json.dumps({"original_name": "x.mp4", "size_bytes": 1, "video": "video.mp4"}))
    (folder / "review.json").write_text(json.dumps({"status": "complete", "message": "",
                                                     "files": {"report_json": "../../../secret.json"}}))
    at = AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT_S)
    at.session_state["review_results"] = [{"name": "x", "upload_id": "../../" + str(tmp_path), "error": None}]
    at.run()
    assert not at.exception and "is not an upload id" in at.error[0].value
    at.session_state["review_results"] = [{"name": "x.mp4", "upload_id": "a" * 32, "error": None}]
    at.run()
    assert not at.exception
    assert texts(at.error) == ["the review of x.mp4 is incomplete or damaged; upload the video again."]
    assert not any("should never be shown" in m.value for m in at.markdown)
    assert data == uploads_dir(cfg).parent


@pytest.fixture(scope="module")
def raised_shoulder_track(sample_clip, model_path):
    from tests.assessment.test_assess import RAISE_DEG, raise_right_shoulder
    from vision.pipeline import extract_track

    return raise_right_shoulder(extract_track(sample_clip("pose2sim_static_cam02.mp4"), model_path), RAISE_DEG)


@pytest.fixture
def review_with_plan(setup, sample_clip, raised_shoulder_track):
    """A stored review made by ``review_job.assess_track`` from the raised-shoulder landmarks, with the
    real pose2sim video saved as the upload (so key frames and downloads are real files)."""
    from dashboard.review_job import assess_track

    setup()
    cfg = load_config()
    clip = Path(sample_clip("pose2sim_static_cam02.mp4"))
    with open(clip, "rb") as fh:
        saved = save_upload("raised shoulder.mp4", fh, clip.stat().st_size, cfg)
    result = assess_track(saved, raised_shoulder_track)
    assert result.status == "complete" and result.report.plan
    return saved, json.loads((saved.folder / "report.json").read_text(encoding="utf-8"))


def test_hypotheses_show_their_confirmation_tests(review_with_plan):
    saved, report = review_with_plan
    at = AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT_S)
    at.session_state["review_results"] = [{"name": saved.original_name, "upload_id": saved.id, "error": None}]
    at.run()
    assert not at.exception and not at.error
    [h] = [h for h in report["hypotheses"] if h["metric"] == "shoulder_line_tilt"]
    shown = "\n".join(m.value for m in at.markdown)
    assert h["pattern"] in shown and "right upper trapezius" in shown
    for test in h["confirmation_tests"]:
        assert f"**{test['name']}**" in shown
    assert "flagged" in set(at.table[0].value["Status"])
    # the flagged metric is plotted by default
    assert any("Shoulder line tilt" in (c.proto.spec or "") for c in at.get("plotly_chart"))


def test_plan_editing_flows_into_the_downloaded_plan(review_with_plan):
    from assessment.exercises import load_catalog

    saved, report = review_with_plan
    catalog = load_catalog()
    at = AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT_S)
    at.session_state["review_results"] = [{"name": saved.original_name, "upload_id": saved.id, "error": None}]
    at.run()
    key = f"plan_{saved.id}"
    # one row of standard widgets per suggested exercise, in the plan's order, with its side
    assert [at.selectbox(key=f"{key}_{k}_exercise").value for k in range(len(report["plan"]))] == \
        [p["exercise"]["id"] for p in report["plan"]]
    assert [at.radio(key=f"{key}_{k}_side").value for k in range(len(report["plan"]))] == \
        [p["side"] for p in report["plan"]]
    assert all(at.checkbox(key=f"{key}_{k}_include").value for k in range(len(report["plan"])))
    first = json.loads(at.json[0].value)
    assert [e["id"] for e in first["exercises"]] == [p["exercise"]["id"] for p in report["plan"]]

    # the therapist drops the second row, sets 7 reps and a 6 s hold on the first, adds a catalog exercise
    at.checkbox(key=f"{key}_1_include").uncheck()
    at.number_input(key=f"{key}_0_reps").set_value(7)
    at.number_input(key=f"{key}_0_hold").set_value(6.0)
    at.run()
    at.selectbox(key=f"{key}_add").set_value("suboccipitals-pir")
    at.run()
    at.button(key=f"{key}_add_button").click()
    at.run()
    assert not at.exception
    assert at.selectbox(key=f"{key}_add").value is None                  # emptied for the next one
    added = len(report["plan"])
    assert at.radio(key=f"{key}_{added}_side").options == ["both"]        # done on both sides: nothing to resolve
    plan = json.loads(at.json[0].value)
    ids = [e["id"] for e in plan["exercises"]]
    expected = [p["exercise"]["id"] for i, p in enumerate(report["plan"]) if i != 1] + ["suboccipitals-pir"]
    assert ids == expected
    assert plan["exercises"][0]["repetitions"] == 7 and plan["exercises"][0]["hold_s"] == 6.0
    assert plan["exercises"][-1]["suggested"] is False and plan["exercises"][-1]["why"] == ["added by the therapist"]
    assert plan["exercises"][-1]["effort_pct"] == list(catalog.get("suboccipitals-pir").effort_pct)
    assert plan["recording"] == "raised shoulder.mp4"
    assert "Download edited plan (JSON)" in [b.label for b in at.get("download_button")]
    # the download is the file `isobalance hold --plan FILE` runs: the edited items, sides and doses
    runs = plan_from_dict(plan, catalog)
    assert [(i.exercise_id, i.side) for i in runs.items] == [(e["id"], e["side"]) for e in plan["exercises"]]
    assert (runs.items[0].repetitions, runs.items[0].hold_s) == (7, 6.0)

    # another exercise in a row: its side must be resolved again (never "affected") and its dose is the catalog's
    at.selectbox(key=f"{key}_0_exercise").set_value("levator-scapulae-pir")
    at.run()
    levator = catalog.get("levator-scapulae-pir")
    assert at.number_input(key=f"{key}_0_reps").value == levator.repetitions
    assert at.radio(key=f"{key}_0_side").options == ["left", "right"]


def test_edited_plan_skips_half_filled_rows_and_clamps_values(review_with_plan):
    from assessment.exercises import load_catalog
    from dashboard.plan_table import row_for

    _, report = review_with_plan
    catalog = load_catalog()
    rows = plan_rows(report["plan"], catalog)
    rows[0]["reps"] = 500
    rows[0]["effort_pct"] = (10, 90)
    rows.append({**row_for(catalog.get("levator-scapulae-pir"), None)})      # side not chosen yet
    rows.append({"include": True, "exercise_id": None})
    plan = edited_plan(rows, catalog, report)
    assert plan["exercises"][0]["repetitions"] == 20 and plan["exercises"][0]["effort_pct"] == [10, 50]
    assert plan["skipped"] == [f"row {len(rows) - 1} (Levator scapulae post-isometric relaxation): choose a side",
                               f"row {len(rows)}: no exercise chosen"]
    assert len(plan["exercises"]) == len(report["plan"])


def test_load_upload_ignores_path_parts_in_its_record(setup, sample_clip):
    setup()
    cfg = load_config()
    clip = Path(sample_clip("pose2sim_static_cam02.mp4"))
    with open(clip, "rb") as fh:
        saved = save_upload("../x/clip.MP4", fh, clip.stat().st_size, cfg)
    assert saved.video.name == "video.mp4" and saved.original_name == "clip.MP4"
    meta = json.loads((saved.folder / "upload.json").read_text())
    meta["video"] = "../../../etc/passwd"
    (saved.folder / "upload.json").write_text(json.dumps(meta))
    assert load_upload(cfg, saved.id).video == saved.folder / "passwd"


def test_stream_longer_than_announced_is_refused_and_leaves_nothing(setup):
    """The size check holds even when a file's announced size is wrong: the copy stops at the limit."""
    import io

    from dashboard.uploads import UploadRejected

    data = setup(max_upload_mb=1)
    with pytest.raises(UploadRejected, match=r"^x\.mp4 is larger than the 1 MB upload limit"):
        save_upload("x.mp4", io.BytesIO(b"\0" * (2 * MB)), 10, load_config())
    assert saved_folders(data) == []


def test_a_review_whose_folder_was_removed_is_one_message(setup, sample_clip):
    import shutil

    setup()
    cfg = load_config()
    clip = Path(sample_clip("pose2sim_static_cam02.mp4"))
    with open(clip, "rb") as fh:
        saved = save_upload("gone.mp4", fh, clip.stat().st_size, cfg)
    shutil.rmtree(saved.folder)
    at = AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT_S)
    at.session_state["review_results"] = [{"name": "gone.mp4", "upload_id": saved.id, "error": None}]
    at.run()
    assert not at.exception
    assert texts(at.error) == ["this upload is no longer on this machine (its folder was removed)."]
