"""What the engine is asked for and what it returns (no torch math here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # torch is imported lazily: the API process imports this module at startup
    import torch

    from openrft.inference.constraints import CheckedGrammar

FinishReason = Literal["stop", "length"]

# The peft adapter name of rows that run without any adapter in a mixed-adapter batch.
BASE_ADAPTER = "__base__"


@dataclass(frozen=True)
class SamplingParams:
    """How to decode one prompt.

    ``temperature`` 0 means greedy. ``stop_token_ids`` empty → the tokenizer's defaults (eos +
    chat end-of-turn tokens). Log-probs of the sampled tokens are always returned (they cost one
    ``log_softmax`` per step); ``logprobs`` is the caller's request to report them and
    ``top_logprobs`` > 0 adds that many alternatives per position.
    """

    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop_token_ids: tuple[int, ...] = ()
    logprobs: bool = False
    top_logprobs: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if self.temperature < 0 or not 0 <= self.top_p <= 1 or self.top_logprobs < 0:
            raise ValueError("need temperature >= 0, 0 <= top_p <= 1, top_logprobs >= 0")


@dataclass
class Completion:
    """One sample: token ids (a stop token that ended it included), the log-prob of each under
    ``softmax(logits / temperature)``, and per position the top ``(token_id, logprob)`` pairs
    when ``top_logprobs`` > 0."""

    token_ids: list[int]
    logprobs: list[float]
    finish_reason: FinishReason
    top_logprobs: list[list[tuple[int, float]]] | None = None


@dataclass(frozen=True)
class TokenEvent:
    """One token of one sample, reported while decoding (streaming)."""

    sample: int
    token_id: int
    logprob: float
    top_logprobs: list[tuple[int, float]] | None
    finish_reason: FinishReason | None


@dataclass(eq=False)
class GenerationRequest:
    """One prompt decoded into ``n`` samples that share the prompt's KV cache.

    ``generator`` drives this request's sampling (requests may share one); ``on_step`` receives
    each step's new tokens (called on the engine thread); ``stop_check(sample, token_id)``
    returning True ends that sample with ``"stop"`` (stop strings); setting ``cancelled`` ends
    all its samples at the next step; ``on_done()`` is called (engine thread) once
    ``completions`` is filled. ``adapter_name``: the peft adapter for this request's
    rows (peft mixed-adapter batches; ``"__base__"`` = none); None everywhere = the model as is.
    ``constraint``: the checked grammar every sample follows (grammar-constrained decoding),
    or None for free sampling.
    """

    prompt: list[int]
    params: SamplingParams
    n: int = 1
    generator: torch.Generator | None = None
    on_step: Callable[[list[TokenEvent]], None] | None = None
    stop_check: Callable[[int, int], bool] | None = None
    cancelled: bool = False
    on_done: Callable[[], None] | None = None
    adapter_name: str | None = None
    constraint: CheckedGrammar | None = None
    completions: list[Completion] = field(default_factory=list)


def seeded_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """An RNG on ``device``: seeded when ``seed`` is given, else from fresh OS entropy."""
    import torch

    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator
