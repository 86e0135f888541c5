"""Judges from sandboxed code: a python grader reaches this server's chat completions through the
judge relay (with the OpenAI SDK, configured only by the environment), and nothing else."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Iterator

import pytest

from openrft.graders import GraderContext, SandboxLimits, build_grader, validate_grader
from openrft.graders.types import JudgeAccess
from tests.unit.graders.chat_server import ChatServer, running_chat_server
from tests.unit.graders.conftest import make_request

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None and not os.environ.get("CI"), reason="bubblewrap not installed"
)
LIMITS = SandboxLimits(
    wall_time_s=30.0, cpu_time_s=30.0, memory_bytes=2 * 1024**3, workers=1, isolation="bwrap"
)
PROJECT_MODELS = {"judge-model"}
# Sandboxed code that says how connecting to (host, port) ends: "connected" or the error's name.
REACH_SOURCE = """
import os, socket

def reach(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return "connected"
    except OSError as exc:
        return type(exc).__name__
"""


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with running_chat_server() as server:
        yield server


def _grader(source: str, chat: ChatServer):
    judge = JudgeAccess(chat.base_url("text"), "sk-project", PROJECT_MODELS.__contains__)
    spec = validate_grader({"type": "python", "source": textwrap.dedent(source)})
    return build_grader(spec, GraderContext(sandbox=LIMITS, judge=judge))


async def _run(source: str, chat: ChatServer, item: dict | None = None):
    grader = _grader(source, chat)
    try:
        [result] = await grader.grade([make_request("x", item or {})])
    finally:
        await grader.aclose()
    assert not result.has_error, result.errors["python_grader_runtime_error_details"]
    return result


async def test_the_sdk_gets_an_answer_from_the_judge(chat: ChatServer) -> None:
    result = await _run(
        """
        from openai import OpenAI
        def grade(sample, item):
            reply = OpenAI().chat.completions.create(
                model="judge-model", messages=[{"role": "user", "content": "Rate 4 for 2+2"}])
            print(reply.choices[0].message.content)
            return 1.0
        """,
        chat,
    )
    assert result.logs == "The answer deserves a 7.\n"
    [request] = chat.requests
    assert request["model"] == "judge-model"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("client.models.list()", "NotFoundError"),
        ("client.files.list()", "NotFoundError"),
        ("chat(model='other-project-model')", "NotFoundError"),
        ("chat(stream=True)", "BadRequestError"),
        (
            "OpenAI(api_key='sk-project').chat.completions.create(model='judge-model', "
            "messages=[])",
            "AuthenticationError",
        ),
    ],
)
async def test_the_relay_serves_nothing_else(chat: ChatServer, call: str, expected: str) -> None:
    result = await _run(
        f"""
        import openai
        from openai import OpenAI
        client = OpenAI(max_retries=0)
        def chat(model="judge-model", **extra):
            return client.chat.completions.create(
                model=model, messages=[{{"role": "user", "content": "hi"}}], **extra)
        def grade(sample, item):
            try:
                {call}
            except openai.APIStatusError as exc:
                print(type(exc).__name__)
            return 0.0
        """,
        chat,
    )
    assert result.logs == f"{expected}\n"
    assert chat.requests == []


async def test_no_other_address_or_port_is_reachable(chat: ChatServer) -> None:
    host, port = chat.server_address[:2]
    result = await _run(
        REACH_SOURCE
        + textwrap.dedent(
            """
        def grade(sample, item):
            base = os.environ["OPENAI_BASE_URL"]
            judge_port = int(base.split(":")[2].split("/")[0])
            for host, port in [(item["host"], item["port"]), ("127.0.0.1", judge_port + 1),
                               ("1.1.1.1", 443), ("169.254.169.254", 80), ("::1", item["port"])]:
                print(host, port, reach(host, port))
            return 0.0
        """
        ),
        chat,
        {"host": host, "port": port},
    )
    lines = result.logs.splitlines()
    assert len(lines) == 5
    assert not any(line.endswith("connected") for line in lines), lines
