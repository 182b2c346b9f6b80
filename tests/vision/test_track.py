import numpy as np
import pandas as pd
import pytest

from vision.track import (LANDMARK_INDEX, LANDMARK_NAMES, MIRROR_PERMUTATION, LandmarkTrack,
                          PoseFrame, TrackFormatError, TrackMeta, track_columns)


def random_track(n=7, seed=0, gaps=(2, 5)):
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        if i in gaps:
            frames.append(PoseFrame.missing(i, i * 33.4))
        else:
            frames.append(PoseFrame(i, i * 33.4, rng.random((33, 5)), rng.normal(size=(33, 3)), 1))
    return LandmarkTrack.from_frames(frames, TrackMeta(source="synthetic", fps=30, width=640, height=480,
                                                        model="m", smoothing={"filter": "none"}))


def test_gaps_are_explicit_rows():
    t = random_track()
    assert len(t) == 7
    assert t.detected.tolist() == [True, True, False, True, True, False, True]
    assert t.n_people.tolist() == [1, 1, 0, 1, 1, 0, 1]
    df = t.to_dataframe()
    assert len(df) == 7 and df.loc[2, "nose_x"] != df.loc[2, "nose_x"]  # NaN, row kept


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_roundtrip_file_keeps_values_and_metadata(tmp_path, suffix):
    t = random_track()
    back = LandmarkTrack.load(t.save(tmp_path / f"track{suffix}"))
    tol = 1e-6 if suffix == ".csv" else 0.0  # CSV keeps 6 significant digits
    np.testing.assert_allclose(back.image, t.image, atol=tol, equal_nan=True)
    np.testing.assert_allclose(back.world, t.world, atol=tol * 10, equal_nan=True)
    assert back.frame_index.tolist() == t.frame_index.tolist()
    assert back.meta == t.meta


def test_schema_has_documented_columns():
    cols = track_columns()
    assert cols[:3] == ["frame", "timestamp_ms", "n_people"]
    assert len(cols) == 3 + 33 * 8
    assert "left_shoulder_visibility" in cols and "right_hip_wz" in cols


def test_wrong_columns_give_clear_error():
    df = random_track().to_dataframe().drop(columns=["left_knee_x"])
    with pytest.raises(TrackFormatError, match="missing columns left_knee_x"):
        LandmarkTrack.from_dataframe(df)


def test_non_numeric_values_give_clear_error():
    df = random_track().to_dataframe()
    df["nose_x"] = df["nose_x"].astype(object)
    df.loc[0, "nose_x"] = "oops"
    with pytest.raises(TrackFormatError, match="non-numeric"):
        LandmarkTrack.from_dataframe(df)


def test_load_rejects_garbage(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("hello,world\n1,2\n")
    with pytest.raises(TrackFormatError):
        LandmarkTrack.load(p)
    p2 = tmp_path / "t.parquet"
    p2.write_bytes(b"not parquet")
    with pytest.raises(TrackFormatError):
        LandmarkTrack.load(p2)
    with pytest.raises(TrackFormatError, match="not found"):
        LandmarkTrack.load(tmp_path / "missing.csv")


def test_mirror_swaps_sides_and_is_an_involution():
    t = random_track()
    m = t.mirrored()
    li, ri = LANDMARK_INDEX["left_shoulder"], LANDMARK_INDEX["right_shoulder"]
    np.testing.assert_allclose(m.image[:, li, 0], 1 - t.image[:, ri, 0], equal_nan=True)
    np.testing.assert_allclose(m.image[:, li, 1], t.image[:, ri, 1], equal_nan=True)
    np.testing.assert_allclose(m.mirrored().image, t.image, equal_nan=True)
    np.testing.assert_allclose(m.mirrored().world, t.world, equal_nan=True)
    # every landmark maps to a same-named twin
    for i, j in enumerate(MIRROR_PERMUTATION):
        assert LANDMARK_NAMES[i].replace("left", "X").replace("right", "X") == \
            LANDMARK_NAMES[j].replace("left", "X").replace("right", "X")


def test_pixels_use_frame_size():
    t = random_track()
    px = t.pixels()
    np.testing.assert_allclose(px[0, :, 0], t.image[0, :, 0] * 640)
    np.testing.assert_allclose(px[0, :, 1], t.image[0, :, 1] * 480)
    with pytest.raises(TrackFormatError):
        LandmarkTrack(t.frame_index, t.timestamp_ms, t.image, t.world, t.n_people, TrackMeta()).pixels()


def test_unknown_rate_is_written_as_null_and_read_back_as_nan(tmp_path):
    """A still image has no frame rate: the header is plain JSON ("fps": null), never NaN."""
    import json as _json

    from vision.track import N_LANDMARKS, LandmarkTrack, TrackMeta

    track = LandmarkTrack(np.zeros(1), np.zeros(1), np.full((1, N_LANDMARKS, 5), 0.5), np.zeros((1, N_LANDMARKS, 3)),
                          np.ones(1), TrackMeta(source="tfjs_pose.jpg", fps=float("nan"), width=640, height=480))
    path = track.save(tmp_path / "image.csv")
    header = path.read_text().splitlines()[0]
    assert "NaN" not in header
    assert _json.loads(header.split(" ", 2)[2], parse_constant=lambda c: pytest.fail(f"{c} in JSON"))["fps"] is None
    assert np.isnan(LandmarkTrack.load(path).meta.fps)


def test_the_frames_to_landmarks_path_does_not_import_pandas():
    # pandas costs ~96 MB resident; the CLI with every command mounted, the whole frames -> track path
    # (sequential, parallel, annotated video), writing track.csv and what `hold` does before its model
    # runs (the exercise catalog, checked against the angle table) must not load it (a fresh
    # interpreter: this test process has pandas already)
    import subprocess
    import sys

    code = ("import sys, isobalance.cli as cli; cli._mount_subcommands(); "
            "import vision.landmarks_job, vision.parallel, vision.render, vision.search, assessment.hold; "
            "import isobalance.cli_hold, assessment.hold_drawing; from assessment.exercises import load_catalog; "
            "load_catalog(); "
            "import tempfile, pathlib; from vision.track import LandmarkTrack, PoseFrame, TrackMeta; "
            "LandmarkTrack.from_frames([PoseFrame.missing(0, 0.0)], TrackMeta(source='s', fps=30, width=2, "
            "height=2, model='m', smoothing={'filter': 'none'})).save(pathlib.Path(tempfile.mkdtemp()) / 't.csv'); "
            "heavy = sorted(m for m in ('pandas', 'scipy', 'matplotlib', 'streamlit') if m in sys.modules); "
            "sys.exit(', '.join(heavy) or None)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"imported on the landmarks path: {done.stderr.strip()}"


def test_csv_is_what_pandas_writes_byte_for_byte(tmp_path):
    # the CSV writer does without pandas; pandas' own to_csv is the reference (gaps, a row with a few
    # values missing, negatives, zeros, tiny and large values, integers stored as floats)
    t = random_track(n=40, seed=5, gaps=(0, 7, 8, 39))
    t.world[3, :4, 0] = [-0.0, 1e-12, 123456789.0, -2.5]
    t.image[4, :3, 1] = [0.0, 1.0, 5e-7]
    t.timestamp_ms[5] = 1e7 / 3
    t.image[6, 2, 0] = t.world[6, 30, 2] = np.nan                   # a row with a few values missing
    t.save(tmp_path / "t.csv")
    header, body = (tmp_path / "t.csv").read_text(encoding="utf-8").split("\n", 1)
    assert header.startswith("# isobalance-track ")
    assert body == t.to_dataframe().to_csv(index=False, float_format="%.6g")
