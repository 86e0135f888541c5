"""The policy update: micro-batched GRPO loss, AdamW with linear warmup/decay, clipping.

One ``Learner.step`` consumes one generation batch and makes ``num_iterations`` optimizer
steps on it. Old log-probs are never recomputed: on the first pass the parameters are still
those that sampled, so the first pass's own (detached) log-probs are the old log-probs.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from openrft.rl import LossNorm, PolicyLossInputs, policy_loss, truncated_importance_weights
from openrft.threads import fit_threads
from openrft.training.config import TrainConfig
from openrft.training.data_parallel import DataParallel
from openrft.training.policy import Policy
from openrft.training.prompt_batch import PromptBatch, prompt_batch
from openrft.training.rollout import GroupRollout
from openrft.training.scoring import GroupTokens, enable_layer_checkpointing, group_logprobs


@dataclass
class MicroBatch:
    """Some completions of one group, with their per-token tensors (all (n, C))."""

    tokens: GroupTokens
    sampling_logp: torch.Tensor
    advantages: torch.Tensor  # (n,)
    group: int  # index of its group in the step
    old_logp: torch.Tensor | None = None
    ref_logp: torch.Tensor | None = None
    is_weights: torch.Tensor | None = None


def group_tensors(group: GroupRollout) -> tuple[GroupTokens, torch.Tensor]:
    """Right-padded (G, C) completion ids, mask and sampling log-probs of one rollout group.

    The mask is 1 at the tokens the model sampled: in a multi-turn rollout the tool results
    and template tokens between its turns are fed to the model but never trained on."""
    width = max(1, max(len(c.token_ids) for c in group.completions))
    n = len(group.completions)
    ids = torch.zeros(n, width, dtype=torch.long)
    mask = torch.zeros(n, width, dtype=torch.float32)
    logp = torch.zeros(n, width, dtype=torch.float32)
    for i, c in enumerate(group.completions):
        length = len(c.token_ids)
        ids[i, :length] = torch.tensor(c.token_ids, dtype=torch.long)
        mask[i, :length] = torch.tensor(group.loss_mask(i), dtype=torch.float32)
        logp[i, :length] = torch.tensor(c.logprobs[:length], dtype=torch.float32)
    prompt = torch.tensor(group.prompt_ids, dtype=torch.long)
    return GroupTokens(prompt, ids, mask), logp


def split_micro_batches(
    groups: Sequence[GroupRollout], advantages: torch.Tensor, token_budget: int, skip_zero: bool
) -> list[MicroBatch]:
    """Cut each group into micro-batches of at most ``token_budget`` tokens (prompt counted
    once per micro-batch; at least one completion each). With ``skip_zero``, groups whose
    advantages are all zero are dropped: their loss and gradient are exactly zero."""
    batches = []
    start = 0
    for index, group in enumerate(groups):
        tokens, sampling = group_tensors(group)
        n, width = tokens.completion_ids.shape
        adv = advantages[start : start + n]
        start += n
        if skip_zero and bool((adv == 0).all()):
            continue
        per_batch = max(1, (token_budget - tokens.prompt_ids.numel()) // width)
        for lo in range(0, n, per_batch):
            rows = slice(lo, lo + per_batch)
            batches.append(MicroBatch(tokens.rows(rows), sampling[rows], adv[rows], index))
    return batches


def warmup_linear_decay(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """LR multiplier: linear 0→1 over ``warmup_steps``, then linear 1→0 at ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        remaining = total_steps - step
        return max(0.0, remaining / max(1, total_steps - warmup_steps))

    return factor


class Optimization:
    """AdamW (no weight decay) over the trainable parameters, the warm-up/linear-decay LR
    schedule over ``updates`` optimizer steps, and gradient clipping."""

    def __init__(self, policy: Policy, config: TrainConfig, updates: int):
        self.policy = policy
        self.params = policy.trainable_parameters()
        self.max_grad_norm = config.max_grad_norm
        self.optimizer = torch.optim.AdamW(self.params, lr=config.learning_rate, weight_decay=0.0)
        updates = max(1, updates)
        warmup = math.floor(config.warmup_ratio * updates)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, warmup_linear_decay(updates, warmup)
        )
        self.last_lr = config.learning_rate

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def step(self) -> float:
        """Clip the accumulated gradients, update, advance the schedule; the gradient norm."""
        limit = self.max_grad_norm or math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, limit))
        self.last_lr = float(self.scheduler.get_last_lr()[0])  # the LR this update used
        self.optimizer.step()
        self.policy.version += 1
        self.scheduler.step()
        return grad_norm

    def state_dict(self) -> dict[str, object]:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])  # type: ignore[arg-type]
        self.scheduler.load_state_dict(state["scheduler"])  # type: ignore[arg-type]


class Learner:
    """Owns the optimizer and LR schedule; ``step`` applies GRPO to one generation batch."""

    def __init__(
        self,
        policy: Policy,
        config: TrainConfig,
        total_steps: int,
        parallel: DataParallel | None = None,
    ):
        """``parallel``: this process's rank when several train the same batch together."""
        self.policy = policy
        self.config = config
        self.parallel = parallel
        if config.activation_checkpointing:
            enable_layer_checkpointing(policy.causal_lm)
        self.optimization = Optimization(policy, config, total_steps * config.num_iterations)

    @property
    def last_lr(self) -> float:
        return self.optimization.last_lr

    def state_dict(self) -> dict[str, object]:
        return self.optimization.state_dict()

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.optimization.load_state_dict(state)

    def step(self, groups: Sequence[GroupRollout], advantages: torch.Tensor) -> dict[str, float]:
        """``num_iterations`` optimizer steps on the batch; returns ``actor_*`` metrics.

        advantages: (B*G,) in the order of ``groups``' completions.
        """
        cfg = self.config
        n_seq = sum(len(g.completions) for g in groups)
        n_tok = sum(g.completion_tokens for g in groups)
        norm = LossNorm(n_seq, n_tok, n_tok, cfg.max_completion_tokens)
        batches = split_micro_batches(
            groups, advantages, cfg.micro_batch_tokens, skip_zero=cfg.beta == 0.0
        )
        if self.parallel is not None:
            batches = self.parallel.shard(batches)
        sums: dict[str, float] = defaultdict(float)
        started = time.perf_counter()
        if cfg.beta != 0.0:
            self._reference_logprobs(batches)
        sums["ref_s"] = time.perf_counter() - started
        for _ in range(cfg.num_iterations):
            self.optimization.zero_grad()
            started = time.perf_counter()
            prompts = self._prompts(batches, self.policy.causal_lm)
            for batch in batches:
                fit_threads()
                self._backward(batch, norm, sums, prompts)
            if prompts is not None:
                prompts.backward()
            if self.parallel is not None:
                self.parallel.sum_gradients(self.policy.trainable_parameters())
            sums["forward_backward_s"] += time.perf_counter() - started
            started = time.perf_counter()
            sums["grad_norm"] += self.optimization.step()
            sums["optimizer_s"] += time.perf_counter() - started
        if self.parallel is not None:
            sums = defaultdict(float, self.parallel.combine_metrics(sums))
        # Entropy estimate -E[log p] from the sampled tokens, used when no token was trained on.
        sums["sampled_nll_sum"] = -sum(sum(c.logprobs) for g in groups for c in g.completions)
        return self._metrics(sums, max(n_tok, 1))

    @staticmethod
    def _prompts(batches: Sequence[MicroBatch], causal_lm: Any) -> PromptBatch | None:
        """The prompts of ``batches``' groups in one forward of ``causal_lm``
        (``training.prompt_batch``)."""
        prompts = [(batch.group, batch.tokens.prompt_ids) for batch in batches]
        return prompt_batch(causal_lm, prompts)

    def _reference_logprobs(self, batches: Sequence[MicroBatch]) -> None:
        with torch.no_grad(), self.policy.reference() as ref_lm:
            prompts = self._prompts(batches, ref_lm)
            for batch in batches:
                batch.ref_logp, _ = group_logprobs(
                    ref_lm,
                    batch.tokens,
                    temperature=self.config.temperature,
                    prompt=prompts.states(batch.group) if prompts is not None else None,
                )

    def _backward(
        self,
        batch: MicroBatch,
        norm: LossNorm,
        sums: dict[str, float],
        prompts: PromptBatch | None,
    ) -> None:
        cfg = self.config
        logp, entropy = group_logprobs(
            self.policy.causal_lm,
            batch.tokens,
            temperature=cfg.temperature,
            checkpoint_layers=cfg.activation_checkpointing,
            prompt=prompts.states(batch.group) if prompts is not None else None,
        )
        mask = batch.tokens.mask
        if batch.old_logp is None:  # first pass: the sampling parameters are still current
            batch.old_logp = logp.detach()
            batch.is_weights, gap = truncated_importance_weights(
                batch.old_logp, batch.sampling_logp, mask, cfg.is_cap
            )
            sums["logp_gap_sum"] += gap["logp_gap_sum"]
            sums["logp_gap_max"] = max(sums["logp_gap_max"], gap["logp_gap_max"])
            sums["is_ratio_sum"] += gap["is_ratio_sum"]
            sums["first_pass_tokens"] += float(mask.sum())
        inputs = PolicyLossInputs(
            logp, batch.old_logp, batch.advantages, mask, batch.ref_logp, batch.is_weights
        )
        loss, metrics = policy_loss(
            inputs,
            norm,
            loss_type=cfg.loss_type,
            epsilon_low=cfg.epsilon,
            epsilon_high=cfg.epsilon_high,
            beta=cfg.beta,
        )
        loss.backward()
        for key, value in metrics.items():
            sums[key] += value
        sums["entropy_sum"] += float((entropy * mask).sum())

    def _metrics(self, sums: dict[str, float], n_tok: int) -> dict[str, float]:
        iters = self.config.num_iterations
        trained = max(sums["tokens"], 1.0)  # token-passes actually trained on, all iterations
        first = max(sums["first_pass_tokens"], 1.0)
        if sums["tokens"] > 0:
            entropy = sums["entropy_sum"] / trained
        else:
            entropy = sums["sampled_nll_sum"] / n_tok
        return {
            "actor_pg_loss": sums["pg_loss"] / iters,
            "actor_entropy": entropy,
            "actor_grad_norm": sums["grad_norm"] / iters,
            "actor_kl": sums["kl_sum"] / trained,
            "actor_pg_clipfrac": sums["clip_region_sum"] / trained,
            "actor_lr": self.last_lr,
            "clip_ratio/low_mean": sums["clip_low_sum"] / trained,
            "clip_ratio/high_mean": sums["clip_high_sum"] / trained,
            "sampling/logp_gap_mean": sums["logp_gap_sum"] / first,
            "sampling/logp_gap_max": sums["logp_gap_max"],
            "sampling/is_ratio_mean": sums["is_ratio_sum"] / first,
            "trained_fraction": sums["first_pass_tokens"] / n_tok,
            "timing/ref_logprobs_s": sums["ref_s"],
            "timing/forward_backward_s": sums["forward_backward_s"],
            "timing/optimizer_s": sums["optimizer_s"],
        }
