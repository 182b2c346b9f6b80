"""Store fixtures: every store test runs against real SQLite and a real PostgreSQL server
(``store_url`` and ``postgres_url`` live in tests/conftest.py, shared with the CLI and dashboard tests)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(store_url, data_dir):
    from store import Store

    s = Store.open(store_url, data_dir)
    yield s
    s.close()
