"""Rollout samples of each job (train steps and evaluations) and its before/after report.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_samples",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("split", sa.String(8), nullable=False),
        sa.Column("item", sa.Integer, nullable=False),
        sa.Column("sample_index", sa.Integer, nullable=False),
        sa.Column("prompt", sa.JSON, nullable=False),
        sa.Column("completion", sa.Text, nullable=False),
        sa.Column("reward", sa.Float, nullable=False),
        sa.Column("scores", sa.JSON, nullable=False),
        sa.Column("errors", sa.JSON, nullable=False),
        sa.Column("advantage", sa.Float),
        sa.Column("finish_reason", sa.String(16), nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
    )
    op.create_index("ix_job_samples_job_split_step", "job_samples", ["job_id", "split", "step"])
    op.create_table(
        "job_reports",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_reports")
    op.drop_index("ix_job_samples_job_split_step", table_name="job_samples")
    op.drop_table("job_samples")
