"""Two gloo processes training one batch give the single process's gradients and metrics.

Same tiny-random-llama LoRA policy (seeded), same 4 groups x 2 completions, one micro-batch per
completion so each rank gets 4 of the 8. Tolerance: rtol 1e-5, atol 1e-7 (float32 sums taken in
a different order).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from openrft.inference.engine import Completion
from openrft.inference.registry import load_base_model
from openrft.training.config import TrainConfig
from openrft.training.data_parallel import DataParallel
from openrft.training.policy import Policy
from openrft.training.rollout import GroupRollout
from openrft.training.update import Learner

WORLD = 2


def _batch() -> tuple[list[GroupRollout], torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    groups = []
    for i in range(4):
        prompt = torch.randint(5, 100, (6,), generator=generator).tolist()
        completions = []
        for j in range(2):
            length = 3 + i + j
            ids = torch.randint(5, 100, (length,), generator=generator).tolist()
            completions.append(Completion(ids, [-1.5] * length, "length", None))
        groups.append(GroupRollout({}, prompt, completions, ["", ""]))
    advantages = torch.tensor([1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 0.3, -0.3])  # (B*G,)
    return groups, advantages


def _train(cache_dir: Path, parallel: DataParallel | None) -> dict[str, Any]:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    base, tokenizer = load_base_model("tiny-random-llama", cache_dir=cache_dir)
    policy = Policy(base, tokenizer, lora_rank=4, lora_alpha=8.0, beta=0.0)
    config = TrainConfig.from_hyperparameters({"learning_rate": 1e-2}, seed=0)
    config = dataclasses.replace(config, micro_batch_tokens=1)  # one completion per micro-batch
    learner = Learner(policy, config, total_steps=1, parallel=parallel)
    metrics = learner.step(*_batch())
    grads = {
        name: param.grad.clone()
        for name, param in policy.causal_lm.named_parameters()
        if param.requires_grad and param.grad is not None
    }
    return {"grads": grads, "metrics": metrics}


def _rank(rank: int, tmp: Path) -> None:
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp / 'rendezvous'}", rank=rank, world_size=WORLD
    )
    try:
        torch.save(_train(tmp / "models", DataParallel.current()), tmp / f"rank-{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_give_the_single_process_gradients(tmp_path: Path) -> None:
    single = _train(tmp_path / "models", None)
    mp.spawn(_rank, args=(tmp_path,), nprocs=WORLD, join=True)
    assert any(g.abs().sum() > 0 for g in single["grads"].values())
    for rank in range(WORLD):
        ranked = torch.load(tmp_path / f"rank-{rank}.pt")
        assert ranked["grads"].keys() == single["grads"].keys()
        for name, grad in single["grads"].items():
            torch.testing.assert_close(ranked["grads"][name], grad, rtol=1e-5, atol=1e-7)
        for key, value in single["metrics"].items():
            if not key.startswith("timing/"):
                assert abs(ranked["metrics"][key] - value) <= 1e-5 * max(1.0, abs(value)), key
