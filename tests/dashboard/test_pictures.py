"""Exercise pictures (issue #13): every catalog exercise has a stick figure of its start position with the
push drawn as a red arrow pointing the way the catalog's picture entry says, and the exercise page shows it
with the plain-words effort scale."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.pictures import PUSH, PictureError, load_pictures, push_arrow, render
from dashboard.words import effort_words


def test_every_catalog_exercise_has_a_picture_and_nothing_else_does():
    from assessment.exercises import load_catalog

    assert set(load_pictures()) == set(load_catalog().ids)


@pytest.mark.parametrize("ex_id", sorted(load_pictures()))
def test_the_red_arrow_points_the_way_of_the_push(ex_id):
    pic = load_pictures()[ex_id]
    img = render(pic, 360)
    red = np.all(np.abs(img.astype(int) - PUSH) < 40, axis=2)
    body = np.all(img < 100, axis=2)
    assert red.sum() > 50 and body.sum() > 300                    # an arrow and a figure were drawn
    ys, xs = np.nonzero(red)
    # the arrow's tip end holds more red (the arrow head) than its tail: compare the red mass along the
    # intended direction, in picture coordinates (y down)
    d = np.asarray(pic.push_toward, float)
    d = np.array([d[0], -d[1]]) / np.linalg.norm(d)
    along = (xs - xs.mean()) * d[0] + (ys - ys.mean()) * d[1]
    assert np.median(along) > 0 or np.mean(along > 0) > 0.5, ex_id
    tail, tip = push_arrow(pic)
    assert np.allclose((tip - tail) / np.linalg.norm(tip - tail), np.asarray(pic.push_toward) / np.linalg.norm(pic.push_toward))


def test_a_picture_entry_with_an_unknown_joint_is_one_clear_error(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text('schema_version = 1\n[poses.standing]\n'
                   + "".join(f'{j} = [0.0, 0.0]\n' for j in ("head", "neck", "right_shoulder", "left_shoulder",
                                                              "right_elbow", "left_elbow", "right_wrist", "left_wrist",
                                                              "right_hip", "left_hip", "right_knee", "left_knee",
                                                              "right_ankle", "left_ankle"))
                   + '[exercise.x]\npose = "standing"\njoints = { tail = [0, 0] }\npush = { at = "head", toward = [1, 0] }\n')
    with pytest.raises(PictureError, match="unknown joint 'tail'"):
        load_pictures(bad)


def test_effort_scale_in_words():
    assert effort_words(10, 20).startswith("Push as if you were holding a full cup of tea steady")
    assert "peach" in effort_words(20, 25)
    assert "heavy door" in effort_words(25, 50)


def test_the_exercise_page_shows_the_picture_and_the_effort_words(monkeypatch, model_path, tmp_path):
    from streamlit.testing.v1 import AppTest

    from tests.dashboard.test_app_live import EXERCISE

    monkeypatch.setenv("ISOBALANCE_MODEL", str(model_path))
    monkeypatch.setenv("ISOBALANCE_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("ISOBALANCE_CONFIG", raising=False)
    at = AppTest.from_file(str(EXERCISE), default_timeout=120)
    at.query_params["exercise"] = "upper-trapezius-pir"
    at.run()
    assert not at.exception
    assert len(at.get("image")) >= 1
    assert any("**How hard:** Push as if you were holding a full cup of tea steady" in m.value for m in at.markdown)
