"""Chat completions and responses on tiny-random-llama through the official SDK, live server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from openrft.inference.registry import load_tokenizer
from openrft.inference.tokens import encode_chat
from tests.integration.conftest import ServerHandle

MODEL = "tiny-random-llama"
HELLO = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def client(server: ServerHandle) -> openai.OpenAI:
    return server.client()


def greedy(client: openai.OpenAI, max_tokens: int = 12, **extra: object) -> str:
    response = client.chat.completions.create(
        model=MODEL, messages=HELLO, temperature=0, max_completion_tokens=max_tokens, **extra
    )
    return response.choices[0].message.content or ""


def test_completion_shape_and_usage(client: openai.OpenAI, tmp_path: Path) -> None:
    response = client.chat.completions.create(
        model=MODEL, messages=HELLO, max_completion_tokens=9, temperature=0
    )
    assert response.object == "chat.completion" and response.model == MODEL
    assert response.id.startswith("chatcmpl-")
    (choice,) = response.choices
    assert choice.index == 0 and choice.message.role == "assistant"
    assert choice.finish_reason == "length" and choice.logprobs is None
    tokenizer = load_tokenizer(MODEL, cache_dir=tmp_path)
    assert response.usage is not None
    assert response.usage.prompt_tokens == len(encode_chat(tokenizer, HELLO))
    assert response.usage.completion_tokens == 9
    assert response.usage.total_tokens == response.usage.prompt_tokens + 9
    assert choice.message.content == greedy(client, 9)


def test_streaming_chunks_rebuild_the_same_text_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        temperature=0,
        max_completion_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finish] == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 12
    assert all(c.usage is None for c in chunks[:-1])
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == greedy(client, 12)


def test_n_samples_differ_and_seed_reproduces(client: openai.OpenAI) -> None:
    def sample(seed: int) -> list[str]:
        response = client.chat.completions.create(
            model=MODEL, messages=HELLO, n=4, seed=seed, max_completion_tokens=16
        )
        assert [c.index for c in response.choices] == [0, 1, 2, 3]
        assert response.usage is not None and response.usage.completion_tokens == 64
        return [c.message.content or "" for c in response.choices]

    first = sample(11)
    assert len(set(first)) == 4
    assert sample(11) == first
    assert sample(12) != first


def test_stop_string_cuts_the_text(client: openai.OpenAI) -> None:
    full = greedy(client, 24)
    stop = full[8:11]
    cut = full[: full.index(stop)]
    response = client.chat.completions.create(
        model=MODEL, messages=HELLO, temperature=0, max_completion_tokens=24, stop=[stop]
    )
    assert response.choices[0].message.content == cut
    assert response.choices[0].finish_reason == "stop"
    stream = client.chat.completions.create(
        model=MODEL, messages=HELLO, temperature=0, max_completion_tokens=24, stop=stop, stream=True
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == cut
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_logprobs_and_top_logprobs(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        temperature=0,
        max_completion_tokens=6,
        logprobs=True,
        top_logprobs=3,
    )
    logprobs = response.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert len(logprobs.content) == 6
    for entry in logprobs.content:
        assert entry.logprob <= 0 and len(entry.top_logprobs) == 3
        # greedy: the chosen token is the most likely one
        assert entry.logprob == pytest.approx(entry.top_logprobs[0].logprob)


def test_unknown_model_is_404_with_param_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-nope", messages=HELLO)
    assert info.value.body["param"] == "model"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="ft:tiny-random-llama:default::ftjob-x", input="hi")


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"temperature": 3}, "temperature"),
        ({"n": 0}, "n"),
        ({"tools": [{"type": "web_search"}]}, "tools.0.type"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"max_completion_tokens": 100_000}, "max_completion_tokens"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}],
                    }
                ]
            },
            "messages.0.content.0",
        ),
    ],
)
def test_bad_parameters_are_400_naming_the_field(
    client: openai.OpenAI, extra: dict, param: str
) -> None:
    args = {"model": MODEL, "messages": HELLO, **extra}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(**args)
    assert info.value.body["param"] == param  # type: ignore[index]


def test_twenty_concurrent_requests_are_all_answered(client: openai.OpenAI) -> None:
    def ask(i: int) -> tuple[str, int, str]:
        response = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": f"request {i}"}],
            temperature=0,
            max_completion_tokens=8 + i % 5,
        )
        assert response.usage is not None
        choice = response.choices[0]
        return choice.message.content or "", response.usage.completion_tokens, choice.finish_reason

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(ask, range(20)))
    for i, (_, tokens, finish) in enumerate(answers):
        assert (tokens, finish) == (8 + i % 5, "length") or (
            finish == "stop" and tokens < 8 + i % 5
        )
    # batched answers equal the same requests answered alone
    assert answers[3] == ask(3) and answers[10] == ask(10)


def test_responses_create_and_stream(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model=MODEL, input="hello there", max_output_tokens=10, temperature=0
    )
    assert response.object == "response" and response.status == "incomplete"
    assert response.usage is not None and response.usage.output_tokens == 10
    assert response.output_text == greedy(client, 10)
    with_system = client.responses.create(
        model=MODEL,
        instructions="Be brief.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "hello there"}]}],
        max_output_tokens=10,
        temperature=0,
    )
    assert with_system.usage is not None
    assert with_system.usage.input_tokens > response.usage.input_tokens
    stream = client.responses.create(
        model=MODEL, input="hello there", max_output_tokens=10, temperature=0, stream=True
    )
    events = list(stream)
    types = [e.type for e in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-1] == "response.incomplete"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == response.output_text
    assert [e.sequence_number for e in events] == list(range(len(events)))
