"""A training row and the same chat request render to identical prompt ids (one renderer).

Training: the row passes the fine-tune file validator, then ``TokenizerCodec.encode_prompt``.
Serving: the chat request goes through ``to_text_request`` and ``prepare_generation`` on a real
``ModelPool``, exactly as ``POST /v1/chat/completions`` does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from openrft.domain.datasets import validate_jsonl
from openrft.inference.pool import ModelPool
from openrft.inference.text_generation import prepare_generation
from openrft.protocol.chat import ChatCompletionRequest
from openrft.services.chat import to_text_request
from openrft.training.rollout import TokenizerCodec
from tests.unit.inference.conftest import MODEL_CACHE

# developer role and content split into text parts: the cases the two paths used to differ on.
ROW: dict[str, Any] = {
    "messages": [
        {"role": "developer", "content": "Answer with one number."},
        {
            "role": "user",
            "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "2+2?"}],
        },
    ],
    "reference_answer": "4",
}


@pytest.fixture(scope="module")
def pool() -> Iterator[ModelPool]:
    pool = ModelPool(MODEL_CACHE, adapter_budget_bytes=1 << 26, threads=1)
    yield pool
    pool.close()


# A conversation that already called a tool and got its result, with the tool list.
TOOL_ROW: dict[str, Any] = {
    "messages": [
        {"role": "user", "content": "Capital code of Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "NO-0301"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ],
}


async def _both_paths(
    pool: ModelPool, base_model: str, row: dict[str, Any] = ROW
) -> tuple[list[int], list[int], Any]:
    """(training ids, serving ids, tokenizer) for ``row`` on ``base_model``."""
    assert validate_jsonl(json.dumps(row).encode()) == 1
    request = {"model": base_model, "messages": row["messages"], "tools": row.get("tools")}
    body = ChatCompletionRequest.model_validate(request)
    generation = await prepare_generation(pool, base_model, None, to_text_request(body))
    tokenizer = (await pool.get(base_model)).tokenizer
    return (
        TokenizerCodec(tokenizer).encode_prompt(row["messages"], tools=row.get("tools")),
        generation.prompt_ids,
        tokenizer,
    )


async def test_smollm2_training_row_and_chat_request_give_the_same_ids(pool: ModelPool) -> None:
    trained, served, tokenizer = await _both_paths(pool, "SmolLM2-135M-Instruct")
    assert trained == served
    text = tokenizer.decode(served)
    assert "<|im_start|>system\nAnswer with one number.<|im_end|>" in text  # developer → system
    assert text.endswith("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")


async def test_tokenizer_without_chat_template_uses_the_plain_fallback_on_both_paths(
    pool: ModelPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = await pool.get("tiny-random-llama")
    monkeypatch.setattr(loaded.tokenizer, "chat_template", None)
    trained, served, tokenizer = await _both_paths(pool, "tiny-random-llama")
    assert trained == served
    plain = "system: Answer with one number.\nuser: What is 2+2?\nassistant: "
    assert tokenizer.decode(served, skip_special_tokens=True) == plain


async def test_a_conversation_with_tools_renders_the_same_ids_on_both_paths(
    pool: ModelPool,
) -> None:
    trained, served, tokenizer = await _both_paths(pool, "SmolLM2-135M-Instruct", TOOL_ROW)
    assert trained == served
    text = tokenizer.decode(served)
    assert text.startswith("<|im_start|>system\n# Tools\n")  # default format: no template tools
    assert '<tool_call>\n{"name": "lookup", "arguments": {"city": "Oslo"}}\n</tool_call>' in text
    assert text.endswith(
        "<|im_start|>user\n<tool_response>\nNO-0301\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"
    )
