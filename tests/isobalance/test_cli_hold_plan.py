"""``isobalance hold``: the safety screen before any frame is read (a red flag, too much pain or a
therapist-only technique stops with one plain message, exit 5), and ``--plan`` / ``--patient`` run the
therapist's plan item - side and dose - with the finished hold saved against it."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from assessment.therapy_plan import plan_of
from isobalance.cli_hold import hold_command

LOW_ROW = "lower-trapezius-low-row-hold"
CLIP = "tfjs_pose_squats.mp4"


def app():
    a = typer.Typer()
    a.command("hold")(hold_command)
    a.command("noop")(lambda: None)
    return a


def hold(*args):
    return CliRunner().invoke(app(), ["hold", *map(str, args)])


@pytest.mark.parametrize("flag", ["night_pain", "dizziness", "bladder_bowel"])
def test_a_red_flag_blocks_hold_before_anything_runs(tmp_path, sample_clip, flag):
    res = hold(sample_clip(CLIP), "--exercise", LOW_ROW, "-o", tmp_path / "out", "--red-flag", flag, "--pain-before", 0)
    assert res.exit_code == 5, res.output
    assert "see a physiotherapist or doctor" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_without_a_terminal_the_questions_must_be_answered_by_flags(tmp_path, sample_clip):
    res = hold(sample_clip(CLIP), "--exercise", LOW_ROW, "-o", tmp_path)
    assert res.exit_code == 2 and "--no-red-flags" in res.output and "dizziness:" in res.output
    res = hold(sample_clip(CLIP), "--exercise", LOW_ROW, "-o", tmp_path, "--no-red-flags")
    assert res.exit_code == 2 and "--pain-before" in res.output
    res = hold(sample_clip(CLIP), "--exercise", LOW_ROW, "-o", tmp_path, "--no-red-flags", "--pain-before", 8)
    assert res.exit_code == 5 and "too much to start" in res.output
    res = hold(sample_clip(CLIP), "--exercise", LOW_ROW, "-o", tmp_path, "--no-red-flags", "--red-flag", "dizziness")
    assert res.exit_code == 2 and "contradict" in res.output


def test_a_pain_after_score_outside_0_to_10_fails_before_the_video_is_read(tmp_path, sample_clip):
    res = hold(sample_clip(CLIP), "--exercise", LOW_ROW, "-o", tmp_path / "out", "--no-red-flags",
               "--pain-before", 1, "--pain-after", 11)
    assert res.exit_code == 5 and "from 0 (no pain) to 10" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_a_therapist_only_technique_needs_the_therapists_plan(tmp_path, sample_clip):
    res = hold(sample_clip(CLIP), "--exercise", "pectoralis-minor-met", "-o", tmp_path, "--no-red-flags",
               "--pain-before", 0)
    assert res.exit_code == 5 and "therapist-only" in res.output and "Traceback" not in res.output


@pytest.fixture
def config(isolated_config):
    return isolated_config


PLAN = [{"exercise_id": "levator-scapulae-pir", "side": "left", "hold_s": 3, "relax_s": 1, "stretch_s": 2,
         "repetitions": 2, "per_week": 4},
        {"exercise_id": LOW_ROW, "side": "right", "hold_s": 2.5, "relax_s": 1, "stretch_s": 0, "repetitions": 3,
         "per_week": 5}]


@pytest.mark.slow
def test_hold_patient_runs_the_saved_plan_item_and_records_it(tmp_path, sample_clip, config):
    from isobalance import paths
    from isobalance.config import load_config
    from store.plans import adherence, save_plan

    with paths.open_store(load_config()) as store:
        pid = store.add_patient("Ada")
        save_plan(store, pid, plan_of(PLAN))
    res = hold(sample_clip(CLIP), "--patient", pid[:8], "--exercise", LOW_ROW, "-o", tmp_path / "out",
               "--no-red-flags", "--pain-before", 1, "--pain-after", 3, "--no-video", "--settle-s", 0.6,
               "--no-progress")
    # pain rose by 2: the stop rule says stop for today (exit 5) - after the hold was saved with its pain
    assert res.exit_code == 5, res.output
    assert "Pain went from 1/10 to 3/10: stop the exercises for today" in res.output
    assert f"plan item: {LOW_ROW} (right), hold 2.5 s x 3" in res.output
    doc = json.loads((tmp_path / "out" / "hold.json").read_text())
    assert doc["exercise"]["hold_s"] == 2.5 and doc["exercise"]["repetitions"] == 3
    assert doc["context"]["plan_item"] == {"exercise_id": LOW_ROW, "side": "right"}
    assert (doc["context"]["safety"]["pain_before"], doc["context"]["safety"]["pain_after"],
            doc["context"]["safety"]["stop"]) == (1, 3, True)
    assert "rep 1: held still" in res.output and f"{LOW_ROW} (right): 1/5 this week" in res.output
    with paths.open_store(load_config()) as store:
        [session] = store.sessions(pid)
        assert session["kind"] == "hold"
        assert store.session(session["id"])["document"]["context"]["safety"]["pain_after"] == 3
        rows = {r["exercise_id"]: r for r in adherence(store, pid)}
        assert rows[LOW_ROW]["done_this_week"] == 1 and rows["levator-scapulae-pir"]["done_this_week"] == 0


def test_hold_plan_file_needs_a_choice_between_items_and_a_saved_plan(tmp_path, sample_clip, config):
    path = plan_of(PLAN).save_json(tmp_path / "plan.json")
    res = hold(sample_clip(CLIP), "--plan", path, "-o", tmp_path, "--no-red-flags", "--pain-before", 0)
    assert res.exit_code == 2 and "choose one with --exercise" in res.output
    from isobalance import paths
    from isobalance.config import load_config

    with paths.open_store(load_config()) as store:
        pid = store.add_patient("Bea")
    res = hold(sample_clip(CLIP), "--patient", pid, "-o", tmp_path, "--no-red-flags", "--pain-before", 0)
    assert res.exit_code == 2 and "no plan is saved for patient" in res.output and "Traceback" not in res.output
