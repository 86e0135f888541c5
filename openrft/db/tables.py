"""SQLAlchemy Core tables (the schema the Alembic migrations create).

Every listable table has an integer ``seq`` primary key: cursor pagination orders by it, so
items created in the same second still page in a stable order.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("project", sa.String(128), nullable=False, index=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

files = sa.Table(
    "files",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("project", sa.String(128), nullable=False, index=True),
    sa.Column("filename", sa.String(512), nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("project", sa.String(128), nullable=False, index=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("model", sa.String(1024), nullable=False),
    # The alias the request named when ``model`` came from the server's alias map (0005).
    sa.Column("model_alias", sa.String(256)),
    sa.Column("training_file", sa.String(64), nullable=False),
    sa.Column("validation_file", sa.String(64)),
    sa.Column("training_rows", sa.Integer, nullable=False, default=0),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("suffix", sa.String(64)),
    sa.Column("metadata", sa.JSON),
    sa.Column("hyperparameters", sa.JSON, nullable=False),
    sa.Column("grader", sa.JSON, nullable=False),
    sa.Column("monitor_grader", sa.JSON),
    sa.Column("preflight", sa.String(8)),
    sa.Column("response_format", sa.JSON),
    sa.Column("integrations", sa.JSON),
    sa.Column("tools", sa.JSON),
    # supervised | dpo | reinforcement (0007); older rows are reinforcement jobs.
    sa.Column("method", sa.String(16), nullable=False, server_default="reinforcement"),
    sa.Column("fine_tuned_model", sa.String(1200)),
    sa.Column("finished_at", sa.BigInteger),
    sa.Column("estimated_finish", sa.BigInteger),
    sa.Column("trained_tokens", sa.BigInteger),
    sa.Column("error", sa.JSON),
    sa.Column("result_files", sa.JSON, nullable=False),
    sa.Column("control", sa.String(16)),
    sa.Column("worker", sa.String(256)),
)

job_events = sa.Table(
    "job_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("job_id", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("data", sa.JSON),
)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("job_id", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("step_number", sa.Integer, nullable=False),
    sa.Column("fine_tuned_model_checkpoint", sa.String(1200), nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("blob_dir", sa.String(512), nullable=False),
    sa.UniqueConstraint("job_id", "step_number", name="uq_checkpoints_job_step"),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(1200), nullable=False, unique=True),
    sa.Column("project", sa.String(128), nullable=False, index=True),
    sa.Column("base_model", sa.String(1024), nullable=False),
    sa.Column("job_id", sa.String(64), nullable=False, index=True),
    sa.Column("step_number", sa.Integer, nullable=False),
    sa.Column("blob_dir", sa.String(512), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    # Bytes of blob_dir; a fine-tuned model hard-links its checkpoint's files (same bytes).
    sa.Column("bytes", sa.BigInteger, nullable=False, server_default="0"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(128), nullable=False),
    sa.Column("endpoint", sa.String(64), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("object_id", sa.String(64), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("project", "endpoint", "key", name="uq_idempotency_keys_scope"),
)

job_samples = sa.Table(
    "job_samples",
    metadata,
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
    sa.Index("ix_job_samples_job_split_step", "job_id", "split", "step"),
)

job_reports = sa.Table(
    "job_reports",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("report", sa.JSON, nullable=False),
)
