"""Fuzzing the configuration loader: any TOML file (known and unknown sections and keys, values of every
TOML type, hostile strings) either loads as a ``Config`` whose every field has its declared type, or
raises ``ConfigError``; and what ``isobalance config`` prints for a loaded one loads back to the same."""

from __future__ import annotations

import dataclasses
import json
import math

from hypothesis import example, given
from hypothesis import strategies as st

from isobalance.config import Config, ConfigError, load_config
from tests.fuzzing import budget

KNOWN = {s.name: [f.name for f in dataclasses.fields(getattr(Config(), s.name))] for s in dataclasses.fields(Config)}
SCALARS = st.one_of(st.text(max_size=30), st.integers(-2**63, 2**63 - 1), st.booleans(),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["", "\x00", "../..", "~"]))
VALUES = st.one_of(SCALARS, st.lists(st.integers(-5, 5) | st.text(max_size=5), max_size=3))


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v).replace("\x7f", "\\u007f")
    return str(v)


@st.composite
def toml_files(draw) -> str:
    lines = []
    sections = draw(st.lists(st.sampled_from(list(KNOWN)) | st.text(max_size=8), max_size=3, unique=True))
    for section in sections:
        lines.append(f"[{json.dumps(section)}]")
        keys = draw(st.lists(st.sampled_from(KNOWN.get(section) or ["x"]) | st.text(max_size=8), max_size=4, unique=True))
        lines += [f"{json.dumps(k)} = {toml_value(draw(VALUES))}" for k in keys]
    return "\n".join(lines) + "\n"


def loads_or_config_error(path):
    try:
        config = load_config(path)
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc).strip() or "TOML" in str(exc)
        return None
    for section in dataclasses.fields(config):
        for f in dataclasses.fields(getattr(config, section.name)):
            value = getattr(getattr(config, section.name), f.name)
            want = {"str": str, "int": int, "float": (int, float)}[f.type]
            assert isinstance(value, want) and not isinstance(value, bool), (section.name, f.name, value)
    return config


@budget(120)
@given(text=toml_files())
@example(text='[dashboard]\ndata_dir = "a\\nb\\u007f\\"c\\\\"\n')     # `isobalance config` wrote raw newlines
def test_any_config_file_loads_typed_or_is_one_config_error(tmp_path, text):
    path = tmp_path / "fuzz.toml"
    path.write_text(text, encoding="utf-8")
    config = loads_or_config_error(path)
    if config is not None:                        # `isobalance config` output is itself a valid config
        path.write_text(config.to_toml(), encoding="utf-8")
        assert load_config(path) == config


@budget(40)
@given(data=st.binary(max_size=300))
def test_any_bytes_are_a_config_or_one_config_error(tmp_path, data):
    path = tmp_path / "fuzz.toml"
    path.write_bytes(data)
    loads_or_config_error(path)
