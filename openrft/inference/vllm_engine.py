"""Token ids in, completions out, on a managed vLLM server (``openrft.inference.vllm_server``).

``VllmEngine`` speaks vLLM's ``/v1/completions`` with token-id prompts and
``return_token_ids``, so prompts are rendered by openrft (``encode_chat``) exactly as for its own
engine, and completions come back as the same ``Completion`` objects: token ids (the stop token
that ended a sample included), the log-prob of each sampled token under the distribution it was
sampled from, and the top alternatives when asked. LoRA adapters are loaded and dropped at run
time by name (``load_adapter`` / ``unload_adapter``); the base model is never copied.

Serving requests (``run``) stream: tokens reach ``on_step`` as vLLM produces them, and a
grammar (forced tool calls, JSON output) goes to vLLM's llguidance backend as the same Lark
source openrft's engine enforces, so both engines decode under one grammar.
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
from openrft.inference.vllm_stream import StreamedSamples, sse_payloads, top_pairs

BASE_MODEL_NAME = "base"  # ``--served-model-name`` of every managed server


class VllmError(RuntimeError):
    """vLLM refused a request; the message is its own."""


class VllmEngine:
    """A client of one vLLM server; ``default_stop_ids`` end a sample unless a request names
    its own (the same defaults as openrft's engine: eos and end-of-turn tokens);
    ``vocab_size``: the model's, which grammars are checked against."""

    def __init__(
        self,
        base_url: str,
        default_stop_ids: Sequence[int],
        vocab_size: int,
        timeout_s: float = 3600.0,
    ) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=timeout_s)
        self.default_stop_ids = frozenset(default_stop_ids)
        self.vocab_size = vocab_size
        # Where a request's torch generator lives; vLLM samples with the request's seed.
        self.device = "cpu"

    def close(self) -> None:
        self.client.close()

    def load_adapter(self, name: str, adapter_dir: Path) -> None:
        """Load the peft adapter in ``adapter_dir`` under ``name`` (a new name per version)."""
        self._post("/v1/load_lora_adapter", {"lora_name": name, "lora_path": str(adapter_dir)})

    def unload_adapter(self, name: str) -> None:
        self._post("/v1/unload_lora_adapter", {"lora_name": name})

    def reload_weights(self, weights_dir: Path) -> None:
        """Load the base model's weights in place from the safetensors in ``weights_dir``
        (a full fine-tune's new weights) and drop the KV cache computed with the old ones.
        The server must run with ``ServerOptions.weight_reload``."""
        self._post(
            "/collective_rpc",
            {"method": "reload_weights_in_place", "kwargs": {"weights_path": str(weights_dir)}},
        )
        self._post("/reset_prefix_cache", {})

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
        body["prompt"] = _prompts(prompts, n, params)
        choices = self._post("/v1/completions", body)["choices"]
        choices.sort(key=lambda c: c["index"])
        completions = [_completion(c, params.top_logprobs) for c in choices]
        return [completions[i * n : (i + 1) * n] for i in range(len(prompts))]

    def run(self, request: GenerationRequest, adapter: str | None = None) -> None:
        """Decode one serving request as a stream: every token goes to ``on_step`` when vLLM
        sends it, ``stop_check`` (stop strings) ends a sample, ``cancelled`` or all samples
        ended close the stream (vLLM then aborts the request); then ``completions`` is
        filled and ``on_done`` called."""
        body = self._body(request.params, request.n, adapter)
        body["prompt"] = _prompts([request.prompt], request.n, request.params)
        body["stream"] = True
        if request.constraint is not None:
            body["structured_outputs"] = {"grammar": request.constraint.source}
        samples = StreamedSamples(request)
        with self.client.stream("POST", "/v1/completions", json=body) as response:
            if response.status_code != 200:
                response.read()
                raise VllmError(f"vLLM answered {response.status_code}: {response.text[:500]}")
            for chunk in sse_payloads(response.iter_lines()):
                for choice in chunk.get("choices") or []:
                    self._report(request, samples.feed(choice))
                if request.cancelled or samples.finished:
                    break
        self._report(request, samples.close())
        request.completions = samples.completions()
        if request.on_done is not None:
            request.on_done()

    @staticmethod
    def _report(request: GenerationRequest, events: list[TokenEvent]) -> None:
        if events and request.on_step is not None:
            request.on_step(events)

    def _body(self, params: SamplingParams, n: int, adapter: str | None) -> dict[str, Any]:
        stops = params.stop_token_ids or tuple(sorted(self.default_stop_ids))
        return {
            "model": adapter or BASE_MODEL_NAME,
            "n": 1 if _greedy(params) else n,
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


def _greedy(params: SamplingParams) -> bool:
    return params.temperature == 0


def _prompts(prompts: Sequence[Sequence[int]], n: int, params: SamplingParams) -> list[list[int]]:
    """The prompts vLLM gets. It refuses ``n`` > 1 when greedy, which openrft's engine
    allows, so then each prompt goes ``n`` times with ``n`` 1: choice ``p * n + s`` is
    sample ``s`` of prompt ``p`` either way."""
    copies = n if _greedy(params) else 1
    return [list(p) for p in prompts for _ in range(copies)]


def _completion(choice: dict[str, Any], top_k: int) -> Completion:
    """One vLLM choice as openrft's ``Completion``."""
    ids = [int(t) for t in choice["token_ids"]]
    logprobs = choice.get("logprobs") or {}
    sampled = [float(lp) for lp in (logprobs.get("token_logprobs") or [])]
    tops = None
    if top_k:
        tops = [top_pairs(top or {}, top_k) or [] for top in logprobs.get("top_logprobs") or []]
    reason: FinishReason = "length" if choice.get("finish_reason") == "length" else "stop"
    return Completion(ids, sampled[: len(ids)], reason, tops)
