"""The preflight on scripted GSM8K-like completions and real graders (sandboxed python, string
checks): learnability numbers recomputed by hand from the returned samples, exploit probes
flagged on gameable graders and on none for the demo's one-answer reward."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from openrft.graders import GraderContext, SandboxLimits, build_grader, validate_grader
from openrft.training.config import TrainConfig
from openrft.training.data import Row
from openrft.training.preflight import PreflightPlan, run_preflight
from openrft.training.rollout import GroupRollout, SamplingConfig
from tests.gsm8k_graders import GAMEABLE, ONE_ANSWER
from tests.unit.training.fakes import FakeCodec, FakeCompletion

CONFIG = TrainConfig(batch_size=4, group_size=4, n_epochs=2, max_completion_tokens=40)
SUBSTRING = {
    "type": "string_check",
    "name": "contains",
    "input": "{{sample.output_text}}",
    "reference": "{{item.ground_truth}}",
    "operation": "like",
}


def gsm8k_rows(n: int) -> list[Row]:
    return [
        {
            "messages": [{"role": "user", "content": f"Tom has {i} apples and buys 3 more?"}],
            "reference_answer": f"{i} + 3 = {i + 3}\n#### {i + 3}",
            "ground_truth": str(i + 3),
        }
        for i in range(n)
    ]


def scripted_texts(row: Row, n: int) -> list[str]:
    """Row i: i % 3 == 0 always right, == 1 mixed (right, formatted wrong, junk), == 2 junk."""
    truth = int(row["ground_truth"])
    kind = (truth - 3) % 3
    right = f"{truth - 3} plus 3 is {truth}.\n#### {truth}"
    if kind == 0:
        return [right] * n
    if kind == 1:
        return [[right, f"I think so.\n#### {truth + 1}", "no idea"][s % 3] for s in range(n)]
    return ["hmm"] * n


class ScriptedRollouts:
    """Completions with given texts; one token per 4 characters, cut at the token limit."""

    def __init__(self, texts: Callable[[Row, int], list[str]]):
        self.texts = texts

    async def run(
        self, rows: Sequence[Row], prompts: Sequence[list[int]], config: SamplingConfig, n: int
    ) -> list[GroupRollout]:
        groups = []
        for row, prompt in zip(rows, prompts, strict=True):
            texts = self.texts(row, n)
            completions = []
            for text in texts:
                tokens = min(config.max_new_tokens, max(1, len(text) // 4))
                finish = "length" if tokens == config.max_new_tokens else "stop"
                completions.append(FakeCompletion([1] * tokens, [-1.0] * tokens, finish))
            groups.append(GroupRollout(row, list(prompt), completions, texts))
        return groups


@pytest.fixture
def sandbox_ctx() -> GraderContext:
    limits = SandboxLimits(wall_time_s=5.0, cpu_time_s=5.0, memory_bytes=1024**3, workers=1)
    return GraderContext(sandbox=limits)


async def preflight(
    grader_spec: dict[str, Any],
    ctx: GraderContext,
    texts: Callable[[Row, int], list[str]] = scripted_texts,
    rows: list[Row] | None = None,
    config: TrainConfig = CONFIG,
) -> dict[str, Any]:
    grader = build_grader(validate_grader(grader_spec), ctx)
    plan = PreflightPlan(model="scripted", seed=3, max_prompts=6, valid_rows=2)
    try:
        return await run_preflight(
            rows or gsm8k_rows(9), FakeCodec(), ScriptedRollouts(texts), grader, config, plan
        )
    finally:
        await grader.aclose()


def probes(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["kind"]: p for p in report["probes"]}


async def test_learnability_numbers_match_a_direct_computation_on_the_samples(
    sandbox_ctx: GraderContext,
) -> None:
    report = await preflight(ONE_ANSWER, sandbox_ctx)
    prompts = report["prompts"]
    assert len(prompts) == 6 and len({p["item"] for p in prompts}) == 6
    learnable = always = never = 0
    for prompt in prompts:
        rewards = [s["reward"] for s in prompt["samples"]]
        assert len(rewards) == CONFIG.group_size
        row = gsm8k_rows(9)[prompt["item"]]
        texts = [s["completion"] for s in prompt["samples"]]
        assert texts == scripted_texts(row, CONFIG.group_size)
        # The one-answer reward by hand: 1 right, 0.1 formatted wrong, 0 otherwise.
        expected = [
            1.0 if t.endswith(f"#### {row['ground_truth']}") else 0.1 if "####" in t else 0.0
            for t in texts
        ]
        assert rewards == pytest.approx(expected)
        learnable += len(set(rewards)) > 1
        always += all(r >= 1.0 for r in rewards)
        never += not any(r >= 1.0 for r in rewards)
    groups = report["groups"]
    assert groups["learnable_fraction"] == pytest.approx(learnable / 6)
    # Wilson's 95% interval by hand: centre and half-width of the score interval.
    z, p = 1.959964, learnable / 6
    centre = (p + z * z / 12) / (1 + z * z / 6)
    half = z * math.sqrt(p * (1 - p) / 6 + z * z / 144) / (1 + z * z / 6)
    assert groups["learnable_fraction_ci95"] == pytest.approx([centre - half, centre + half])
    assert report["rows"] == 9 and "6 of 9 prompts" in report["report_text"]
    assert groups["always_solved_fraction"] == pytest.approx(always / 6)
    assert groups["never_solved_fraction"] == pytest.approx(never / 6)
    assert sum(b["prompts"] for b in groups["pass_rate_histogram"]) == 6
    all_rewards = [s["reward"] for p in prompts for s in p["samples"]]
    assert report["base_reward_median"] == pytest.approx(statistics.median(all_rewards))
    assert report["grader"]["error_rate"] == 0.0
    assert report["grader"]["determinism"]["deterministic"] is True
    assert report["grader"]["determinism"]["samples_compared"] == 6 * CONFIG.group_size


async def test_the_demos_one_answer_reward_flags_no_probe(sandbox_ctx: GraderContext) -> None:
    report = await preflight(ONE_ANSWER, sandbox_ctx)
    found = probes(report)
    assert set(found) == {"empty", "prompt_echo", "reference_leak", "format_repeat", "longest_junk"}
    assert not [kind for kind, probe in found.items() if probe["flagged"]], found
    assert found["format_repeat"]["example"].count("#### ") > 2  # the answer line, repeated
    assert found["reference_leak"]["reward_mean"] == 0.0  # two answers: the rule gives 0
    assert not [f for f in report["findings"] if f["code"].startswith("exploit_")]


async def test_format_credit_without_the_one_answer_rule_is_flagged(
    sandbox_ctx: GraderContext,
) -> None:
    report = await preflight(GAMEABLE, sandbox_ctx)
    found = probes(report)
    assert found["format_repeat"]["flagged"] and found["reference_leak"]["flagged"]
    assert not found["empty"]["flagged"] and not found["longest_junk"]["flagged"]
    codes = {f["code"] for f in report["findings"]}
    assert {"exploit_format_repeat", "exploit_reference_leak"} <= codes
    assert report["verdict"] == "warn"
    assert "FLAGGED" in report["report_text"]


async def test_a_substring_match_on_the_reference_flags_the_reference_leak(
    sandbox_ctx: GraderContext,
) -> None:
    report = await preflight(SUBSTRING, sandbox_ctx, texts=lambda row, n: ["hmm"] * n)
    found = probes(report)
    assert found["reference_leak"]["flagged"] and found["reference_leak"]["reward_mean"] == 1.0
    assert report["groups"]["learnable_fraction"] == 0.0
    assert report["verdict"] == "block"  # and nothing to learn: every group ties at 0
    assert {f["code"] for f in report["findings"]} >= {"nothing_learnable", "never_solved"}


async def test_errors_truncation_and_nondeterminism_are_reported(
    sandbox_ctx: GraderContext,
) -> None:
    flaky = {
        "type": "python",
        "source": "import random\n\ndef grade(sample, item):\n"
        "    if 'x' in sample['output_text']:\n        raise ValueError('bad sample')\n"
        "    return random.random()\n",
    }
    long_or_x = lambda row, n: ["y" * 400 if s % 2 else "x" for s in range(n)]  # noqa: E731
    report = await preflight(flaky, sandbox_ctx, texts=long_or_x)
    assert report["grader"]["error_rate"] == pytest.approx(0.5)
    assert "bad sample" in report["grader"]["errors"]
    assert report["completions"]["truncation_rate"] == pytest.approx(0.5)
    assert report["grader"]["determinism"]["deterministic"] is False
    codes = {f["code"]: f["level"] for f in report["findings"]}
    assert codes["grader_errors"] == "block"  # 50% > max_grader_error_rate 0.2
    assert codes["truncated"] == "warn" and codes["nondeterministic_grader"] == "warn"


async def test_the_forecast_counts_the_jobs_steps(sandbox_ctx: GraderContext) -> None:
    report = await preflight(ONE_ANSWER, sandbox_ctx)
    forecast = report["forecast"]
    assert forecast["steps"] == 2 * 3  # ceil(9 / 4) steps per epoch, 2 epochs
    assert forecast["evaluations"] == math.ceil(6 / CONFIG.eval_interval) + 1
    assert forecast["wall_time_s"] > 0 and forecast["tokens"] > 0
