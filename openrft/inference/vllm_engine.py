"""Token ids in, completions out, on a managed vLLM server (``openrft.inference.vllm_server``).

``VllmEngine`` speaks vLLM's ``/v1/completions`` with token-id prompts and
``return_token_ids``, so prompts are rendered by openrft (``encode_chat``) exactly as for its own
engine, and completions come back as the same ``Completion`` objects: token ids (the stop token
that ended a sample included), the log-prob of each sampled token under the distribution it was
sampled from, and the top alternatives when asked. LoRA adapters are loaded and dropped at run
time by name (``load_adapter`` / ``unload_adapter``); the base model is never copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from openrft.inference.requests import (
    Completion,
    FinishReason,
    GenerationRequest,
    SamplingParams,
    TokenEvent,
)

BASE_MODEL_NAME = "base"  # ``--served-model-name`` of every managed server


class VllmError(RuntimeError):
    """vLLM refused a request; the message is its own."""


class VllmEngine:
    """A client of one vLLM server; ``default_stop_ids`` end a sample unless a request names
    its own (the same defaults as openrft's engine: eos and end-of-turn tokens)."""

    def __init__(
        self, base_url: str, default_stop_ids: Sequence[int], timeout_s: float = 3600.0
    ) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=timeout_s)
        self.default_stop_ids = frozenset(default_stop_ids)
        # Where a request's torch generator lives; vLLM samples with the request's seed.
        self.device = "cpu"

    def close(self) -> None:
        self.client.close()

    def load_adapter(self, name: str, adapter_dir: Path) -> None:
        """Load the peft adapter in ``adapter_dir`` under ``name`` (a new name per version)."""
        self._post("/v1/load_lora_adapter", {"lora_name": name, "lora_path": str(adapter_dir)})

    def unload_adapter(self, name: str) -> None:
        self._post("/v1/unload_lora_adapter", {"lora_name": name})

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        params: SamplingParams,
        n: int = 1,
        adapter: str | None = None,
    ) -> list[list[Completion]]:
        """``n`` completions per prompt (one batch on the server); ``adapter``: a loaded
        adapter's name, None for the base model."""
        body = self._body(params, n, adapter)
        body["prompt"] = [list(p) for p in prompts]
        choices = self._post("/v1/completions", body)["choices"]
        choices.sort(key=lambda c: c["index"])
        completions = [_completion(c, params.top_logprobs) for c in choices]
        return [completions[i * n : (i + 1) * n] for i in range(len(prompts))]

    def run(self, request: GenerationRequest, adapter: str | None = None) -> None:
        """Decode one serving request: fills ``request.completions``, applies its
        ``stop_check`` (stop strings) and reports every token to ``on_step``, then calls
        ``on_done``. Grammar constraints are not supported here."""
        if request.constraint is not None:
            raise VllmError("grammar-constrained decoding is not supported on the vLLM engine")
        [samples] = self.generate([request.prompt], request.params, request.n, adapter)
        request.completions = [_stop_early(request, i, c) for i, c in enumerate(samples)]
        if request.on_step is not None:
            for event in _events(request.completions, request.params.top_logprobs):
                request.on_step(event)
        if request.on_done is not None:
            request.on_done()

    def _body(self, params: SamplingParams, n: int, adapter: str | None) -> dict[str, Any]:
        stops = params.stop_token_ids or tuple(sorted(self.default_stop_ids))
        return {
            "model": adapter or BASE_MODEL_NAME,
            "n": n,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
            "stop_token_ids": list(stops),
            # Only our stop ids end a sample, as in openrft's engine.
            "ignore_eos": True,
            "logprobs": params.top_logprobs,
            "return_token_ids": True,
            "return_tokens_as_token_ids": True,
            "skip_special_tokens": False,
        }

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.client.post(path, json=body)
        if response.status_code != 200:
            raise VllmError(f"vLLM {path} answered {response.status_code}: {response.text[:500]}")
        if "json" not in response.headers.get("content-type", ""):
            return None
        return response.json()


def _completion(choice: dict[str, Any], top_k: int) -> Completion:
    """One vLLM choice as openrft's ``Completion``."""
    ids = [int(t) for t in choice["token_ids"]]
    logprobs = choice.get("logprobs") or {}
    sampled = [float(lp) for lp in (logprobs.get("token_logprobs") or [])]
    tops = None
    if top_k:
        tops = [
            sorted(((_token_id(t), float(lp)) for t, lp in (top or {}).items()), key=_by_logprob)[
                :top_k
            ]
            for top in logprobs.get("top_logprobs") or []
        ]
    reason: FinishReason = "length" if choice.get("finish_reason") == "length" else "stop"
    return Completion(ids, sampled[: len(ids)], reason, tops)


def _by_logprob(pair: tuple[int, float]) -> float:
    return -pair[1]


def _token_id(token: str) -> int:
    """``"token_id:123"`` (``return_tokens_as_token_ids``) → 123."""
    return int(token.rpartition(":")[2])


def _stop_early(request: GenerationRequest, sample: int, completion: Completion) -> Completion:
    """The completion cut after the first token at which ``stop_check`` says stop."""
    if request.stop_check is None:
        return completion
    for i, token in enumerate(completion.token_ids):
        if request.stop_check(sample, token):
            end = i + 1
            tops = completion.top_logprobs[:end] if completion.top_logprobs else None
            return Completion(completion.token_ids[:end], completion.logprobs[:end], "stop", tops)
    return completion


def _events(completions: list[Completion], top_k: int) -> list[list[TokenEvent]]:
    """Per decode position, one event for each sample still running there."""
    steps: list[list[TokenEvent]] = []
    for sample, c in enumerate(completions):
        for i, token in enumerate(c.token_ids):
            if i == len(steps):
                steps.append([])
            last = i == len(c.token_ids) - 1
            top = c.top_logprobs[i] if c.top_logprobs and top_k else None
            finish = c.finish_reason if last else None
            steps[i].append(TokenEvent(sample, token, c.logprobs[i], top, finish))
    return steps
