"""Alembic environment: migrations run only programmatically, on a connection the store passes in
(``config.attributes["connection"]``), inside the store's migration lock (see store/db.py)."""

from __future__ import annotations

from alembic import context

from store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("isobalance migrations run through store.db.migrate(), not the alembic command line")

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
