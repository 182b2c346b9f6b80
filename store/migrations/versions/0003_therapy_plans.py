"""Therapy plans: the plan a therapist saved for a patient, its items, and the holds done from it.

Why: the therapist's edited plan (exercise, side resolved to left/right/both, dose) must reach the
patient - the guided exercise page and ``isobalance hold --patient`` run it - and each finished hold is
recorded against its plan item, so adherence (done / planned per week) can be shown. A plan belongs to
a patient and goes with them (ON DELETE CASCADE); a plan-hold row goes with its hold session too.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(32)
UTC = sa.String(20)


def upgrade() -> None:
    op.create_table(
        "therapy_plans",
        sa.Column("id", ID, primary_key=True),
        sa.Column("patient_id", ID, sa.ForeignKey("patients.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("saved_utc", UTC, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("document", sa.JSON, nullable=False))
    op.create_table(
        "therapy_plan_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan_id", ID, sa.ForeignKey("therapy_plans.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("exercise_id", sa.String(100), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("hold_s", sa.Float, nullable=False),
        sa.Column("relax_s", sa.Float, nullable=False),
        sa.Column("stretch_s", sa.Float, nullable=False),
        sa.Column("repetitions", sa.Integer, nullable=False),
        sa.Column("per_week", sa.Integer, nullable=False),
        sa.Column("note", sa.Text, nullable=False))
    op.create_table(
        "plan_holds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("therapy_plan_items.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("session_id", ID, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("done_utc", UTC, nullable=False),
        sa.Column("repetitions_counted", sa.Integer, nullable=False))


def downgrade() -> None:
    op.drop_table("plan_holds")
    op.drop_table("therapy_plan_items")
    op.drop_table("therapy_plans")
