"""Model values shared by the services and the wire protocol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelInfo:
    """One entry of ``GET /v1/models``; ``created`` in Unix seconds (0 for built-in bases)."""

    id: str
    created: int
    owned_by: str


@dataclass(frozen=True)
class ResolvedModel:
    """What inference needs: the base model (canonical) and the adapter / weights dir, if any."""

    id: str
    base_model: str
    adapter_dir: Path | None
