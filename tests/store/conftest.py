"""Store fixtures: every store test runs against real SQLite and a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.store.pgserver import PgServer


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL cluster for the whole test session (a failure to start fails the tests)."""
    server = PgServer()
    try:
        server.start()
    except Exception:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def store_url(backend, request, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'isobalance.db'}"
    return request.getfixturevalue("pg_server").createdb()


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(store_url, data_dir):
    from store import Store

    s = Store.open(store_url, data_dir)
    yield s
    s.close()
