from __future__ import annotations

import os
import shutil
import socket
import textwrap
from pathlib import Path

import pytest

from openrft.errors import InvalidRequestError
from openrft.graders import GraderContext, SandboxLimits, build_grader, validate_grader
from openrft.graders.sandbox.launch import detect_isolation
from tests.unit.graders.conftest import make_request

LIMITS = SandboxLimits(wall_time_s=3.0, cpu_time_s=3.0, memory_bytes=1024**3, workers=1)
needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None and not os.environ.get("CI"), reason="bubblewrap not installed"
)


def _grader(source: str):
    spec = validate_grader({"type": "python", "source": textwrap.dedent(source)})
    return build_grader(spec, GraderContext(sandbox=LIMITS))


async def test_grades_with_sample_and_item() -> None:
    grader = _grader(
        """
        def grade(sample, item):
            return 1.0 if sample["output_json"]["a"] == item["ref"] else 0.25
        """
    )
    results = await grader.grade(
        [make_request('{"a": 3}', {"ref": 3}), make_request('{"a": 4}', {"ref": 3})]
    )
    assert [r.reward for r in results] == [1.0, 0.25]
    assert not any(r.has_error for r in results)
    await grader.aclose()


@pytest.mark.parametrize(
    "body",
    [
        "raise ValueError('boom')",
        "return 'high'",
        "return float('nan')",
        "return None",
        "import sys; sys.exit(0)",
    ],
)
async def test_bad_return_or_exception_scores_zero(body: str) -> None:
    grader = _grader(f"def grade(sample, item):\n    {body}\n")
    [result] = await grader.grade([make_request("x")])
    assert result.reward == 0.0
    assert result.errors["python_grader_runtime_error"] is True
    assert result.errors["python_grader_runtime_error_details"]
    await grader.aclose()


def test_validation_requires_grade_with_two_args() -> None:
    for source in ("def grade(sample):\n    return 1", "def score(a, b):\n    return 1", "def ("):
        with pytest.raises(InvalidRequestError) as info:
            validate_grader({"type": "python", "source": source}, param="g")
        assert info.value.param == "g.source"
    ok = "def grade(sample, item, extra=None):\n    return 1"
    assert validate_grader({"type": "python", "source": ok})["source"] == ok


def _listening_socket() -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server


@needs_bwrap
@pytest.mark.parametrize(
    "attack",
    [
        "open('/etc/passwd').read()",
        "open(item['secret']).read()",
        "__import__('os').listdir(item['data_dir'])",
        "__import__('socket').create_connection(('127.0.0.1', item['port']), timeout=2)",
        "[__import__('os').fork() for _ in iter(int, 1)]",
        "bytearray(10 * 1024**3)",
        "__import__('time').sleep(10**6)",
        "__import__('os').kill(os.getppid(), 9); __import__('os').kill(item['server_pid'], 9)",
        "__import__('os')._exit(1)",
    ],
)
async def test_sandbox_contains_attacks(attack: str, tmp_path: Path) -> None:
    assert detect_isolation().mode == "bwrap"
    secret = tmp_path / "data" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("s3cret")
    server = _listening_socket()
    item = {
        "secret": str(secret),
        "data_dir": str(secret.parent),
        "port": server.getsockname()[1],
        "server_pid": os.getpid(),
    }
    source = (
        f"import os\ndef grade(sample, item):\n    if item:\n        {attack}\n    return 1.0\n"
    )
    grader = _grader(source)
    attacked, after = await grader.grade([make_request("x", item), make_request("x", {})])
    assert attacked.reward == 0.0
    assert attacked.errors["python_grader_runtime_error"] is True
    assert after.reward == 1.0  # the worker was replaced or recovered
    server.settimeout(0.1)
    with pytest.raises(TimeoutError):
        server.accept()
    server.close()
    await grader.aclose()


@needs_bwrap
async def test_cpu_limit_kills_a_busy_loop_before_the_wall_clock() -> None:
    limits = SandboxLimits(wall_time_s=60.0, cpu_time_s=1.0, workers=1)
    spec = validate_grader({"type": "python", "source": "def grade(s, i):\n    while True: pass"})
    grader = build_grader(spec, GraderContext(sandbox=limits))
    [result] = await grader.grade([make_request("x")])
    assert result.errors["python_grader_runtime_error"] is True
    assert "died" in result.errors["python_grader_runtime_error_details"]
    await grader.aclose()


async def test_code_that_fails_at_import_flags_every_item() -> None:
    grader = _grader("import no_such_module_xyz\ndef grade(sample, item):\n    return 1.0\n")
    results = await grader.grade([make_request("a"), make_request("b")])
    assert [r.reward for r in results] == [0.0, 0.0]
    details = results[1].errors["python_grader_runtime_error_details"]
    assert "failed to load" in details and "no_such_module_xyz" in details
    await grader.aclose()
