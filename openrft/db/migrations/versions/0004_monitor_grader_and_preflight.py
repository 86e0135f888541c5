"""A job's monitor grader (grades, never trains) and its preflight mode.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("monitor_grader", sa.JSON))
        batch.add_column(sa.Column("preflight", sa.String(8)))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("preflight")
        batch.drop_column("monitor_grader")
