"""Findings get their uncertainty band as columns (ci_low, ci_high, systematic), filled in from the
uncertainty JSON of the rows already stored; sessions get an index for per-patient timelines.

Why: the progress view queries and draws each metric's band over sessions; reading it out of JSON
on every query is slow and dialect-specific. The band is the finding's 95% CI widened by the model
error allowance, exactly as the flag rule in assessment/static.py uses it.

Revision ID: 0002
Revises: 0001
"""

import math

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

findings = sa.table("findings", sa.column("id", sa.Integer), sa.column("uncertainty", sa.JSON),
                    sa.column("ci_low", sa.Float), sa.column("ci_high", sa.Float),
                    sa.column("systematic", sa.Float))


def band(uncertainty) -> tuple:
    """(ci_low, ci_high, systematic) from a finding's uncertainty record (None where not given)."""
    u = uncertainty if isinstance(uncertainty, dict) else {}
    ci = u.get("ci95")
    sys_err = u.get("systematic")
    sys_err = float(sys_err) if isinstance(sys_err, (int, float)) and math.isfinite(sys_err) else None
    if not (isinstance(ci, (list, tuple)) and len(ci) == 2 and all(isinstance(v, (int, float)) for v in ci)):
        return None, None, sys_err
    widen = sys_err or 0.0
    return float(ci[0]) - widen, float(ci[1]) + widen, sys_err


def upgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("ci_low", sa.Float, nullable=True))
        batch.add_column(sa.Column("ci_high", sa.Float, nullable=True))
        batch.add_column(sa.Column("systematic", sa.Float, nullable=True))
    op.create_index("ix_sessions_patient_recorded", "sessions", ["patient_id", "recorded_utc"])
    conn = op.get_bind()
    rows = conn.execute(sa.select(findings.c.id, findings.c.uncertainty)).all()
    for row in rows:
        lo, hi, sys_err = band(row.uncertainty)
        conn.execute(sa.update(findings).where(findings.c.id == row.id)
                     .values(ci_low=lo, ci_high=hi, systematic=sys_err))


def downgrade() -> None:
    op.drop_index("ix_sessions_patient_recorded", "sessions")
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("systematic")
        batch.drop_column("ci_high")
        batch.drop_column("ci_low")
