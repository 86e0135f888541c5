"""Rows in OpenAI's supervised and DPO data formats: what each method accepts and refuses."""

from __future__ import annotations

import json

import pytest

from openrft.domain.datasets import validate_jsonl
from openrft.domain.method_rows import method_problem, upload_problem

USER = {"role": "user", "content": "What is 2+2?"}
ANSWER = {"role": "assistant", "content": "4"}
SUPERVISED = {"messages": [{"role": "system", "content": "Be brief."}, USER, ANSWER]}
CALL = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2}'}}
TOOLS = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
SUPERVISED_TOOLS = {
    "messages": [
        USER,
        {"role": "assistant", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "4"},
        ANSWER,
    ],
    "tools": TOOLS,
    "parallel_tool_calls": False,
}
DPO = {
    "input": {"messages": [USER]},
    "preferred_output": [ANSWER],
    "non_preferred_output": [{"role": "assistant", "content": "5"}],
}


@pytest.mark.parametrize("row", [SUPERVISED, SUPERVISED_TOOLS])
def test_openai_supervised_rows_are_accepted(row: dict) -> None:
    assert method_problem("supervised", row) is None
    assert upload_problem(row) is None


def test_openai_dpo_row_is_accepted_for_dpo_and_at_upload_only() -> None:
    assert method_problem("dpo", DPO) is None
    assert upload_problem(DPO) is None
    assert validate_jsonl(json.dumps(DPO).encode()) == 1
    assert method_problem("supervised", DPO) == 'missing or empty "messages" list'
    assert method_problem("reinforcement", DPO) == 'missing or empty "messages" list'


def test_a_prompt_row_is_not_a_supervised_example() -> None:
    problem = method_problem("supervised", {"messages": [USER]})
    assert problem is not None and "no assistant message to learn" in problem
    assert method_problem("reinforcement", {"messages": [USER]}) is None


@pytest.mark.parametrize(
    ("messages", "why"),
    [
        ([USER, {**ANSWER, "weight": 0}], "no assistant message to learn"),
        ([USER, {**ANSWER, "weight": 2}], "messages[1].weight must be 0 or 1, got 2"),
        ([{**USER, "weight": 1}, ANSWER], "messages[0].weight: only assistant messages"),
        ([USER, {"role": "robot", "content": "x"}], "messages[1].role must be one of"),
        ([USER, {"role": "assistant"}], 'messages[1] has no "content"'),
    ],
)
def test_bad_supervised_rows_name_the_field(messages: list, why: str) -> None:
    problem = method_problem("supervised", {"messages": messages})
    assert problem is not None and why in problem


def test_weight_zero_turns_are_allowed_when_another_turn_is_learned() -> None:
    row = {"messages": [USER, {**ANSWER, "weight": 0}, USER, {**ANSWER, "weight": 1}]}
    assert method_problem("supervised", row) is None


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"input": [USER]}, 'missing "input" object'),
        ({"input": {"messages": []}}, 'missing or empty "input.messages" list'),
        ({"input": {"messages": [{"role": "user"}]}}, 'input.messages[0] has no "content"'),
        ({"preferred_output": []}, '"preferred_output" must be a list of exactly one'),
        ({"non_preferred_output": ANSWER}, '"non_preferred_output" must be a list'),
        ({"preferred_output": [USER]}, "preferred_output[0].role must be 'assistant'"),
        (
            {"non_preferred_output": [{"role": "assistant", "content": 7}]},
            'non_preferred_output[0] has no "content"',
        ),
        (
            {"preferred_output": [{"role": "assistant", "content": [{"type": "image_url"}]}]},
            "preferred_output[0].content[0]: Content part type 'image_url' is not supported",
        ),
    ],
)
def test_bad_dpo_rows_name_the_field(change: dict, why: str) -> None:
    problem = method_problem("dpo", {**DPO, **change})
    assert problem is not None and why in problem
