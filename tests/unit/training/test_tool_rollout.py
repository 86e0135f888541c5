"""Multi-turn tool rollouts on tiny-random-llama with a real python tool (grader sandbox).

The sampler is scripted (a random model never writes a tool call): it emits chosen turns, but
their log-probs are the model's own on exactly the context the rollout gave it, so comparing
them with a plain forward over the finished trajectory shows each turn was sampled on the
trajectory's own prefix.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
import torch

from openrft.graders.templating import build_sample
from openrft.graders.types import SandboxLimits
from openrft.inference.tokens import encode_chat
from openrft.net.egress import EgressPolicy
from openrft.tools import build_toolbox
from openrft.training.grading import grading_requests
from openrft.training.rollout import SamplingConfig
from openrft.training.scoring import group_logprobs
from openrft.training.tool_rollout import ToolRollouts, TrajectoryCompletion, tool_metrics
from openrft.training.update import group_tensors

SOURCE = '''
def lookup(key: str) -> str:
    """The secret stored under key."""
    return {"oslo": "NO-0301"}[key]
'''
ROW: dict[str, Any] = {"messages": [{"role": "user", "content": "Code of Oslo?"}]}
CALL = '<tool_call>\n{"name": "lookup", "arguments": {"key": "oslo"}}\n</tool_call>'
BAD_CALL = '<tool_call>\n{"name": "lookup", "arguments": {"key": "lima"}}\n</tool_call>'
ANSWER = "The code is NO-0301."
TEMPERATURE = 0.8


class ScriptedSampler:
    """Turn ``k`` of every sample is ``script[k]`` + end of turn, with the model's log-probs."""

    def __init__(self, model: Any, tokenizer: Any, script: Sequence[str]) -> None:
        self.model, self.tokenizer, self.script = model, tokenizer, script
        self.contexts: list[list[int]] = []
        self.turn = 0

    def sample(
        self, prompts: list[list[int]], config: SamplingConfig, n: int
    ) -> list[list[TrajectoryCompletion]]:
        text = self.script[self.turn]
        self.turn += 1
        ids = [*self.tokenizer.encode(text, add_special_tokens=False), self.tokenizer.eos_token_id]
        finish = "stop" if len(ids) <= config.max_new_tokens else "length"
        ids = ids[: config.max_new_tokens]
        out = []
        for prompt in prompts:
            self.contexts.append(list(prompt))
            logp = plain_logprobs(self.model, list(prompt), ids)
            out.append([TrajectoryCompletion(list(ids), logp, finish) for _ in range(n)])
        return out


def plain_logprobs(model: Any, context: list[int], ids: list[int]) -> list[float]:
    """log softmax(logits / T) of ``ids`` after ``context``, from one plain forward."""
    with torch.no_grad():
        logits = model(torch.tensor([context + ids])).logits[0, len(context) - 1 : -1]
    logp = torch.log_softmax(logits.float() / TEMPERATURE, -1)
    return logp.gather(-1, torch.tensor(ids)[:, None])[:, 0].tolist()


@pytest.fixture
async def toolbox() -> Any:
    box = build_toolbox(
        [{"type": "python", "source": SOURCE, "timeout_s": 20.0}],
        sandbox=SandboxLimits(workers=1),
        egress=EgressPolicy(),
    )
    await box.start()
    yield box
    await box.aclose()


async def _rollout(tiny: tuple[Any, Any], toolbox: Any, script: Sequence[str], **kw: Any) -> Any:
    model, tokenizer = tiny
    row = {**ROW, "tools": toolbox.tools}
    prompt = encode_chat(tokenizer, row["messages"], tools=row["tools"])
    sampler = ScriptedSampler(model, tokenizer, script)
    config = SamplingConfig(kw.get("max_new_tokens", 120), TEMPERATURE, 1.0, seed=3)
    rollouts = ToolRollouts(sampler, tokenizer, toolbox, max_turns=kw.get("max_turns", 4))
    (group,) = await rollouts.run([row], [prompt], config, 2)
    return group, prompt, sampler


async def test_loss_mask_covers_exactly_the_sampled_tokens(
    tiny: tuple[Any, Any], toolbox: Any
) -> None:
    _, tokenizer = tiny
    group, prompt, _ = await _rollout(tiny, toolbox, [CALL, ANSWER])
    eos = tokenizer.eos_token_id
    sampled = [*tokenizer.encode(CALL, add_special_tokens=False), eos]
    sampled += [*tokenizer.encode(ANSWER, add_special_tokens=False), eos]
    for index, completion in enumerate(group.completions):
        mask = group.loss_mask(index)
        ids = completion.token_ids
        assert [t for t, m in zip(ids, mask, strict=True) if m] == sampled
        between = tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if not m])
        assert "<tool_response>\nNO-0301\n</tool_response>" in between
        assert between.endswith("<|im_start|>assistant\n")  # the cue is the template's, masked
        # A plain render of the same conversation gives the same ids (one renderer).
        conversation = [*ROW["messages"], *group.trajectories[index].messages]
        rendered = encode_chat(
            tokenizer, conversation, tools=group.row["tools"], add_generation_prompt=False
        )
        assert prompt + ids == rendered[: len(prompt) + len(ids)]
    assert group.completion_tokens == 2 * len(sampled)


async def test_trainer_and_sampler_logprobs_equal_a_plain_forward_of_the_trajectory(
    tiny: tuple[Any, Any], toolbox: Any
) -> None:
    model, _ = tiny
    group, prompt, sampler = await _rollout(tiny, toolbox, [CALL, ANSWER])
    tokens, sampling_logp = group_tensors(group)
    with torch.no_grad():
        learner_logp, _ = group_logprobs(model, tokens, temperature=TEMPERATURE)
    for index, completion in enumerate(group.completions):
        ids = completion.token_ids
        plain = torch.tensor(plain_logprobs(model, prompt, ids))
        mask = tokens.mask[index, : len(ids)].bool()
        assert torch.allclose(learner_logp[index, : len(ids)][mask], plain[mask], atol=1e-5)
        assert torch.allclose(sampling_logp[index, : len(ids)][mask], plain[mask], atol=1e-5)
        assert (learner_logp[index, : len(ids)][~mask] == 0).all()
    # turn 2 was sampled on prompt + turn 1 + the tool result's ids, nothing else
    turn_two = sampler.contexts[1]
    assert turn_two == prompt + group.completions[0].token_ids[: len(turn_two) - len(prompt)]


async def test_graders_and_metrics_see_the_whole_trajectory(
    tiny: tuple[Any, Any], toolbox: Any
) -> None:
    group, _, _ = await _rollout(tiny, toolbox, [CALL, ANSWER])
    (request, _) = grading_requests([group], "t")
    assert request.output_text == ANSWER
    roles = [m["role"] for m in request.output_messages or []]
    assert roles == ["assistant", "tool", "assistant"]
    sample = build_sample(
        request.output_text, prompt=request.messages, output_messages=request.output_messages
    )
    (call,) = sample["output_tools"]
    assert call["function"]["name"] == "lookup"
    assert json.loads(call["function"]["arguments"]) == {"key": "oslo"}
    assert sample["messages"][0] == ROW["messages"][0] and len(sample["messages"]) == 4
    assert sample["choices"][0]["message"] == {"role": "assistant", "content": ANSWER}
    assert tool_metrics([group]) == {
        "tool_calls_per_rollout": 1.0,
        "tool_error_rate": 0.0,
        "turns_mean": 2.0,
        "trajectory_tokens_mean": float(len(group.completions[0].token_ids)),
    }


async def test_a_failing_tool_returns_its_error_to_the_model(
    tiny: tuple[Any, Any], toolbox: Any
) -> None:
    group, _, _ = await _rollout(tiny, toolbox, [BAD_CALL, "Sorry."])
    messages = group.trajectories[0].messages
    assert messages[1]["role"] == "tool" and messages[1]["content"] == "Error: KeyError: 'lima'"
    assert group.texts == ["Sorry.", "Sorry."]
    assert tool_metrics([group])["tool_error_rate"] == 1.0


async def test_max_turns_and_the_token_budget_end_a_trajectory(
    tiny: tuple[Any, Any], toolbox: Any
) -> None:
    group, _, _ = await _rollout(tiny, toolbox, [CALL, CALL, CALL], max_turns=2)
    trajectory = group.trajectories[0]
    assert (trajectory.turns, trajectory.tool_calls) == (2, 1)
    assert trajectory.messages[-1]["tool_calls"]  # the last turn's call is never run
    short, _, _ = await _rollout(tiny, toolbox, [CALL, ANSWER], max_new_tokens=70, max_turns=2)
    # 2 x 70 tokens cannot hold the call, the tool result and a second turn
    assert short.completions[0].finish_reason == "length"
    assert len(short.completions[0].token_ids) <= 140


async def test_a_group_is_handed_on_as_soon_as_its_trajectories_end(
    tiny: tuple[Any, Any], toolbox: Any
) -> None:
    model, tokenizer = tiny
    with_tools = {**ROW, "tools": toolbox.tools}
    without = dict(ROW)  # no tools: its first turn ends the trajectory
    rows = [with_tools, without]
    prompts = [encode_chat(tokenizer, r["messages"], tools=r.get("tools")) for r in rows]
    sampler = ScriptedSampler(model, tokenizer, [CALL, ANSWER])
    rollouts = ToolRollouts(sampler, tokenizer, toolbox, max_turns=4)
    reported: list[tuple[int, int]] = []  # (group, sampler turns taken when it was handed on)
    config = SamplingConfig(120, TEMPERATURE, 1.0, seed=3)
    groups = await rollouts.run(
        rows, prompts, config, 2, on_group=lambda i, g: reported.append((i, sampler.turn))
    )
    # The tool-less group is graded while the other still waits for its tool and second turn.
    assert reported == [(1, 1), (0, 2)]
    assert [len(g.trajectories[0].messages) for g in groups] == [3, 1]
