"""Tool calling through the official SDK on a live server: SmolLM2 (default tool format) and
tiny random Qwen2 / Qwen3 models (their own templates render the tools).

A round trip: the model calls a function (forced by ``tool_choice``, so even random weights
produce a valid call), the client answers with a ``tool`` message, the model answers that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from openrft.inference.registry import load_tokenizer
from openrft.inference.tokens import encode_chat
from tests.integration.conftest import ServerHandle, start_server
from tests.tool_models import write_tiny_qwen
from tests.unit.inference.conftest import MODEL_CACHE

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo", "Lima"]}},
            "required": ["city"],
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Local time in a time zone.",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string", "enum": ["UTC", "CET"]}},
            "required": ["zone"],
        },
    },
}
TOOLS = [WEATHER, CLOCK]
ASK = [{"role": "user", "content": "What is the weather in Paris right now?"}]
NAMED = {"type": "function", "function": {"name": "get_weather"}}


@pytest.fixture(scope="module")
def tool_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    env = {"OPENRFT_MODEL_CACHE_DIR": str(MODEL_CACHE)}
    with start_server(tmp_path_factory.mktemp("openrft-tools"), env=env) as handle:
        yield handle


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("tool-models")
    return {
        "smollm2": "SmolLM2-135M-Instruct",
        "qwen2": str(write_tiny_qwen(root, "qwen2")),
        "qwen3": str(write_tiny_qwen(root, "qwen3")),
    }


@pytest.fixture(scope="module")
def client(tool_server: ServerHandle) -> openai.OpenAI:
    # The first request loads SmolLM2; the machine is shared, so allow it time.
    return tool_server.client().with_options(timeout=300)


@pytest.fixture(params=["smollm2", "qwen2", "qwen3"])
def model(request: pytest.FixtureRequest, models: dict[str, str]) -> str:
    return models[request.param]


def _call(client: openai.OpenAI, model: str, **extra: Any) -> Any:
    args = {"temperature": 0, "max_completion_tokens": 120, **extra}
    return client.chat.completions.create(model=model, messages=ASK, tools=TOOLS, **args)


def test_named_tool_choice_round_trip(client: openai.OpenAI, model: str) -> None:
    response = _call(client, model, tool_choice=NAMED)
    (choice,) = response.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["city"] in ("Paris", "Oslo", "Lima")

    conversation: list[Any] = [
        *ASK,
        choice.message,  # as OpenAI's docs do: the SDK's message object goes back as is
        {"role": "tool", "tool_call_id": call.id, "content": "18 degrees and sunny"},
    ]
    answer = client.chat.completions.create(
        model=model, messages=conversation, tools=TOOLS, temperature=0, max_completion_tokens=24
    )
    assert answer.choices[0].finish_reason in ("stop", "length", "tool_calls")
    tokenizer = load_tokenizer(model, cache_dir=MODEL_CACHE)
    assert answer.usage is not None
    sent = [*ASK, choice.message.model_dump(exclude_none=True), conversation[-1]]
    assert answer.usage.prompt_tokens == len(encode_chat(tokenizer, sent, tools=TOOLS))
    prompt = tokenizer.decode(encode_chat(tokenizer, sent, tools=TOOLS))
    assert "<tool_response>\n18 degrees and sunny\n</tool_response>" in prompt
    assert f'"name": "get_weather", "arguments": {call.function.arguments}' in prompt


def test_streamed_tool_call_equals_the_plain_one(client: openai.OpenAI, model: str) -> None:
    plain = _call(client, model, tool_choice=NAMED).choices[0].message.tool_calls[0]
    chunks = list(_call(client, model, tool_choice=NAMED, stream=True))
    deltas = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or []]
    (delta,) = deltas
    assert delta.index == 0 and delta.id and delta.type == "function"
    assert (delta.function.name, delta.function.arguments) == (
        plain.function.name,
        plain.function.arguments,
    )
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ""


@pytest.mark.parametrize("parallel", [True, False])
def test_required_calls_one_of_the_tools(client: openai.OpenAI, model: str, parallel: bool) -> None:
    message = (
        _call(
            client,
            model,
            tool_choice="required",
            parallel_tool_calls=parallel,
            seed=3,
            temperature=1,
        )
        .choices[0]
        .message
    )
    assert message.tool_calls, message
    assert all(c.function.name in ("get_weather", "get_time") for c in message.tool_calls)
    if not parallel:
        assert len(message.tool_calls) == 1


def test_tool_choice_none_renders_no_tools(client: openai.OpenAI, models: dict[str, str]) -> None:
    with_none = _call(client, models["qwen2"], tool_choice="none", max_completion_tokens=4)
    without = client.chat.completions.create(
        model=models["qwen2"], messages=ASK, temperature=0, max_completion_tokens=4
    )
    assert with_none.choices[0].message.tool_calls is None
    assert with_none.usage is not None and without.usage is not None
    assert with_none.usage.prompt_tokens == without.usage.prompt_tokens


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"tools": [{"type": "code_interpreter"}]}, "tools.0.type"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]},
            "tools.0.function.parameters",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "bad name"}}]},
            "tools.0.function.name",
        ),
        ({"functions": [{"name": "f"}]}, "functions"),
        (
            {
                "messages": [
                    *ASK,
                    {"role": "tool", "tool_call_id": "call_missing", "content": "x"},
                ]
            },
            "messages.1.tool_call_id",
        ),
        (
            {
                "messages": [
                    *ASK,
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": "{not json"},
                            }
                        ],
                    },
                ]
            },
            "messages.1.tool_calls.0.function.arguments",
        ),
    ],
)
def test_bad_tool_requests_are_400_naming_the_field(
    client: openai.OpenAI, extra: dict[str, Any], param: str
) -> None:
    args = {"model": "tiny-random-llama", "messages": ASK, "tools": TOOLS, **extra}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(**args)
    assert info.value.body["param"] == param  # type: ignore[index]


def test_responses_function_call_round_trip(client: openai.OpenAI, models: dict[str, str]) -> None:
    tools = [{"type": "function", **WEATHER["function"]}]
    choice = {"type": "function", "name": "get_weather"}
    model = models["qwen3"]
    first = client.responses.create(
        model=model, input=ASK, tools=tools, tool_choice=choice, temperature=0
    )
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and call.call_id.startswith("call_")
    assert json.loads(call.arguments)["city"] in ("Paris", "Oslo", "Lima")

    stream = client.responses.create(
        model=model, input=ASK, tools=tools, tool_choice=choice, temperature=0, stream=True
    )
    events = list(stream)
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert [e.arguments for e in done] == [call.arguments]
    assert events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))

    second = client.responses.create(
        model=model,
        input=[
            *ASK,
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "18 degrees"},
        ],
        tools=tools,
        max_output_tokens=8,
        temperature=0,
    )
    tokenizer = load_tokenizer(model, cache_dir=MODEL_CACHE)
    conversation = [
        *ASK,
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.call_id, "content": "18 degrees"},
    ]
    assert second.usage is not None
    assert second.usage.input_tokens == len(encode_chat(tokenizer, conversation, tools=tools))
