"""The generation engine: batched prefill-once, KV-cached decode with per-request sampling.

Each request's prompt is prefilled once and its KV serves its ``n`` samples (the backend,
``openrft.inference.backends``, runs the model). Decoding computes last-position logits only;
finished rows are dropped from the batch (the cache is compacted once enough rows are dead, so
the copy cost stays small), and new requests can join a running batch between steps
(continuous batching). The engine knows token ids only, never text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from openrft.inference.backends import Backend, backend_for
from openrft.inference.constraints import mask_logits
from openrft.inference.decode_batch import DecodeBatch, DecodeRow, merge_batches
from openrft.inference.requests import (
    BASE_ADAPTER,
    Completion,
    FinishReason,
    GenerationRequest,
    SamplingParams,
    TokenEvent,
    seeded_generator,
)
from openrft.inference.sampling import sample_tokens
from openrft.inference.tokens import default_stop_token_ids
from openrft.threads import fit_threads

# Compact the batch once at least 1/_COMPACT_FRACTION of its rows are finished.
_COMPACT_FRACTION = 8

__all__ = ["Completion", "GenerationEngine", "GenerationRequest", "SamplingParams", "TokenEvent"]


class GenerationEngine:
    """Decode token-id prompts with a (possibly peft-wrapped) causal LM."""

    def __init__(
        self, model: Any, tokenizer: Any, *, matmul_dtype: torch.dtype | None = None
    ) -> None:
        """``matmul_dtype``: multiply the model's weights in this dtype instead of their own
        (bfloat16 rollouts of a float32 model, ``openrft.inference.precision``)."""
        self.tokenizer = tokenizer
        self.requested_matmul_dtype = matmul_dtype
        self.default_stop_ids = frozenset(default_stop_token_ids(tokenizer, model))
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else min(self.default_stop_ids, default=0))
        self.model = model

    @property
    def model(self) -> Any:
        return self._model

    @model.setter
    def model(self, model: Any) -> None:
        """Switch models (a peft wrapper once serving attaches adapters); picks the backend."""
        self._model = model
        self.backend: Backend = backend_for(model, self.pad_id, self.requested_matmul_dtype)

    @property
    def matmul_dtype(self) -> torch.dtype | None:
        """The dtype the model's products run in when not its own (None: its own)."""
        return self.backend.matmul_dtype

    def release(self) -> None:
        """Free what the backend keeps between runs (``matmul_dtype``'s weight copies)."""
        self.backend.release()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def vocab_size(self) -> int:
        """Width of the model's logits (may exceed the tokenizer's vocabulary)."""
        return int(self.model.get_output_embeddings().weight.shape[0])

    def generate(
        self, prompts: Sequence[Sequence[int]], params: SamplingParams, n: int = 1
    ) -> list[list[Completion]]:
        """``n`` completions per prompt; one RNG seeded with ``params.seed`` drives them all."""
        generator = seeded_generator(params.seed, self.device)
        requests = [GenerationRequest(list(p), params, n, generator=generator) for p in prompts]
        self.run(requests)
        return [request.completions for request in requests]

    def run(
        self,
        requests: Sequence[GenerationRequest],
        admit: Callable[[int], Sequence[GenerationRequest]] | None = None,
    ) -> None:
        """Decode requests as one batch.

        Each request gets ``completions`` (n, in order) and its ``on_done`` call as soon as all
        its samples have ended. ``admit(live_rows)`` is asked after every step for requests
        that join the running batch; the run ends when no row is left and none is admitted.
        """
        _validate(requests)
        if not requests:
            return
        with torch.inference_mode():
            first = self._prefill(requests)
            rows_of = _rows_by_request(first.rows)
            batch: DecodeBatch | None = first
            while batch is not None:
                fit_threads()  # the free cores may change while a long batch decodes
                self._sample_step(batch)
                _finish_done_requests(rows_of)
                live = batch.live_indices()
                incoming = list(admit(len(live))) if admit is not None else []
                _validate(incoming)
                if live:
                    dead = len(batch.rows) - len(live)
                    if dead and (incoming or dead * _COMPACT_FRACTION >= len(batch.rows)):
                        batch.keep(live, self.backend)
                    self._forward_step(batch)
                if incoming:
                    joined = self._prefill(incoming)
                    rows_of.update(_rows_by_request(joined.rows))
                    batch = merge_batches(batch, joined, self.backend) if live else joined
                elif not live:
                    batch = None

    def _prefill(self, requests: Sequence[GenerationRequest]) -> DecodeBatch:
        """Prefill the distinct prompts once; each request gets ``n`` rows sharing its KV."""
        device = self.device
        adapters = _adapter_names(requests)
        state, logits = self.backend.prefill(
            [r.prompt for r in requests],
            [r.n for r in requests],
            adapters,
            max(r.params.max_new_tokens for r in requests),
        )
        rows = [
            DecodeRow(
                r,
                s,
                frozenset(r.params.stop_token_ids) or self.default_stop_ids,
                constraint=r.constraint() if r.constraint is not None else None,
            )
            for r in requests
            for s in range(r.n)
        ]
        for request in requests:
            request.completions = []
        return DecodeBatch(
            rows=rows,
            state=state,
            temperature=_row_tensor(rows, lambda p: p.temperature, device),
            top_p=_row_tensor(rows, lambda p: p.top_p, device),
            logits=logits,
            adapter_names=[a for a, r in zip(adapters, requests, strict=True) for _ in range(r.n)]
            if adapters
            else None,
        )

    def _sample_step(self, batch: DecodeBatch) -> None:
        """Sample a token for every live row, record it, decide which rows finish."""
        top_k = max((row.request.params.top_logprobs for row in batch.rows), default=0)
        _apply_constraints(batch)
        sampled = sample_tokens(
            batch.logits, batch.temperature, batch.top_p, _generator_groups(batch), top_k
        )
        batch.tokens = sampled.tokens
        tokens, logprobs = sampled.tokens.tolist(), sampled.logprobs.tolist()
        top_ids = sampled.top_ids.tolist() if sampled.top_ids is not None else None
        top_lps = sampled.top_logprobs.tolist() if sampled.top_logprobs is not None else None
        events: dict[GenerationRequest, list[TokenEvent]] = {}
        for i, row in enumerate(batch.rows):
            if row.finish_reason is not None:
                continue
            request = row.request
            if request.cancelled:
                row.finish_reason = "stop"
                continue
            k = request.params.top_logprobs
            tops = (
                list(zip(top_ids[i][:k], top_lps[i][:k], strict=True))
                if top_ids and top_lps
                else None
            )
            row.token_ids.append(tokens[i])
            row.logprobs.append(logprobs[i])
            if row.constraint is not None:
                row.constraint.accept(tokens[i])
            if tops is not None and k:
                row.top_logprobs.append(tops)
            row.finish_reason = _finish_reason(row, tokens[i])
            if request.on_step is not None:
                event = TokenEvent(
                    row.sample, tokens[i], logprobs[i], tops if k else None, row.finish_reason
                )
                events.setdefault(request, []).append(event)
        for request, step_events in events.items():
            assert request.on_step is not None
            request.on_step(step_events)

    def _forward_step(self, batch: DecodeBatch) -> None:
        """Feed each row's last token; keep the logits of the next one."""
        assert batch.tokens is not None
        batch.logits = self.backend.step(batch.state, batch.tokens, batch.adapter_names)


def _adapter_names(requests: Sequence[GenerationRequest]) -> list[str] | None:
    """Per prompt peft adapter, when any request names one; the rest run without adapter."""
    if all(r.adapter_name is None for r in requests):
        return None
    return [r.adapter_name or BASE_ADAPTER for r in requests]


def _apply_constraints(batch: DecodeBatch) -> None:
    """Mask the logits of live constrained rows to the tokens their grammar allows."""
    rows = [
        i for i, r in enumerate(batch.rows) if r.constraint is not None and r.finish_reason is None
    ]
    if rows:
        mask_logits(batch.logits, rows, [batch.rows[i].constraint for i in rows])


def _finish_reason(row: DecodeRow, token: int) -> FinishReason | None:
    request = row.request
    if token in row.stop_ids:
        return "stop"
    if request.stop_check is not None and request.stop_check(row.sample, token):
        return "stop"
    if len(row.token_ids) >= request.params.max_new_tokens:
        return "length"
    return None


def _generator_groups(batch: DecodeBatch) -> list[tuple[torch.Generator | None, torch.Tensor]]:
    """Live sampling rows grouped by RNG, so a request's draws never depend on other rows."""
    groups: dict[int, tuple[torch.Generator | None, list[int]]] = {}
    for i, row in enumerate(batch.rows):
        if row.finish_reason is None and row.request.params.temperature > 0:
            generator = row.request.generator
            groups.setdefault(id(generator), (generator, []))[1].append(i)
    device = batch.logits.device
    return [(gen, torch.tensor(idx, device=device)) for gen, idx in groups.values()]


def _row_tensor(rows: list[DecodeRow], get: Any, device: torch.device) -> torch.Tensor:
    return torch.tensor([float(get(row.request.params)) for row in rows], device=device)


def _validate(requests: Sequence[GenerationRequest]) -> None:
    for request in requests:
        if not request.prompt or request.n < 1:
            raise ValueError("each request needs a non-empty prompt and n >= 1")


def _rows_by_request(rows: list[DecodeRow]) -> dict[GenerationRequest, list[DecodeRow]]:
    grouped: dict[GenerationRequest, list[DecodeRow]] = {}
    for row in rows:
        grouped.setdefault(row.request, []).append(row)
    return grouped


def _finish_done_requests(rows_of: dict[GenerationRequest, list[DecodeRow]]) -> None:
    """Hand out the completions of requests whose samples all ended (and forget them)."""
    for request, rows in list(rows_of.items()):
        if all(row.finish_reason is not None for row in rows):
            del rows_of[request]
            request.completions = [row.completion() for row in rows]
            if request.on_done is not None:
                request.on_done()
