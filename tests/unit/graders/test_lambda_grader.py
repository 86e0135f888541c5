from __future__ import annotations

import dataclasses
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from openrft.errors import InvalidRequestError
from openrft.graders import (
    GraderContext,
    GradingFailedError,
    SandboxLimits,
    ValidationContext,
    build_grader,
    error_rate,
    mean_metrics,
    validate_grader,
)
from openrft.graders.lambda_grader import build_event
from openrft.net.egress import EgressPolicy
from tests.unit.graders.conftest import make_request
from tests.unit.graders.lambda_server import LEAKED_SECRET, RewardServer, running_reward_server

# The reward servers listen on loopback: allow-listed, as an operator would.
LOOPBACK = EgressPolicy.parse(["127.0.0.1"])
CTX = GraderContext(
    retry_backoff_s=0.01, sandbox=SandboxLimits(wall_time_s=5.0, workers=1), egress=LOOPBACK
)
PROMPT = [{"role": "user", "content": "2+2?"}]


@pytest.fixture
def server() -> Iterator[RewardServer]:
    with running_reward_server() as server:
        yield server


def _requests(n: int) -> list:
    outputs = ["4", "5"]
    return [
        make_request(outputs[i % 2], {"messages": PROMPT, "reference_answer": "4", "k": i}, f"r{i}")
        for i in range(n)
    ]


def _grader(function: str, **config: object):
    spec = {"type": "lambda", "lambda": {"function": function, **config}}
    return build_grader(validate_grader(spec, ctx=ValidationContext(egress=LOOPBACK)), CTX)


def test_event_has_bedrock_shape() -> None:
    [request] = _requests(1)
    assert build_event(request) == {
        "id": "r0",
        "messages": [*PROMPT, {"role": "assistant", "content": "4"}],
        "metadata": {"reference_answer": "4", "k": 0},
        "reference_answer": {"text": "4"},
    }


def test_a_dict_reference_is_delivered_as_it_is() -> None:
    row = {"messages": PROMPT, "reference_answer": {"answer": "4", "unit": "apples"}}
    event = build_event(make_request("4", row, "r0"))
    assert event["reference_answer"] == {"answer": "4", "unit": "apples"}
    assert event["metadata"] == {"reference_answer": {"answer": "4", "unit": "apples"}}


def test_a_row_without_reference_has_no_reference_key() -> None:
    event = build_event(make_request("4", {"messages": PROMPT, "ground_truth": "4"}, "r0"))
    assert "reference_answer" not in event
    assert event["metadata"] == {"ground_truth": "4"}
    assert event.get("reference_answer", {}) == {}


def test_a_row_metadata_field_is_merged_not_nested() -> None:
    row = {"messages": PROMPT, "metadata": {"source": "gsm8k", "k": 1}, "k": 2}
    event = build_event(make_request("4", row, "r0"))
    assert event["metadata"] == {"source": "gsm8k", "k": 2}


def test_a_tool_trajectory_is_the_whole_conversation_in_messages() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    trajectory = [
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "2+2=4"},
        {"role": "assistant", "content": "4"},
    ]
    [request] = _requests(1)
    request = dataclasses.replace(request, output_messages=trajectory)
    assert build_event(request)["messages"] == [*PROMPT, *trajectory]


async def test_batches_and_metrics(server: RewardServer) -> None:
    grader = _grader(server.url("/ok"), batch_size=3, concurrency=2)
    results = await grader.grade(_requests(7))
    assert [r.reward for r in results] == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert sorted(len(event) for event in server.events) == [1, 3, 3]
    assert results[1].metrics == {"accuracy": 0.0, "length": 1.0}
    assert mean_metrics(results)["grader/accuracy"] == pytest.approx(4 / 7)
    assert error_rate(results) == 0.0
    await grader.aclose()


async def test_retries_500s_then_succeeds(server: RewardServer) -> None:
    grader = _grader(server.url("/flaky/2"), max_retries=2)
    results = await grader.grade(_requests(2))
    assert [r.reward for r in results] == [1.0, 0.0]
    assert server.calls["/flaky/2"] == 3
    await grader.aclose()


@pytest.mark.parametrize("path", ["/flaky/9", "/garbage", "/notalist"])
async def test_whole_batch_failure_raises_after_retries(server: RewardServer, path: str) -> None:
    grader = _grader(server.url(path), max_retries=2)
    with pytest.raises(GradingFailedError, match="after 3 attempt"):
        await grader.grade(_requests(2))
    assert server.calls[path] == 3
    await grader.aclose()


async def test_timeout_is_retried_then_fails(server: RewardServer) -> None:
    grader = _grader(server.url("/slow"), timeout_s=0.3, max_retries=1)
    with pytest.raises(GradingFailedError, match=r"no answer within 0\.3s"):
        await grader.grade(_requests(1))
    assert server.calls["/slow"] == 2
    await grader.aclose()


async def test_client_error_is_not_retried(server: RewardServer) -> None:
    grader = _grader(server.url("/error400"), max_retries=3)
    with pytest.raises(GradingFailedError, match="HTTP 400"):
        await grader.grade(_requests(1))
    assert server.calls["/error400"] == 1
    await grader.aclose()


async def test_a_response_body_is_quoted_only_as_a_short_clean_snippet(
    server: RewardServer,
) -> None:
    grader = _grader(server.url("/leak"))
    with pytest.raises(GradingFailedError, match="HTTP 403: denied") as info:
        await grader.grade(_requests(1))
    message = info.value.message
    assert LEAKED_SECRET.decode() not in message
    assert "\x1b" not in message and "\r" not in message
    assert len(message) < 400
    await grader.aclose()


async def test_dropped_and_malformed_items_fail_alone(server: RewardServer) -> None:
    grader = _grader(server.url("/drop"))
    bad_score, wrong_id, dropped, fine = await grader.grade(_requests(4))
    assert bad_score.reward == 0.0 and bad_score.errors["other_error"] is True
    assert wrong_id.errors["unresponsive_reward_error"] is True
    assert dropped.errors["unresponsive_reward_error"] is True
    assert fine.reward == 0.0 and not fine.has_error  # "5" != "4", scored normally
    assert server.calls["/drop"] == 1
    await grader.aclose()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_validation_checks_url_reachable_and_fields(server: RewardServer) -> None:
    closed = f"http://127.0.0.1:{_closed_port()}/reward"
    allowed = ValidationContext(egress=LOOPBACK)
    refused, denied = [], []
    for ctx, url, out in (
        (allowed, closed, refused),
        (ValidationContext(), server.url("/ok"), denied),
    ):
        with pytest.raises(InvalidRequestError, match="No answer from") as info:
            validate_grader({"type": "lambda", "lambda": {"function": url}}, param="g", ctx=ctx)
        out.append(info.value)
    # A closed port and a listening but denied one read alike: no port-scan oracle.
    assert refused[0].message.replace(closed, "URL") == denied[0].message.replace(
        server.url("/ok"), "URL"
    )
    assert refused[0].param == "g.lambda.function"
    validate_grader({"type": "lambda", "lambda": {"function": server.url("/ok")}}, ctx=allowed)
    with pytest.raises(InvalidRequestError) as info:
        validate_grader({"type": "lambda", "lambda": {"function": "x.py:h", "batch_size": 0}})
    assert info.value.param == "grader.lambda.batch_size"
    arn = "arn:aws:lambda:us-west-2:123456789012:function:reward"
    with pytest.raises(InvalidRequestError, match="boto3"):
        validate_grader({"type": "lambda", "lambda": {"function": arn}})


def test_file_handler_is_inlined(tmp_path: Path) -> None:
    (tmp_path / "reward.py").write_text("def lambda_handler(event, context):\n    return []\n")
    spec = validate_grader(
        {"type": "lambda", "lambda": {"function": "reward.py:lambda_handler"}},
        ctx=ValidationContext(base_dir=tmp_path),
    )
    assert spec["lambda"]["_source"].startswith("def lambda_handler")
    assert spec["lambda"]["batch_size"] == 64 and spec["lambda"]["max_retries"] == 3
    with pytest.raises(InvalidRequestError, match="must define"):
        validate_grader(
            {"type": "lambda", "lambda": {"function": "reward.py:other"}},
            ctx=ValidationContext(base_dir=tmp_path),
        )
    with pytest.raises(InvalidRequestError, match="no handler file is available"):
        validate_grader(
            {"type": "lambda", "lambda": {"function": "nope.py:h"}},
            ctx=ValidationContext(base_dir=tmp_path),
        )


async def test_file_handler_runs_in_sandbox(tmp_path: Path) -> None:
    source = textwrap.dedent(
        """
        def lambda_handler(event, context):
            assert context.get_remaining_time_in_millis() > 0
            seen = [{"name": "seen", "value": len(event), "type": "Metric"}]
            return [
                {"id": t["id"],
                 "aggregate_reward_score": float(t["messages"][-1]["content"] == "4"),
                 "metrics_list": seen}
                for t in event
            ]
        """
    )
    (tmp_path / "reward.py").write_text(source)
    spec = validate_grader(
        {"type": "lambda", "lambda": {"function": "reward.py:lambda_handler", "batch_size": 2}},
        ctx=ValidationContext(base_dir=tmp_path),
    )
    (tmp_path / "reward.py").unlink()  # the worker must not need the file any more
    grader = build_grader(spec, CTX)
    results = await grader.grade(_requests(3))
    assert [r.reward for r in results] == [1.0, 0.0, 1.0]
    assert [r.metrics["seen"] for r in results] == [2.0, 2.0, 1.0]
    await grader.aclose()
