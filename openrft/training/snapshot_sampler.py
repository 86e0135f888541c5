"""Sampling from a pinned copy of the policy, so the trainer can update while it generates.

``async_rollouts`` generates step k+1 while step k trains. In process, the engine would
otherwise read the very tensors the optimizer updates in place. The copy shares every frozen
tensor with the policy (a LoRA job copies only its adapter, a few MB; a full fine-tune copies
every weight) and takes the trained tensors' values at ``pin_weights``.
"""

from __future__ import annotations

import copy

import torch

from openrft.training.config import TrainConfig
from openrft.training.policy import Policy
from openrft.training.rollout import EngineSampler, job_engine


class SnapshotSampler(EngineSampler):
    """``EngineSampler`` (streaming, pinned) over a copy of ``policy.model``."""

    def __init__(self, policy: Policy, config: TrainConfig):
        self.policy = policy
        frozen = {id(p): p for p in policy.model.parameters() if not p.requires_grad}
        self.model = copy.deepcopy(policy.model, memo=frozen).requires_grad_(False)
        super().__init__(job_engine(self.model, policy.tokenizer, config))
        self.pin_weights()

    def pin_weights(self) -> None:
        """Copy the policy's trained tensors into the copy (samples use them until the next)."""
        live = dict(self.policy.model.named_parameters())
        with torch.no_grad():
            for name, param in self.model.named_parameters():
                if live[name].requires_grad:
                    param.copy_(live[name])
