"""One serving request's samples assembled from vLLM's streamed ``/v1/completions`` chunks.

Each chunk carries new tokens of one sample (``index``), their log-probs and, on its last, the
finish reason; a sample's finish may also come in a chunk of its own without tokens. So the
last token seen of each sample is held back until the next chunk says whether it ended the
sample: every ``TokenEvent`` then goes out once, the last one with its ``finish_reason``, as
openrft's engine reports them. ``stop_check`` (stop strings) ends a sample at the token it
fires on; later tokens of that sample are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from openrft.inference.requests import (
    Completion,
    FinishReason,
    GenerationRequest,
    TokenEvent,
)


class VllmStreamError(RuntimeError):
    """vLLM reported an error in the middle of a stream."""


def sse_payloads(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The JSON objects of a server-sent event stream, up to ``data: [DONE]``."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return
        payload = json.loads(data)
        if "error" in payload:
            raise VllmStreamError(f"vLLM stream failed: {json.dumps(payload['error'])[:500]}")
        yield payload


@dataclass
class _Sample:
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    tops: list[list[tuple[int, float]]] = field(default_factory=list)
    finish_reason: FinishReason | None = None
    pending: TokenEvent | None = None


class StreamedSamples:
    """The samples of ``request`` as chunks arrive; ``feed`` returns the events now known."""

    def __init__(self, request: GenerationRequest) -> None:
        self.request = request
        self.top_k = request.params.top_logprobs
        self.samples = [_Sample() for _ in range(request.n)]

    @property
    def finished(self) -> bool:
        return all(s.finish_reason is not None for s in self.samples)

    def feed(self, choice: dict[str, Any]) -> list[TokenEvent]:
        index = int(choice["index"])
        sample = self.samples[index]
        if sample.finish_reason is not None:
            return []
        events = []
        logprobs = choice.get("logprobs") or {}
        sampled = logprobs.get("token_logprobs") or []
        tops = logprobs.get("top_logprobs") or []
        for i, token in enumerate(int(t) for t in choice.get("token_ids") or []):
            if sample.pending is not None:
                events.append(sample.pending)
            top = top_pairs(tops[i] if i < len(tops) else None, self.top_k)
            sample.token_ids.append(token)
            sample.logprobs.append(float(sampled[i]))
            sample.tops.append(top or [])
            stop = self.request.stop_check is not None and self.request.stop_check(index, token)
            sample.pending = TokenEvent(index, token, float(sampled[i]), top, None)
            if stop:
                return [*events, *_finish(sample, "stop")]
        if choice.get("finish_reason") is not None:
            reason: FinishReason = "length" if choice["finish_reason"] == "length" else "stop"
            events += _finish(sample, reason)
        return events

    def close(self) -> list[TokenEvent]:
        """The held-back last tokens of samples the stream ended without a finish reason
        (cancelled, or cut short by the server): they end as ``"length"``."""
        unfinished = [s for s in self.samples if s.finish_reason is None]
        return [event for s in unfinished for event in _finish(s, "length")]

    def completions(self) -> list[Completion]:
        return [
            Completion(
                s.token_ids,
                s.logprobs,
                s.finish_reason or "length",
                s.tops if self.top_k else None,
            )
            for s in self.samples
        ]


def _finish(sample: _Sample, reason: FinishReason) -> list[TokenEvent]:
    """End ``sample``: its held-back last token, now with ``reason`` (none if it has none)."""
    sample.finish_reason = reason
    pending, sample.pending = sample.pending, None
    if pending is None:
        return []
    return [
        TokenEvent(pending.sample, pending.token_id, pending.logprob, pending.top_logprobs, reason)
    ]


def top_pairs(top: dict[str, float] | None, top_k: int) -> list[tuple[int, float]] | None:
    """vLLM's ``{"token_id:123": logprob}`` as the ``top_k`` best ``(123, logprob)`` pairs."""
    if not top_k or top is None:
        return None
    pairs = [(int(t.rpartition(":")[2]), float(lp)) for t, lp in top.items()]
    return sorted(pairs, key=lambda pair: -pair[1])[:top_k]
