"""The preflight: sample and grade the base model on a seeded subset before any training.

    encode rows → seeded subset (at most ``max_prompts``) → ``group_size`` completions each →
    grade (with the training retries) → grade again (determinism) → exploit probes →
    statistics, forecast, findings → the report (a JSON-ready dict)

The job worker runs it on the policy it is about to train (``preflight: warn|block``); the API's
``POST /v1/fine_tuning/alpha/preflight`` runs it on a freshly loaded base model.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from openrft.domain import preflight as stats
from openrft.domain import preflight_verdict as verdicts
from openrft.domain.probes import build_probes
from openrft.graders import GradingRequest
from openrft.training.config import TrainConfig
from openrft.training.data import Row, steps_per_epoch
from openrft.training.grading import AsyncGrader, GradedBatch, grade_groups, grade_requests
from openrft.training.rollout import Codec, GroupRollout, Rollouts, SamplingConfig

PROMPTS_PER_CALL = 16  # bounds one generation batch (prompts x group_size rows)
PROBE_ITEMS = 8  # items whose probes are graded
# The policy update of a step costs about a third of its generation on the reference step
# (README, `make bench`: 4.9 s forward/backward beside 14.3 s of rollouts); the forecast
# scales the measured generation time by this.
UPDATE_OVER_GENERATION = 0.35


@dataclass(frozen=True)
class PreflightPlan:
    """What to sample: ``max_prompts`` rows (seeded by ``seed``; None: as many as the token
    budget allows, ``stats.sample_size``), a sample passes at ``pass_threshold``; ``judge``: the
    grader calls a model; ``valid_rows``: for the forecast."""

    model: str
    seed: int
    max_prompts: int | None = None
    pass_threshold: float = 1.0
    judge: bool = False
    valid_rows: int = 0


class Lap:
    """Writes the seconds since the previous lap (or creation) under each key it is called with."""

    def __init__(self, timing: dict[str, float]):
        self.timing = timing
        self.last = time.monotonic()

    def __call__(self, key: str) -> None:
        now = time.monotonic()
        self.timing[key] = now - self.last
        self.last = now


def seeded_subset(n: int, size: int, seed: int) -> list[int]:
    """``min(size, n)`` distinct indices of ``range(n)`` drawn with ``seed``, sorted."""
    return sorted(random.Random(seed).sample(range(n), min(size, n)))


async def sample_groups(
    rollouts: Rollouts, items: Sequence[tuple[Row, list[int]]], sampling: SamplingConfig, n: int
) -> list[GroupRollout]:
    groups: list[GroupRollout] = []
    for start in range(0, len(items), PROMPTS_PER_CALL):
        chunk = items[start : start + PROMPTS_PER_CALL]
        groups += await rollouts.run([r for r, _ in chunk], [p for _, p in chunk], sampling, n)
    return groups


def outcomes(
    groups: Sequence[GroupRollout], indices: Sequence[int], graded: GradedBatch
) -> list[stats.PromptOutcome]:
    rewards = graded.rewards.tolist()
    ok = graded.graded.tolist()
    result, start = [], 0
    for index, group in zip(indices, groups, strict=True):
        n = len(group.completions)
        result.append(
            stats.PromptOutcome(
                item=index,
                rewards=[
                    r if g else None
                    for r, g in zip(rewards[start : start + n], ok[start : start + n], strict=True)
                ],
                lengths=[sum(group.loss_mask(i)) for i in range(n)],
                truncated=[c.finish_reason == "length" for c in group.completions],
            )
        )
        start += n
    return result


def probe_requests(
    groups: Sequence[GroupRollout], graded: GradedBatch, config: TrainConfig, judge: bool
) -> list[GradingRequest]:
    """Every probe of the first ``PROBE_ITEMS`` items; ids ``probe-{kind}-{item}``."""
    chars = sum(len(t) for g in groups for t in g.texts)
    tokens = sum(g.completion_tokens for g in groups)
    tokens_per_char = tokens / chars if chars else 0.3
    rewards = graded.rewards.tolist()
    requests: list[GradingRequest] = []
    for i, group in enumerate(groups[:PROBE_ITEMS]):
        n = len(group.completions)
        scored = [(rewards[i * n + s], s) for s in range(n) if graded.graded[i * n + s]]
        best = group.texts[max(scored)[1]] if scored else group.texts[0]
        other = groups[(i + 1) % len(groups)].row if len(groups) > 1 else None
        texts = build_probes(
            group.row, other, best, config.max_completion_tokens, tokens_per_char, judge=judge
        )
        messages = list(group.row["messages"])
        for kind, text in texts.items():
            requests.append(GradingRequest(f"probe-{kind}-{i}", messages, text, group.row))
    return requests


async def probe_results(
    grader: AsyncGrader,
    groups: Sequence[GroupRollout],
    graded: GradedBatch,
    config: TrainConfig,
    judge: bool,
) -> list[dict[str, Any]]:
    """Grade every probe (no retries); per kind: mean reward over the graded, the flag."""
    requests = probe_requests(groups, graded, config, judge)
    results, errors = await grade_requests(grader, requests)
    by_kind: dict[str, list[float | None]] = {}
    examples: dict[str, str] = {}
    for request, result, error in zip(requests, results, errors, strict=True):
        kind = request.id.split("-")[1]
        by_kind.setdefault(kind, []).append(None if error else float(result.reward))
        examples.setdefault(kind, request.output_text)
    probes = []
    for kind, values in by_kind.items():
        scored = [v for v in values if v is not None]
        mean = statistics.fmean(scored) if scored else None
        probes.append(
            {
                "kind": kind,
                "reward_mean": mean,
                "items": len(values),
                "errors": len(values) - len(scored),
                "flagged": stats.probe_flagged(mean, graded.graded_rewards),
                "example": examples[kind],
            }
        )
    return probes


def forecast(
    config: TrainConfig,
    n_train: int,
    n_valid: int,
    groups: Sequence[GroupRollout],
    timing: dict[str, float],
) -> dict[str, Any]:
    """Steps, tokens and wall time of the job on this server, from the measured throughput."""
    samples = sum(len(g.completions) for g in groups)
    completion = sum(g.completion_tokens for g in groups) / max(samples, 1)
    prompt = statistics.fmean(len(g.prompt_ids) for g in groups) if groups else 0.0
    total = steps_per_epoch(n_train, config.batch_size) * config.n_epochs
    steps = min(total, config.max_steps or total)
    per_step = config.batch_size * config.group_size
    tokens_per_s = samples * completion / max(timing["generate_s"], 1e-9)
    grade_s = timing["grade_s"] / max(samples, 1)
    generate_step = per_step * completion / tokens_per_s
    step_s = generate_step * (1 + UPDATE_OVER_GENERATION) + per_step * grade_s
    evals = math.ceil(steps / config.eval_interval) + 1  # the baseline too
    eval_samples = n_valid * config.eval_samples
    eval_s = eval_samples * (completion / tokens_per_s + grade_s)
    return {
        "steps": steps,
        "tokens": int(steps * per_step * (prompt + completion)),
        "rollout_tokens_per_s": tokens_per_s,
        "step_time_s": step_s,
        "evaluations": evals,
        "wall_time_s": steps * step_s + evals * eval_s,
    }


async def run_preflight(
    rows: Sequence[Row],
    codec: Codec,
    rollouts: Rollouts,
    grader: AsyncGrader,
    config: TrainConfig,
    plan: PreflightPlan,
) -> dict[str, Any]:
    """The preflight report of ``rows`` (the training file) under ``config``."""
    timing: dict[str, float] = {}
    lap = Lap(timing)
    kept = [
        (i, row, ids)
        for i, row in enumerate(rows)
        if len(ids := codec.encode_prompt(row["messages"], tools=row.get("tools")))
        <= config.max_prompt_tokens
    ]
    if not kept:
        raise ValueError(
            f"No training row has a prompt within max_prompt_tokens={config.max_prompt_tokens}."
        )
    size = stats.sample_size(plan.max_prompts, config.group_size, config.max_completion_tokens)
    chosen = [kept[i] for i in seeded_subset(len(kept), size, plan.seed)]
    sampling = SamplingConfig(
        config.max_completion_tokens, config.temperature, config.top_p, plan.seed
    )
    lap("encode_s")
    groups = await sample_groups(
        rollouts, [(row, ids) for _, row, ids in chosen], sampling, config.group_size
    )
    lap("generate_s")
    graded = await grade_groups(grader, groups, tag="preflight")
    lap("grade_s")
    again = await grade_groups(grader, groups, tag="preflight-again")
    lap("regrade_s")
    indices = [i for i, _, _ in chosen]
    prompts = outcomes(groups, indices, graded)
    second = [r for o in outcomes(groups, indices, again) for r in o.rewards]
    health = {
        "seconds_per_sample": timing["grade_s"] / max(graded.rewards.numel(), 1),
        "grading_s": timing["grade_s"],
        "error_rate": graded.error_rate,
        "retried_samples": graded.retried,
        "errors": graded.quoted_errors(),
        "determinism": stats.determinism([r for o in prompts for r in o.rewards], second),
    }
    probes = await probe_results(grader, groups, graded, config, plan.judge)
    lap("probes_s")
    timing["total_s"] = sum(timing.values())
    return assemble(config, plan, (len(kept), groups, prompts), health, probes, timing, graded)


def assemble(
    config: TrainConfig,
    plan: PreflightPlan,
    sampled: tuple[int, list[GroupRollout], list[stats.PromptOutcome]],
    health: dict[str, Any],
    probes: list[dict[str, Any]],
    timing: dict[str, float],
    graded: GradedBatch,
) -> dict[str, Any]:
    """The report: numbers, samples, findings, verdict and the readable text."""
    n_train, groups, prompts = sampled
    groups_stats = stats.group_statistics(prompts, plan.pass_threshold)
    completions = stats.completion_statistics(prompts, config.max_completion_tokens)
    base = graded.graded_rewards
    median = statistics.median(base) if base else None
    findings = [
        *verdicts.grader_findings(health, config.max_grader_error_rate),
        *verdicts.learnability_findings(groups_stats, completions),
        *verdicts.probe_findings(probes, median),
    ]
    report = {
        "object": "fine_tuning.preflight",
        "model": plan.model,
        "seed": plan.seed,
        "rows": n_train,
        "group_size": config.group_size,
        "verdict": verdicts.verdict(findings),
        "findings": findings,
        "groups": groups_stats,
        "completions": completions,
        "grader": health,
        "probes": probes,
        "base_reward_median": median,
        "forecast": forecast(config, n_train, plan.valid_rows, groups, timing),
        "timing": timing,
        "prompts": [prompt_record(o, g) for o, g in zip(prompts, groups, strict=True)],
    }
    report["report_text"] = verdicts.report_text(report)
    return report


def prompt_record(outcome: stats.PromptOutcome, group: GroupRollout) -> dict[str, Any]:
    """One sampled prompt with its completions, as the report lists it."""
    return {
        "item": outcome.item,
        "messages": list(group.row["messages"]),
        "learnable": outcome.learnable,
        "samples": [
            {
                "completion": text,
                "reward": reward,
                "completion_tokens": length,
                "finish_reason": completion.finish_reason,
            }
            for text, reward, length, completion in zip(
                group.texts, outcome.rewards, outcome.lengths, group.completions, strict=True
            )
        ],
    }
