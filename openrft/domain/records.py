"""Stored files, API keys and models (domain records, free of wire and SQL types)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# "grader" (an extension): a Lambda handler's .py file, named as "file-abc123:handler".
UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals", "grader")
FINE_TUNE_PURPOSE = "fine-tune"
GRADER_PURPOSE = "grader"
RESULTS_PURPOSE = "fine-tune-results"


@dataclass(frozen=True)
class FileRecord:
    """An uploaded (or result) file; its bytes live in the blob store at ``files/{id}``."""

    id: str
    project: str
    filename: str
    purpose: str
    bytes: int
    created_at: int
    rows: int = 0


@dataclass(frozen=True)
class ModelRecord:
    """A fine-tuned model or checkpoint: ``blob_dir`` is its adapter / weights directory key."""

    id: str
    project: str
    base_model: str
    job_id: str
    step_number: int
    blob_dir: str
    created_at: int
    kind: Literal["fine_tuned", "checkpoint"]
    bytes: int = 0  # of the files under blob_dir


def fine_tuned_model_id(base_model: str, project: str, suffix: str | None, job_id: str) -> str:
    """``ft:{base}:{project}:{suffix or ''}:{job_id}``."""
    return f"ft:{base_model}:{project}:{suffix or ''}:{job_id}"


def checkpoint_model_id(fine_tuned_id: str, step: int) -> str:
    """``ft:…:{job_id}:ckpt-step-{N}``."""
    return f"{fine_tuned_id}:ckpt-step-{step}"
