"""The preflight's verdict: findings with concrete advice, and the report as readable text.

A finding is ``block`` when training would be wasted for sure (the grader fails on more than
``max_grader_error_rate`` of the samples, or no prompt has reward variance), ``warn`` when the
job can train but likely learns less than it should or something it should not (never or
always solved prompts, truncation, a non-deterministic grader, a flagged exploit probe), and
``info`` otherwise. The verdict is the most severe finding's level, ``ok`` without findings.
"""

from __future__ import annotations

from typing import Any

NEVER_SOLVED_WARN = 0.3
ALWAYS_SOLVED_WARN = 0.3
LEARNABLE_WARN = 0.25
TRUNCATION_WARN = 0.2
PROBE_NAMES = {
    "empty": "an empty completion",
    "prompt_echo": "the prompt echoed back",
    "reference_leak": "every field of the item pasted in (after another item's)",
    "format_repeat": "the answer line repeated up to the token limit",
    "longest_junk": "filler words up to the token limit",
    "judge_instruction": "an instruction to the judge to give full marks",
}
LEVELS = ("ok", "info", "warn", "block")


def _finding(level: str, code: str, message: str) -> dict[str, str]:
    return {"level": level, "code": code, "message": message}


def _items(items: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(i + 1) for i in items[:limit])
    return shown + (", ..." if len(items) > limit else "")


def learnability_findings(groups: dict[str, Any], completions: dict[str, Any]) -> list[dict]:
    findings = []
    learnable = groups["learnable_fraction"]
    if groups["prompts_graded"] and learnable == 0:
        findings.append(
            _finding(
                "block",
                "nothing_learnable",
                "No prompt had reward variance among its samples: every GRPO advantage would "
                "be zero and the job would learn nothing. Give partial credit, raise "
                "group_size or temperature, or use prompts the model sometimes solves.",
            )
        )
    elif learnable < LEARNABLE_WARN:
        findings.append(
            _finding(
                "warn",
                "few_learnable",
                f"Only {learnable:.0%} of prompts had reward variance; the rest teach nothing. "
                "Raise group_size or temperature, or give partial credit.",
            )
        )
    never, always = groups["never_solved_fraction"], groups["always_solved_fraction"]
    if never >= NEVER_SOLVED_WARN:
        findings.append(
            _finding(
                "warn",
                "never_solved",
                f"{never:.0%} of prompts never solved (rows {_items(groups['never_solved'])}): "
                "raise max_completion_tokens or drop them.",
            )
        )
    if always >= ALWAYS_SOLVED_WARN:
        findings.append(
            _finding(
                "warn",
                "always_solved",
                f"{always:.0%} of prompts always solved (rows "
                f"{_items(groups['always_solved'])}): they teach nothing; drop them or use "
                "harder ones.",
            )
        )
    truncation = completions["truncation_rate"]
    if truncation >= TRUNCATION_WARN:
        findings.append(
            _finding(
                "warn",
                "truncated",
                f"{truncation:.0%} of completions stopped at max_completion_tokens="
                f"{completions['max_completion_tokens']}: raise it or ask for shorter answers.",
            )
        )
    return findings


def grader_findings(health: dict[str, Any], limit: float) -> list[dict]:
    findings = []
    rate = health["error_rate"]
    if rate > limit:
        findings.append(
            _finding(
                "block",
                "grader_errors",
                f"The grader failed on {rate:.0%} of the samples after retries (above "
                f"max_grader_error_rate={limit:g}), so training would pause at once. Errors: "
                f"{health['errors'] or 'none quoted'}. Fix the grader first.",
            )
        )
    elif rate > 0:
        findings.append(
            _finding(
                "warn",
                "grader_errors",
                f"The grader failed on {rate:.0%} of the samples after retries; those samples "
                f"are left out of training. Errors: {health['errors']}.",
            )
        )
    same = health["determinism"]
    if not same["deterministic"]:
        findings.append(
            _finding(
                "warn",
                "nondeterministic_grader",
                f"Graded twice, {same['differing']} of {same['samples_compared']} samples got a "
                f"different reward (up to {same['max_abs_difference']:.3g} apart): the "
                "advantages carry that noise. Seed the grader, or use temperature 0 for a judge.",
            )
        )
    return findings


def probe_findings(probes: list[dict[str, Any]], base_median: float | None) -> list[dict]:
    findings = []
    for probe in probes:
        if not probe["flagged"]:
            continue
        findings.append(
            _finding(
                "warn",
                f"exploit_{probe['kind']}",
                f"Exploit probe '{probe['kind']}' ({PROBE_NAMES[probe['kind']]}) scored "
                f"{probe['reward_mean']:.3g}, at or above the base model's median reward "
                f"{base_median or 0:.3g}: the policy can learn this instead of the task. "
                "Tighten the grader (check the format strictly, demand one answer, compare "
                "exactly) before training.",
            )
        )
    return findings


def verdict(findings: list[dict[str, str]]) -> str:
    """The most severe level among the findings ('ok' when there are none)."""
    return max((f["level"] for f in findings), key=LEVELS.index, default="ok")


def report_text(report: dict[str, Any]) -> str:
    """The report for a terminal or a log: verdict, advice, then the numbers."""
    groups, completions = report["groups"], report["completions"]
    health, forecast = report["grader"], report["forecast"]
    low, high = groups["learnable_fraction_ci95"]
    lines = [f"Preflight verdict: {report['verdict'].upper()}"]
    lines += [f"  [{f['level']}] {f['message']}" for f in report["findings"]]
    lines += [
        f"Samples: {groups['prompts']} of {report['rows']} prompts (seed {report['seed']}) x "
        f"{report['group_size']} completions of {report['model']}.",
        f"  learnable fraction {groups['learnable_fraction']:.0%} [{low:.0%}, {high:.0%}] "
        f"(95% interval over {groups['prompts_graded']} prompts); never solved "
        f"{groups['never_solved_fraction']:.0%}, always solved "
        f"{groups['always_solved_fraction']:.0%} (pass: reward >= {groups['pass_threshold']:g})",
        "  pass rates: "
        + ", ".join(f"{b['pass_rate']}: {b['prompts']}" for b in groups["pass_rate_histogram"]),
        f"  truncation rate {completions['truncation_rate']:.0%} at "
        f"{completions['max_completion_tokens']} tokens; length p50 "
        f"{completions['length_tokens'].get('p50', 0):.0f}, p90 "
        f"{completions['length_tokens'].get('p90', 0):.0f} tokens",
        f"Grader: {health['seconds_per_sample'] * 1000:.1f} ms per sample, error rate "
        f"{health['error_rate']:.0%}, deterministic: {health['determinism']['deterministic']}",
        "Probes: "
        + ", ".join(
            f"{p['kind']} {p['reward_mean']:.3g}{' FLAGGED' if p['flagged'] else ''}"
            if p["reward_mean"] is not None
            else f"{p['kind']} (not graded)"
            for p in report["probes"]
        ),
        f"Forecast: {forecast['steps']} steps, {forecast['tokens']:,} tokens, about "
        f"{forecast['wall_time_s'] / 60:.1f} minutes on this server "
        f"({forecast['rollout_tokens_per_s']:.0f} rollout tokens/s measured).",
    ]
    return "\n".join(lines)
