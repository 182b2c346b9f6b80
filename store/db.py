"""Database connections and schema migrations.

SQLite (the embedded default) is opened in WAL mode with a busy timeout, foreign keys on and
``synchronous=FULL``, and write transactions start with ``BEGIN IMMEDIATE``: two processes writing at
once then queue on the lock (up to the timeout) instead of one failing with "database is locked" when
it upgrades a read to a write. PostgreSQL needs nothing special (READ COMMITTED; every save inserts new
rows only). Migrations (Alembic, shipped in store/migrations) run when a store is opened, under a lock
so two processes opening a fresh database at once do not both create it: a lock file next to the SQLite
database, a session-level advisory lock on PostgreSQL.
"""

from __future__ import annotations

import fcntl
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from store.errors import StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
PG_MIGRATION_LOCK = 0x150BA1  # advisory lock key: "isobalance"


@dataclass(frozen=True)
class Engines:
    """``read`` for queries, ``write`` for transactions that write (same engine except on SQLite)."""

    read: Engine
    write: Engine

    @property
    def dialect(self) -> str:
        return self.read.dialect.name

    def dispose(self) -> None:
        self.read.dispose()
        if self.write is not self.read:
            self.write.dispose()


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy's default would be psycopg2)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_path(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None          # we issue BEGIN ourselves (SQLAlchemy's pysqlite recipe)
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", f"busy_timeout={BUSY_TIMEOUT_MS}", "foreign_keys=ON",
                       "synchronous=FULL"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def masked_url(url: str) -> str:
    """``url`` fit for a message or a log: the password hidden (SQLAlchemy's own rendering where the
    URL parses; otherwise the user-info's secret replaced), so a mistyped URL never echoes it."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return re.sub(r"^([^@/]*?//)?([^:@/]+):.*@", lambda m: f"{m[1] or ''}{m[2]}:***@", url)


def create_engines(url: str) -> Engines:
    url = normalize_url(url)
    try:
        backend = make_url(url).get_backend_name()
    except (sa.exc.ArgumentError, ValueError) as exc:   # ValueError: a port that is not a number
        raise StoreError(f"database URL {masked_url(url)!r} cannot be used: "
                         f"{str(exc).replace(url, masked_url(url))}") from None
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is None:
            raise StoreError("an in-memory SQLite database cannot be shared; give a file path "
                             "(sqlite:////path/to/isobalance.db)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"the SQLite database's folder {path.parent} cannot be created: "
                             f"{exc.strerror or exc}") from None
        return Engines(read=_sqlite_engine(url, immediate=False), write=_sqlite_engine(url, immediate=True))
    if backend != "postgresql":
        raise StoreError(f"database {backend!r} is not supported; use SQLite (the default) or a "
                         "postgresql://user@host/dbname URL")
    try:
        engine = sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise StoreError(f"database URL cannot be used: {exc}") from None
    return Engines(read=engine, write=engine)


def _alembic_config(connection: sa.Connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(None)  # type: ignore[arg-type]
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _migration_lock(engines: Engines) -> Iterator[sa.Connection]:
    """A connection to migrate on, held under a lock only one process at a time can have."""
    if engines.dialect == "sqlite":
        path = sqlite_path(str(engines.write.url))
        assert path is not None
        with open(path.with_name(path.name + ".migrate.lock"), "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                with engines.write.connect() as conn:
                    yield conn
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    with engines.write.connect() as conn:
        conn.execute(sa.select(sa.func.pg_advisory_lock(PG_MIGRATION_LOCK)))
        conn.commit()
        try:
            yield conn
        finally:
            conn.rollback()
            conn.execute(sa.select(sa.func.pg_advisory_unlock(PG_MIGRATION_LOCK)))
            conn.commit()


def migrate(engines: Engines, revision: str = "head") -> str:
    """Bring the schema to ``revision`` (default: the newest); returns the revision reached.

    The common case (already there) only reads, so opening a store never waits for another process's
    write. A database newer than this isobalance (a revision we do not know) is refused, never touched.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(None))  # type: ignore[arg-type]
    target = script.get_current_head() if revision == "head" else revision

    def known(current: str | None) -> str | None:
        if current is not None:
            try:
                script.get_revision(current)
            except Exception:  # alembic raises several kinds for an unknown revision
                raise StoreError(f"the database is at schema revision {current!r}, which this version of "
                                 "isobalance does not know; upgrade isobalance") from None
        return current

    if known(current_revision(engines.read)) == target:
        return target
    with _migration_lock(engines) as conn:
        current = known(MigrationContext.configure(conn).get_current_revision())
        conn.commit()
        if current != target:
            command.upgrade(_alembic_config(conn), target)
            conn.commit()
        return MigrationContext.configure(conn).get_current_revision() or ""


def check_reachable(engines: Engines) -> None:
    """Raise StoreError with the server's own words when the database cannot be reached."""
    try:
        with engines.read.connect() as conn:
            conn.execute(sa.select(1))
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreError(f"cannot connect to the database: {reason}") from None


def env_url() -> str | None:
    return os.environ.get("ISOBALANCE_DATABASE_URL") or None
