"""Grammar-constrained decoding: random weights still write valid tool calls when forced."""

from __future__ import annotations

import json
from typing import Any

import torch

from openrft.domain.tool_format import parse_tool_calls
from openrft.domain.tools import ToolChoice, normalize_tools
from openrft.inference.constraints import Grammars, mask_logits, tool_call_grammar
from openrft.inference.engine import GenerationEngine, GenerationRequest, SamplingParams
from openrft.inference.tokens import encode_chat

TOOLS = normalize_tools(
    [
        {
            "type": "function",
            "function": {
                "name": "add",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "a": {"type": "integer", "minimum": 0, "maximum": 99},
                        "b": {"type": "integer", "minimum": -9, "maximum": 9},
                    },
                    "required": ["a", "b"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "echo",
                "parameters": {
                    "type": "object",
                    "properties": {"word": {"type": "string", "enum": ["x", "yz"]}},
                    "required": ["word"],
                },
            },
        },
    ]
)


class _AllowOnly:
    def __init__(self, tokens: list[int]) -> None:
        self.tokens = tokens

    def fill_bitmask(self, bitmask: torch.Tensor, row: int) -> None:
        bitmask[row] = 0
        for token in self.tokens:
            bitmask[row, token // 32] |= 1 << (token % 32)

    def accept(self, token_id: int) -> None:
        del token_id


def test_mask_logits_keeps_only_allowed_tokens_of_constrained_rows() -> None:
    logits = torch.zeros(3, 70)
    mask_logits(logits, [0, 2], [_AllowOnly([1, 33, 69]), _AllowOnly([5])])
    assert torch.isfinite(logits[0]).nonzero()[:, 0].tolist() == [1, 33, 69]
    assert torch.isfinite(logits[1]).all()
    assert torch.isfinite(logits[2]).nonzero()[:, 0].tolist() == [5]


def _decode(tiny: tuple[Any, Any], choice: ToolChoice, parallel: bool, n: int) -> list[str]:
    model, tokenizer = tiny
    engine = GenerationEngine(model, tokenizer)
    grammars = Grammars(tokenizer, engine.vocab_size, sorted(engine.default_stop_ids))
    constraint = grammars.constraint(tool_call_grammar(TOOLS, choice, parallel=parallel))
    prompt = encode_chat(tokenizer, [{"role": "user", "content": "go"}], tools=TOOLS)
    params = SamplingParams(max_new_tokens=400, temperature=1.0, seed=5)
    request = GenerationRequest(prompt, params, n=n, constraint=constraint)
    engine.run([request])
    assert all(c.finish_reason == "stop" for c in request.completions)
    return [tokenizer.decode(c.token_ids, skip_special_tokens=True) for c in request.completions]


def test_a_named_function_is_called_with_arguments_that_fit_its_schema(
    tiny: tuple[Any, Any],
) -> None:
    for text in _decode(tiny, ToolChoice("named", "add"), parallel=True, n=4):
        (call,) = parse_tool_calls(text).calls
        arguments = json.loads(call.arguments)
        assert call.name == "add" and set(arguments) == {"a", "b"}
        assert all(isinstance(v, int) for v in arguments.values())


def test_required_calls_any_tool_once_without_parallel_calls(tiny: tuple[Any, Any]) -> None:
    names = set()
    for text in _decode(tiny, ToolChoice("required"), parallel=False, n=8):
        parsed = parse_tool_calls(text)
        assert len(parsed.calls) == 1 and parsed.content == ""
        names.add(parsed.calls[0].name)
    assert names <= {"add", "echo"}
