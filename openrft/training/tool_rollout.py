"""Multi-turn rollouts: the model calls tools, reads their results, and answers.

For a batch of rows, all trajectories advance turn by turn: sample (the first turn of each row's
``G`` samples shares the prompt's KV) → parse tool calls → run every call of the batch at once
(each with its provider's timeout; a failing tool returns its error text) → append the
``tool`` messages → sample again, until a turn has no call, ``max_turns`` turns were sampled, or
the trajectory's token budget (``max_turns`` x ``max_completion_tokens`` tokens after the prompt)
is spent.

A trajectory is one token sequence after the prompt: each turn exactly as sampled (its
end-of-turn token included), then the ids ``encode_continuation`` renders for the tool results
and the next assistant cue. Each turn is sampled on exactly that sequence, so the learner's
forward over prompt + trajectory sees what the sampler saw; ``loss_mask`` marks the sampled
tokens, the only ones trained on.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from openrft.domain.tool_format import ParsedText, parse_tool_calls
from openrft.domain.tools import ToolCall, new_call_id
from openrft.inference.tokens import encode_continuation
from openrft.training.data import Row
from openrft.training.rollout import (
    GroupDone,
    GroupRollout,
    Sampler,
    SamplingConfig,
    Trajectory,
    sampling_thread,
)


class ToolRunner(Protocol):
    """What the loop needs from ``openrft.tools.Toolbox``."""

    async def call(self, name: str, arguments: str) -> Any: ...


@dataclass
class TrajectoryCompletion:
    """A whole trajectory as one completion (``rollout.Completion``)."""

    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str


@dataclass
class _Sample:
    """One trajectory while it is built; ``messages`` start with the prompt's."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    mask: list[int] = field(default_factory=list)
    finish_reason: str = "stop"
    answer: str = ""
    calls: int = 0
    errors: int = 0
    turns: int = 0
    pending: list[ToolCall] = field(default_factory=list)
    done: bool = False


class ToolRollouts:
    """``Rollouts`` of up to ``max_turns`` assistant turns with tool calls run by ``tools``.

    Without ``tools`` (rows carry tool definitions but the job runs none) the calls of the first
    turn are parsed for the graders (``sample.output_tools``) and the trajectory ends there.
    """

    def __init__(
        self, sampler: Sampler, tokenizer: Any, tools: ToolRunner | None, *, max_turns: int
    ) -> None:
        self.sampler = sampler
        self.tokenizer = tokenizer
        self.tools = tools
        self.max_turns = max_turns if tools is not None else 1

    async def run(
        self,
        rows: Sequence[Row],
        prompts: Sequence[list[int]],
        config: SamplingConfig,
        n: int,
        on_group: GroupDone | None = None,
    ) -> list[GroupRollout]:
        """``on_group`` gets each group as soon as all its trajectories have ended, so its
        grading runs while the other groups take further turns."""
        groups = [
            [_Sample(list(row["messages"]), row.get("tools")) for _ in range(n)] for row in rows
        ]
        budget = config.max_new_tokens * self.max_turns
        # Sampling runs on another thread, so the event loop grades ended groups meanwhile.
        sample_on = sampling_thread(self.sampler)
        first = await sample_on(self.sampler.sample, list(prompts), config, n)
        for samples, completions in zip(groups, first, strict=True):
            for sample, completion in zip(samples, completions, strict=True):
                self._take_turn(sample, completion, budget)
        ended = _GroupsEnded(rows, prompts, groups, on_group)
        ended.report()
        flat = [
            (prompt, s) for prompt, samples in zip(prompts, groups, strict=True) for s in samples
        ]
        for turn in range(2, self.max_turns + 1):
            waiting = [s for _, s in flat if s.pending]
            if not waiting:
                break
            await self._run_calls(waiting, budget)
            active = [(p, s) for p, s in flat if s in waiting and not s.done]
            if not active:
                break
            turn_config = dataclasses.replace(config, seed=config.seed + 7919 * turn)
            contexts = [list(prompt) + s.token_ids for prompt, s in active]
            outputs = await sample_on(self.sampler.sample, contexts, turn_config, 1)
            for (_, sample), (completion,) in zip(active, outputs, strict=True):
                self._take_turn(sample, completion, budget)
            ended.report()
        return ended.report(last=True)

    def _take_turn(self, sample: _Sample, completion: Any, budget: int) -> None:
        """Append one sampled turn; decide whether the trajectory goes on (pending calls)."""
        room = budget - len(sample.token_ids)
        ids, logprobs = list(completion.token_ids[:room]), list(completion.logprobs[:room])
        cut = completion.finish_reason == "length" or len(completion.token_ids) > room
        sample.token_ids += ids
        sample.logprobs += logprobs
        sample.mask += [1] * len(ids)
        sample.turns += 1
        text = str(self.tokenizer.decode(ids, skip_special_tokens=True))
        parsed = parse_tool_calls(text) if sample.tools else ParsedText(text)
        calls = [ToolCall(new_call_id(), c.name, c.arguments) for c in parsed.calls]
        message: dict[str, Any] = {"role": "assistant", "content": parsed.content}
        if calls:
            message["tool_calls"] = [c.openai() for c in calls]
        sample.messages.append(message)
        sample.answer = parsed.content
        if cut:
            sample.finish_reason = "length"
        go_on = calls and not cut and self.tools is not None and sample.turns < self.max_turns
        sample.pending = calls if go_on else []
        sample.done = not go_on

    async def _run_calls(self, samples: Sequence[_Sample], budget: int) -> None:
        """Run every pending call (all at once), append the results and the continuation ids."""
        assert self.tools is not None
        jobs = [(s, call) for s in samples for call in s.pending]
        results = await asyncio.gather(*(self.tools.call(c.name, c.arguments) for _, c in jobs))
        for (sample, call), result in zip(jobs, results, strict=True):
            sample.messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": result.content}
            )
            sample.calls += 1
            sample.errors += bool(result.error)
        for sample in samples:
            turn_end = len(sample.messages) - len(sample.pending)
            sample.pending = []
            ids = encode_continuation(self.tokenizer, sample.messages, turn_end, tools=sample.tools)
            if len(sample.token_ids) + len(ids) >= budget:
                sample.finish_reason, sample.done = "length", True  # no room for another turn
                continue
            sample.token_ids += ids
            sample.logprobs += [0.0] * len(ids)
            sample.mask += [0] * len(ids)


class _GroupsEnded:
    """Builds each group's ``GroupRollout`` once all its trajectories are done, and hands it to
    ``on_group`` then."""

    def __init__(
        self,
        rows: Sequence[Row],
        prompts: Sequence[list[int]],
        groups: Sequence[Sequence[_Sample]],
        on_group: GroupDone | None,
    ) -> None:
        self.inputs = list(zip(rows, prompts, groups, strict=True))
        self.on_group = on_group
        self.built: dict[int, GroupRollout] = {}

    def report(self, last: bool = False) -> list[GroupRollout]:
        """Report the groups that ended since the last call (``last``: every group left);
        returns all groups built so far, in order."""
        for index, (row, prompt, samples) in enumerate(self.inputs):
            if index in self.built or not (last or all(s.done for s in samples)):
                continue
            self.built[index] = _group(row, prompt, samples)
            if self.on_group is not None:
                self.on_group(index, self.built[index])
        return [self.built[i] for i in sorted(self.built)]


def _group(row: Row, prompt: list[int], samples: Sequence[_Sample]) -> GroupRollout:
    prompt_messages = len(row["messages"])
    return GroupRollout(
        row=row,
        prompt_ids=list(prompt),
        completions=[
            TrajectoryCompletion(s.token_ids, s.logprobs, s.finish_reason) for s in samples
        ],
        texts=[s.answer for s in samples],
        trajectories=[
            Trajectory(s.mask, s.messages[prompt_messages:], s.calls, s.errors, s.turns)
            for s in samples
        ],
    )


def tool_metrics(groups: Sequence[GroupRollout]) -> dict[str, float]:
    """Per-step means over the trajectories of multi-turn rollouts ({} for single-turn ones):
    tool calls, the share of calls that failed, assistant turns, and tokens after the prompt
    (the model's, the tools' and the template's)."""
    pairs = [
        (t, c)
        for g in groups
        if g.trajectories is not None
        for t, c in zip(g.trajectories, g.completions, strict=True)
    ]
    if not pairs:
        return {}
    n = len(pairs)
    calls = sum(t.tool_calls for t, _ in pairs)
    return {
        "tool_calls_per_rollout": calls / n,
        "tool_error_rate": sum(t.tool_errors for t, _ in pairs) / max(calls, 1),
        "turns_mean": sum(t.turns for t, _ in pairs) / n,
        "trajectory_tokens_mean": sum(len(c.token_ids) for _, c in pairs) / n,
    }
