"""Initial schema: api keys, files, jobs, job events, checkpoints, models.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _seq() -> sa.Column:
    return sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True)


def upgrade() -> None:
    _create_keys_and_files()
    _create_jobs()
    _create_events_checkpoints_models()


def _create_keys_and_files() -> None:
    op.create_table(
        "api_keys",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("project", sa.String(128), nullable=False, index=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "files",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("project", sa.String(128), nullable=False, index=True),
        sa.Column("filename", sa.String(512), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def _create_jobs() -> None:
    op.create_table(
        "jobs",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("project", sa.String(128), nullable=False, index=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(32), nullable=False, index=True),
        sa.Column("model", sa.String(1024), nullable=False),
        sa.Column("training_file", sa.String(64), nullable=False),
        sa.Column("validation_file", sa.String(64)),
        sa.Column("training_rows", sa.Integer, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("suffix", sa.String(64)),
        sa.Column("metadata", sa.JSON),
        sa.Column("hyperparameters", sa.JSON, nullable=False),
        sa.Column("grader", sa.JSON, nullable=False),
        sa.Column("response_format", sa.JSON),
        sa.Column("integrations", sa.JSON),
        sa.Column("fine_tuned_model", sa.String(1200)),
        sa.Column("finished_at", sa.BigInteger),
        sa.Column("estimated_finish", sa.BigInteger),
        sa.Column("trained_tokens", sa.BigInteger),
        sa.Column("error", sa.JSON),
        sa.Column("result_files", sa.JSON, nullable=False),
        sa.Column("control", sa.String(16)),
        sa.Column("worker", sa.String(256)),
    )


def _create_events_checkpoints_models() -> None:
    op.create_table(
        "job_events",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("job_id", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON),
    )
    op.create_table(
        "checkpoints",
        _seq(),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("job_id", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("step_number", sa.Integer, nullable=False),
        sa.Column("fine_tuned_model_checkpoint", sa.String(1200), nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("blob_dir", sa.String(512), nullable=False),
        sa.UniqueConstraint("job_id", "step_number", name="uq_checkpoints_job_step"),
    )
    op.create_table(
        "models",
        _seq(),
        sa.Column("id", sa.String(1200), nullable=False, unique=True),
        sa.Column("project", sa.String(128), nullable=False, index=True),
        sa.Column("base_model", sa.String(1024), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False, index=True),
        sa.Column("step_number", sa.Integer, nullable=False),
        sa.Column("blob_dir", sa.String(512), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    for table in ("models", "checkpoints", "job_events", "jobs", "files", "api_keys"):
        op.drop_table(table)
