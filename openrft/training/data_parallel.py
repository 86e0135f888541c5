"""Data-parallel updates with ``torch.distributed``: the same global batch, the same update.

Every rank holds the same generation batch and the same parameters. The learner's micro-batches
are dealt round-robin to the ranks; each micro-batch's loss is already normalised by the whole
batch's ``LossNorm``, so the sum over ranks of their gradients (one ``all_reduce``) is the
single-process gradient, and every rank then clips and steps identically. gloo on CPU, NCCL on
GPU (``backend_for``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")

# Learner sums that are not per-micro-batch: the same on every rank (grad_norm, computed after
# the all-reduce) or a maximum.
MAX_KEYS = ("logp_gap_max", "grad_norm")


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


@dataclass(frozen=True)
class DataParallel:
    """This process's place in an initialised default process group."""

    rank: int
    world_size: int

    @classmethod
    def current(cls) -> DataParallel:
        return cls(dist.get_rank(), dist.get_world_size())

    def shard(self, items: Sequence[T]) -> list[T]:
        """This rank's share: items ``rank``, ``rank + world_size``, ..."""
        return list(items[self.rank :: self.world_size])

    def sum_gradients(self, params: Sequence[torch.nn.Parameter]) -> None:
        """Replace each local gradient by the sum over ranks (a rank with no micro-batch
        contributes zeros)."""
        for param in params:
            if param.grad is None:
                param.grad = torch.zeros_like(param)
            dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)

    def combine_metrics(self, sums: dict[str, float]) -> dict[str, float]:
        """Per-rank metric sums → the whole batch's, the same on every rank: summed, except
        ``MAX_KEYS`` (max) and timings (``*_s``: this rank's own)."""
        gathered: list[list[str] | None] = [None] * self.world_size
        dist.all_gather_object(gathered, sorted(k for k in sums if not k.endswith("_s")))
        keys = sorted({k for rank_keys in gathered for k in rank_keys or []})
        added = torch.tensor([sums.get(k, 0.0) for k in keys], dtype=torch.float64)
        maxed = added.clone()
        dist.all_reduce(added, op=dist.ReduceOp.SUM)
        dist.all_reduce(maxed, op=dist.ReduceOp.MAX)
        combined = dict(sums)
        for i, key in enumerate(keys):
            combined[key] = float(maxed[i] if key in MAX_KEYS else added[i])
        return combined
