"""The one configuration: ``isobalance config`` prints TOML that ``load_config`` reads back to the same
``Config`` (defaults and every field changed), and the store's database comes from it in one order:
``--db``, config ``[store] database_url``, ``$ISOBALANCE_DATABASE_URL``, SQLite in the data folder."""

from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from isobalance.cli import app
from isobalance.config import Config, ConfigError, load_config
from isobalance.paths import open_store
from store import Store


def printed_config(*args: str) -> str:
    result = CliRunner().invoke(app, ["config", *args])
    assert result.exit_code == 0, result.output
    return result.output


def every_field_changed() -> Config:
    """A Config where no field keeps its default (strings with characters TOML must escape; numbers stay
    in their valid ranges, e.g. confidences within 0..1)."""
    def changed(value):
        if isinstance(value, bool):
            return not value
        if isinstance(value, (int, float)):
            return value + 3 if isinstance(value, int) else value / 2 + 0.125
        return value + ' "quoted" \\ back-slashed ü' if value else 'set "quoted" \\ ü'

    sections = {s.name: dataclasses.replace(getattr(Config(), s.name),
                                            **{f.name: changed(getattr(getattr(Config(), s.name), f.name))
                                               for f in dataclasses.fields(getattr(Config(), s.name))})
                for s in dataclasses.fields(Config)}
    return Config(**sections)


def test_printed_defaults_read_back_as_the_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("ISOBALANCE_CONFIG", raising=False)
    text = printed_config()
    assert "[store]" in text and 'database_url = ""' in text
    path = tmp_path / "isobalance.toml"
    path.write_text(text, encoding="utf-8")
    assert load_config(path) == Config()


def test_every_field_survives_file_to_cli_to_file(tmp_path, monkeypatch):
    monkeypatch.delenv("ISOBALANCE_CONFIG", raising=False)
    wanted = every_field_changed()
    for section in dataclasses.fields(Config):          # the construction really changed every field
        for f in dataclasses.fields(getattr(Config(), section.name)):
            assert getattr(getattr(wanted, section.name), f.name) != getattr(getattr(Config(), section.name), f.name)
    first = tmp_path / "first.toml"
    first.write_text(wanted.to_toml(), encoding="utf-8")
    assert load_config(first) == wanted
    second = tmp_path / "second.toml"
    second.write_text(printed_config("--config", str(first)), encoding="utf-8")   # what `isobalance config` shows
    assert load_config(second) == wanted


def test_unknown_store_key_is_one_plain_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[store]\ndatabase = "sqlite:///x.db"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown keys in \[store\]: database"):
        load_config(bad)


def _config(tmp_path, database_url: str) -> Config:
    return Config().override("dashboard", data_dir=str(tmp_path / "data")).override("store", database_url=database_url)


def test_store_database_order_flag_then_config_then_environment_then_sqlite(tmp_path, monkeypatch):
    urls = {name: f"sqlite:///{tmp_path / name / 'isobalance.db'}" for name in ("flag", "config", "env")}
    for name in urls:
        (tmp_path / name).mkdir()
    monkeypatch.setenv("ISOBALANCE_DATABASE_URL", urls["env"])
    with open_store(_config(tmp_path, urls["config"]), urls["flag"]) as s:
        assert s.url == urls["flag"]
    with open_store(_config(tmp_path, urls["config"])) as s:
        assert s.url == urls["config"]
    with open_store(_config(tmp_path, "")) as s:
        assert s.url == urls["env"]
    monkeypatch.delenv("ISOBALANCE_DATABASE_URL")
    with open_store(_config(tmp_path, "")) as s:
        assert s.url == f"sqlite:///{(tmp_path / 'data').resolve() / 'isobalance.db'}"
        assert s.root == (tmp_path / "data").resolve()
    for name in urls:                                     # each store really was created where it said
        assert (tmp_path / name / "isobalance.db").is_file()


def test_sessions_cli_uses_the_configured_database_unless_db_is_given(tmp_path, monkeypatch):
    import typer

    from isobalance.cli_sessions import patients_app

    monkeypatch.delenv("ISOBALANCE_DATABASE_URL", raising=False)
    cli = typer.Typer()
    cli.add_typer(patients_app, name="patients")
    configured, flag = (f"sqlite:///{tmp_path / name}.db" for name in ("configured", "flag"))
    cfg = tmp_path / "isobalance.toml"
    cfg.write_text(_config(tmp_path, configured).to_toml(), encoding="utf-8")
    for args in (["Ada", "--config", cfg], ["Bea", "--config", cfg, "--db", flag]):
        result = CliRunner().invoke(cli, ["patients", "add", *map(str, args)])
        assert result.exit_code == 0, result.output
    with Store.open(configured, tmp_path / "data") as s:
        assert [p["display_name"] for p in s.patients()] == ["Ada"]
    with Store.open(flag, tmp_path / "data") as s:
        assert [p["display_name"] for p in s.patients()] == ["Bea"]
