"""Multi-turn tool rollouts sampled by the real engine on SmolLM2, with a real python tool.

SmolLM2 writes calls when the prompt holds two worked examples (tests/e2e/test_tools_learning),
so the engine samples real calls here, the sandbox runs them, and the next turn is sampled on
the tool's result. Every sampled token's log-prob from the engine (KV cache, batched turns)
must equal one plain forward over prompt + whole trajectory, and only sampled tokens are in
the loss mask.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from openrft.graders.types import SandboxLimits
from openrft.inference.engine import GenerationEngine
from openrft.inference.tokens import encode_chat
from openrft.net.egress import EgressPolicy
from openrft.tools import build_toolbox
from openrft.training.rollout import EngineSampler, SamplingConfig
from openrft.training.tool_rollout import ToolRollouts
from tests.e2e.test_tools_learning import lookup_source, row, secret_codes
from tests.unit.inference.test_engine import forward_logprobs

pytestmark = pytest.mark.slow  # ~16 two-turn SmolLM2 trajectories


async def test_engine_turns_have_the_logprobs_of_a_plain_forward(smollm2: tuple) -> None:
    model, tokenizer = smollm2
    codes = secret_codes()
    toolbox = build_toolbox(
        [{"type": "python", "source": lookup_source(codes), "timeout_s": 30.0}],
        sandbox=SandboxLimits(workers=1),
        egress=EgressPolicy(),
    )
    await toolbox.start()
    try:
        rows: list[dict[str, Any]] = [
            {**row(name, code), "tools": toolbox.tools} for name, code in list(codes.items())[:2]
        ]
        prompts = [encode_chat(tokenizer, r["messages"], tools=r["tools"]) for r in rows]
        rollouts = ToolRollouts(
            EngineSampler(GenerationEngine(model, tokenizer)), tokenizer, toolbox, max_turns=2
        )
        groups = await rollouts.run(rows, prompts, SamplingConfig(40, 1.0, 1.0, seed=0), 8)
    finally:
        await toolbox.aclose()
    called = 0
    for group in groups:
        for index, completion in enumerate(group.completions):
            ids, mask = completion.token_ids, group.loss_mask(index)
            plain = torch.tensor(forward_logprobs(model, group.prompt_ids, ids, 1.0))
            sampled = torch.tensor(mask).bool()
            engine = torch.tensor(completion.logprobs)
            assert torch.allclose(engine[sampled], plain[sampled], atol=2e-3)
            assert (engine[~sampled] == 0).all()
            trajectory = group.trajectories[index]  # type: ignore[index]
            if trajectory.tool_calls:
                called += 1
                fed = tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if not m])
                assert "<tool_response>" in fed and trajectory.turns == 2
                assert trajectory.messages[1]["content"] in fed  # the tool's own result
    assert called >= 2  # real calls, run by the sandbox, answered in a second turn
