"""Supervised and DPO rows → token ids, through the one prompt renderer (``inference.tokens``).

A row becomes a ``GroupTokens``: the prompt once and, as its completions, the ids the model is
trained on. Supervised: one completion, the conversation after the first assistant cue, where
the mask is 1 on the assistant turns to learn (``weight`` not 0) and 0 on everything between
them (tool results, user turns, template tokens). DPO: two completions sharing the prompt, the
preferred answer first, then the non-preferred one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from openrft.inference.tokens import encode_assistant_turn, encode_chat, encode_continuation
from openrft.training.data import Row
from openrft.training.scoring import GroupTokens

PREFERRED, NON_PREFERRED = 0, 1


def _padded(completions: Sequence[tuple[list[int], list[int]]]) -> tuple[torch.Tensor, ...]:
    """(ids, mask) pairs → right-padded (n, C) id and mask tensors."""
    width = max(len(ids) for ids, _ in completions)
    ids_out = torch.zeros(len(completions), width, dtype=torch.long)
    mask_out = torch.zeros(len(completions), width, dtype=torch.float32)
    for i, (ids, mask) in enumerate(completions):
        ids_out[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        mask_out[i, : len(mask)] = torch.tensor(mask, dtype=torch.float32)
    return ids_out, mask_out


def supervised_tokens(tokenizer: Any, row: Row) -> GroupTokens:
    """The prompt before the first assistant turn, then every later token; learned: the
    assistant turns whose ``weight`` is not 0."""
    messages, tools = row["messages"], row.get("tools")
    turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    prompt = encode_chat(tokenizer, messages[: turns[0]], tools=tools)
    ids: list[int] = []
    mask: list[int] = []
    previous = None
    for index in turns:
        if previous is not None:
            between = encode_continuation(tokenizer, messages[:index], previous + 1, tools=tools)
            ids += between
            mask += [0] * len(between)
        turn = encode_assistant_turn(tokenizer, messages[: index + 1], tools=tools)
        ids += turn
        mask += [int(messages[index].get("weight", 1))] * len(turn)
        previous = index
    completion_ids, completion_mask = _padded([(ids, mask)])
    return GroupTokens(torch.tensor(prompt, dtype=torch.long), completion_ids, completion_mask)


def preference_tokens(tokenizer: Any, row: Row) -> GroupTokens:
    """The input's prompt and two completions: preferred (row 0), non-preferred (row 1)."""
    messages, tools = row["input"]["messages"], row["input"].get("tools")
    prompt = encode_chat(tokenizer, messages, tools=tools)
    answers = []
    for key in ("preferred_output", "non_preferred_output"):
        turn = encode_assistant_turn(tokenizer, [*messages, row[key][0]], tools=tools)
        answers.append((turn, [1] * len(turn)))
    completion_ids, completion_mask = _padded(answers)
    return GroupTokens(torch.tensor(prompt, dtype=torch.long), completion_ids, completion_mask)


ENCODERS: dict[str, Callable[[Any, Row], GroupTokens]] = {
    "supervised": supervised_tokens,
    "dpo": preference_tokens,
}
