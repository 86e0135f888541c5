"""What one job's Ray actor asks the cluster for, and whether any node could ever give it.

Defaults come from settings (``OPENRFT_RAY_NUM_CPUS``, ``OPENRFT_RAY_NUM_GPUS``,
``OPENRFT_RAY_MEMORY_BYTES``); a job's ``resources`` hyperparameter overrides each one it sets.
Keys are Ray's actor options: ``num_cpus``, ``num_gpus``, ``memory`` (bytes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openrft.settings import Settings

# Ray's option name → the resource name in ``ray.nodes()[i]["Resources"]``.
NODE_RESOURCE = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}


def job_resources(settings: Settings, hyperparameters: Mapping[str, Any]) -> dict[str, float]:
    """The actor options for a job: settings, then the job's non-null ``resources`` entries."""
    wanted: dict[str, float | None] = {
        "num_cpus": settings.ray_num_cpus,
        "num_gpus": settings.ray_num_gpus,
        "memory": settings.ray_memory_bytes,
    }
    for key, value in (hyperparameters.get("resources") or {}).items():
        if value is not None:
            wanted[key] = value
    return {key: float(value) for key, value in wanted.items() if value is not None}


def describe(resources: Mapping[str, float]) -> str:
    """``num_cpus=1, num_gpus=0`` (memory in GiB) for messages."""
    parts = []
    for key, value in resources.items():
        shown = f"{value / 1024**3:.1f} GiB" if key == "memory" else f"{value:g}"
        parts.append(f"{key}={shown}")
    return ", ".join(parts)


def unplaceable_reason(
    resources: Mapping[str, float], nodes: Sequence[Mapping[str, Any]]
) -> str | None:
    """None when some alive node has all of ``resources`` in total (it may be busy now);
    else a sentence saying what the largest nodes offer. ``nodes``: ``ray.nodes()``."""
    alive = [node.get("Resources", {}) for node in nodes if node.get("Alive")]
    for offered in alive:
        if all(offered.get(NODE_RESOURCE[k], 0.0) >= v for k, v in resources.items() if v > 0):
            return None
    largest = {
        key: max((offered.get(name, 0.0) for offered in alive), default=0.0)
        for key, name in NODE_RESOURCE.items()
    }
    return (
        f"No node of the Ray cluster ({len(alive)} alive) has {describe(resources)}; the most "
        f"any node offers is {describe(largest)}. Lower the job's `resources` hyperparameter "
        "or OPENRFT_RAY_NUM_CPUS / OPENRFT_RAY_NUM_GPUS / OPENRFT_RAY_MEMORY_BYTES, or add a "
        "larger node."
    )
