"""Fuzzing the landmark track reader: any bytes, and a real track file with cells, lines or its metadata
line replaced by hostile values, either load as a track or raise ``TrackFormatError`` (a clean,
user-facing error), never anything else."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.assessment.synthetic import Pose, make_track
from tests.fuzzing import budget
from vision.errors import IsobalanceError
from vision.track import LandmarkTrack, TrackFormatError

CELLS = st.one_of(st.sampled_from(["", "nan", "inf", "-inf", "1e400", "0x10", "true", "None", '"', ",", "\n",
                                   "9" * 40, "-1", "1.5", "\x00"]), st.text(max_size=12),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr))
JSON = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=12)


@pytest.fixture(scope="module")
def good_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("track") / "track.csv"
    make_track([Pose()] * 3, fps=30.0, source="synthetic").save(path)
    return path.read_text(encoding="utf-8")


def load_is_clean(path) -> LandmarkTrack | None:
    try:
        track = LandmarkTrack.load(path)
    except TrackFormatError as exc:
        assert isinstance(exc, IsobalanceError) and str(exc)     # the CLI shows it as one line, exit 2
        return None
    assert isinstance(track.meta.fps, float) and (math.isnan(track.meta.fps) or track.meta.fps > 0)
    assert np.all(np.isfinite(track.timestamp_ms))
    return track


@budget(60)
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".csv", ".parquet"]))
def test_any_bytes_load_or_raise_a_clean_error(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    load_is_clean(path)


@budget(40)
@given(data=st.data())
def test_a_real_track_with_hostile_cells_loads_or_raises_a_clean_error(tmp_path, good_csv, data):
    lines = good_csv.split("\n")
    what = data.draw(st.sampled_from(["cell", "meta", "drop", "header"]))
    if what == "meta":
        meta = st.fixed_dictionaries({}, optional={k: JSON for k in ("fps", "width", "height", "rotation", "notes",
                                                                      "smoothing", "source", "schema_version")})
        lines[0] = "# isobalance-track " + json.dumps(data.draw(st.one_of(JSON, meta)))
    elif what == "drop":
        del lines[data.draw(st.integers(0, len(lines) - 1))]
    else:
        row = 1 if what == "header" else data.draw(st.integers(2, len(lines) - 2))
        cells = lines[row].split(",")
        cells[data.draw(st.integers(0, len(cells) - 1))] = data.draw(CELLS)
        lines[row] = ",".join(cells)
    path = tmp_path / "fuzz.csv"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    load_is_clean(path)
