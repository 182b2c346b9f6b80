"""Initial schema: patients, sessions, findings, plan items, holds, hold repetitions, files.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(32)
UTC = sa.String(20)


def _session_fk() -> sa.Column:
    return sa.Column("session_id", ID, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False, index=True)


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", ID, primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("created_utc", UTC, nullable=False),
        sa.Column("notes", sa.Text, nullable=False))
    op.create_table(
        "sessions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("patient_id", ID, sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("recorded_utc", UTC, nullable=False),
        sa.Column("saved_utc", UTC, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("views", sa.JSON, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("notes", sa.Text, nullable=False))
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _session_fk(),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("view", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("threshold", sa.Float, nullable=True),
        sa.Column("threshold_source", sa.Text, nullable=False),
        sa.Column("uncertainty", sa.JSON, nullable=False),
        sa.Column("direction", sa.Text, nullable=False),
        sa.Column("side", sa.String(8), nullable=True))
    op.create_table(
        "plan_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _session_fk(),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("exercise_id", sa.String(100), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("technique", sa.String(32), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("why", sa.JSON, nullable=False),
        sa.Column("hypothesis_ids", sa.JSON, nullable=False))
    op.create_table(
        "holds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _session_fk(),
        sa.Column("exercise_id", sa.String(100), nullable=False, index=True),
        sa.Column("exercise_name", sa.Text, nullable=False),
        sa.Column("technique", sa.String(32), nullable=False),
        sa.Column("repetitions_planned", sa.Integer, nullable=False),
        sa.Column("repetitions_completed", sa.Integer, nullable=False),
        sa.Column("breaks", sa.Integer, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("final_phase", sa.String(16), nullable=False))
    op.create_table(
        "hold_repetitions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("hold_id", sa.Integer, sa.ForeignKey("holds.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("index", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("hold_duration_s", sa.Float, nullable=True),
        sa.Column("held_still_s", sa.Float, nullable=True),
        sa.Column("still_fraction", sa.Float, nullable=True),
        sa.Column("longest_unbroken_s", sa.Float, nullable=True),
        sa.Column("not_visible_s", sa.Float, nullable=True),
        sa.Column("breaks", sa.Integer, nullable=False))
    op.create_table(
        "files",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _session_fk(),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("relpath", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False))


def downgrade() -> None:
    for table in ("files", "hold_repetitions", "holds", "plan_items", "findings", "sessions", "patients"):
        op.drop_table(table)
