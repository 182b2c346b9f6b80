"""``isobalance dashboard``: the server command line and its settings come from the one configuration.

The real server started with this command line is exercised by tests/dashboard/browser (the
``dashboard_server`` fixture uses ``streamlit_argv``); here: defaults, overrides and error paths.
"""

from __future__ import annotations

import sys

import pytest
import typer
from typer.testing import CliRunner

from isobalance.cli_dashboard import APP_PATH, DashboardError, dashboard_command, server_env, streamlit_argv
from isobalance.config import Config


def app() -> typer.Typer:
    a = typer.Typer()
    a.command("dashboard")(dashboard_command)
    a.command("noop")(lambda: None)     # keep typer from collapsing a single command
    return a


def test_argv_binds_to_localhost_headless_without_telemetry_by_default():
    cfg = Config()
    argv = streamlit_argv(cfg.dashboard.host, cfg.dashboard.port, cfg.dashboard.max_upload_mb)
    assert argv[:4] == [sys.executable, "-m", "streamlit", "run"] and argv[4] == str(APP_PATH)
    opts = dict(zip(argv[5::2], argv[6::2]))
    assert opts == {"--server.address": "127.0.0.1", "--server.port": "8501", "--server.headless": "true",
                    "--browser.gatherUsageStats": "false", "--server.maxUploadSize": "500",
                    "--client.toolbarMode": "viewer", "--runner.postScriptGC": "false"}
    assert APP_PATH.is_file()


@pytest.mark.parametrize("port, upload, words", [(0, 10, "not a TCP port"), (70000, 10, "not a TCP port"),
                                                 (8501, 0, "max_upload_mb")])
def test_bad_settings_are_one_plain_error(port, upload, words):
    with pytest.raises(DashboardError, match=words):
        streamlit_argv("127.0.0.1", port, upload)


def test_config_file_errors_stop_before_starting_anything(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("[dashboard]\nport = 'eighty'\nmystery = 1\n")
    result = CliRunner().invoke(app(), ["dashboard", "--config", str(bad)])
    assert result.exit_code == 2
    assert "error: config file" in result.output and "mystery" in result.output
    assert "Traceback" not in result.output


def test_port_flag_outside_the_range_is_reported(tmp_path):
    result = CliRunner().invoke(app(), ["dashboard", "--port", "99999"])
    assert result.exit_code == 2 and "not a TCP port" in result.output


def test_the_config_file_travels_to_the_server(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[dashboard]\nport = 9000\n")
    assert server_env(cfg)["ISOBALANCE_CONFIG"] == str(cfg.resolve())
