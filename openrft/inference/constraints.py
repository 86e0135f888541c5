"""Grammar-constrained decoding with llguidance: which tokens a sample may take next.

``Grammars(tokenizer, vocab_size, stop_ids)`` wraps one tokenizer (building llguidance's view
of it costs about a second, so it is cached per tokenizer); ``grammars.constraint(grammar)``
checks the grammar and returns a ``CheckedGrammar``: a factory of per-sample
``GrammarConstraint`` objects, which openrft's engine asks for a token mask before each
sampling step and tells which token was taken, and the grammar's source, which the vLLM engine
hands to vLLM's llguidance backend instead. The grammar is a Lark
grammar in llguidance's dialect (``%json {schema}`` embeds a JSON schema). Once the grammar is
complete only the stop tokens are allowed, so a constrained sample ends like any other.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import llguidance
import llguidance.hf
import torch

from openrft.domain.tool_format import CLOSE, OPEN
from openrft.domain.tools import ToolChoice

# Compact JSON the way json.dumps writes it (and chat templates print calls): ", " and ": ".
_JSON_STYLE = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
_BITS = torch.arange(32, dtype=torch.int32)


class TokenConstraint(Protocol):
    """Restricts the tokens of one sample."""

    def fill_bitmask(self, bitmask: torch.Tensor, row: int) -> None:
        """Write the allowed next tokens into ``bitmask[row]`` (int32, 32 tokens per word)."""
        ...

    def accept(self, token_id: int) -> None: ...


class GrammarConstraint:
    def __init__(self, matcher: llguidance.LLMatcher) -> None:
        self.matcher = matcher

    def fill_bitmask(self, bitmask: torch.Tensor, row: int) -> None:
        target = bitmask[row]
        self.matcher.unsafe_compute_mask_ptr(target.data_ptr(), target.numel() * 4)

    def accept(self, token_id: int) -> None:
        self.matcher.consume_token(token_id)


@dataclass(frozen=True)
class CheckedGrammar:
    """A grammar that compiled for one tokenizer; calling it makes one sample's constraint."""

    source: str
    tokenizer: llguidance.LLTokenizer

    def __call__(self) -> GrammarConstraint:
        return GrammarConstraint(llguidance.LLMatcher(self.tokenizer, self.source))


class Grammars:
    """Constraints for one tokenizer; ``stop_ids`` are the tokens that end a sample."""

    def __init__(self, tokenizer: Any, vocab_size: int, stop_ids: Sequence[int]) -> None:
        self.tokenizer = llguidance.hf.from_tokenizer(
            tokenizer, n_vocab=vocab_size, eos_token=sorted(stop_ids)
        )

    def constraint(self, grammar: str) -> CheckedGrammar:
        """Per-sample constraints of ``grammar``; ValueError when it does not compile."""
        error = llguidance.LLMatcher.validate_grammar(grammar, self.tokenizer)
        if error:
            raise ValueError(f"invalid grammar: {error}")
        return CheckedGrammar(grammar, self.tokenizer)


_CACHE: weakref.WeakKeyDictionary[Any, Grammars] = weakref.WeakKeyDictionary()


def grammars_for(tokenizer: Any, vocab_size: int, stop_ids: Sequence[int]) -> Grammars:
    """The cached ``Grammars`` of ``tokenizer`` (one per tokenizer object)."""
    grammars = _CACHE.get(tokenizer)
    if grammars is None:
        grammars = _CACHE[tokenizer] = Grammars(tokenizer, vocab_size, stop_ids)
    return grammars


def tool_call_grammar(
    tools: Sequence[Mapping[str, Any]], choice: ToolChoice, *, parallel: bool
) -> str:
    """Lark grammar of a turn that is only tool calls in the Hermes format: one call of the
    named function, or (``required``) one or more calls of any tool (one when not
    ``parallel``). Arguments hold only the declared parameters unless the schema says
    otherwise (``additionalProperties``)."""
    functions = [t["function"] for t in tools if choice.name in (None, t["function"]["name"])]
    calls = [
        {
            "type": "object",
            "properties": {
                "name": {"const": f["name"]},
                "arguments": {"additionalProperties": False, **f["parameters"]},
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for f in functions
    ]
    schema = {"anyOf": calls, "x-guidance": _JSON_STYLE}
    repeat = ' ("\\n" call)*' if parallel and choice.mode == "required" else ""
    return "\n".join(
        [
            f"start: call{repeat}",
            f"call: {json.dumps(OPEN + chr(10))} body {json.dumps(chr(10) + CLOSE)}",
            f"body: %json {json.dumps(schema)}",
        ]
    )


def json_grammar(schema: Mapping[str, Any]) -> str:
    """Lark grammar of one JSON value following ``schema`` (structured output), written
    compactly so a sample cannot spend its tokens on whitespace."""
    styled = {**schema, "x-guidance": {**_JSON_STYLE, **schema.get("x-guidance", {})}}
    return f"start: %json {json.dumps(styled)}"


def mask_logits(logits: torch.Tensor, rows: Sequence[int], constraints: Sequence[Any]) -> None:
    """Set the logits of disallowed tokens to -inf in ``rows`` of ``logits`` ``(B, V)``;
    ``constraints[i]`` restricts row ``rows[i]``."""
    vocab = logits.shape[1]
    bitmask = torch.full((len(rows), (vocab + 31) // 32), -1, dtype=torch.int32)
    for i, constraint in enumerate(constraints):
        constraint.fill_bitmask(bitmask, i)
    allowed = ((bitmask[:, :, None] >> _BITS) & 1).reshape(len(rows), -1)[:, :vocab].bool()
    index = torch.tensor(list(rows), device=logits.device)
    subset = logits.index_select(0, index).masked_fill(~allowed.to(logits.device), float("-inf"))
    logits.index_copy_(0, index, subset)
