"""What python graders and handlers print or log is captured per call, bounded, and kept."""

from __future__ import annotations

import textwrap
from pathlib import Path

from openrft.graders import GraderContext, SandboxLimits, build_grader, validate_grader
from openrft.graders.types import GradingFailedError, ValidationContext
from tests.unit.graders.conftest import make_request

LIMITS = SandboxLimits(wall_time_s=5.0, cpu_time_s=5.0, memory_bytes=1024**3, workers=1)


def _python(source: str, limits: SandboxLimits = LIMITS):
    spec = validate_grader({"type": "python", "source": textwrap.dedent(source)})
    return build_grader(spec, GraderContext(sandbox=limits))


def _handler(tmp_path: Path, source: str, **config: object):
    (tmp_path / "reward.py").write_text(textwrap.dedent(source))
    spec = {"type": "lambda", "lambda": {"function": "reward.py:lambda_handler", **config}}
    ctx = ValidationContext(base_dir=tmp_path)
    return build_grader(validate_grader(spec, ctx=ctx), GraderContext(sandbox=LIMITS))


async def test_print_stderr_and_logging_of_each_call_are_captured() -> None:
    grader = _python(
        """
        import logging, sys
        print("loaded")
        def grade(sample, item):
            print("scoring", sample["output_text"])
            sys.stderr.write("to stderr\\n")
            logging.info("not shown: the root logger is at WARNING, as in AWS Lambda")
            logging.warning("careful")
            return 1.0
        """
    )
    first, second = await grader.grade([make_request("a"), make_request("b")])
    await grader.aclose()
    assert first.logs == "scoring a\nto stderr\n[WARNING] root: careful\n"
    assert second.logs.startswith("scoring b\n")


async def test_output_is_bounded_keeping_start_and_end() -> None:
    limits = SandboxLimits(
        wall_time_s=5.0, cpu_time_s=5.0, memory_bytes=1024**3, workers=1, log_chars=400
    )
    grader = _python(
        """
        def grade(sample, item):
            print("FIRST")
            for i in range(10000):
                print("line", i)
            print("LAST")
            return 0.5
        """,
        limits,
    )
    [result] = await grader.grade([make_request("x")])
    await grader.aclose()
    assert result.reward == 0.5
    assert result.logs.startswith("FIRST\n") and result.logs.endswith("LAST\n")
    assert "characters dropped" in result.logs and len(result.logs) < 500


async def test_a_failing_grade_keeps_its_logs_and_traceback() -> None:
    grader = _python(
        """
        def grade(sample, item):
            print("about to fail on", repr(item.get("answer")))
            return 1 / 0
        """
    )
    [result] = await grader.grade([make_request("x", {"answer": None})])
    await grader.aclose()
    assert result.logs == "about to fail on None\n"
    assert "ZeroDivisionError" in result.errors["python_grader_runtime_error_details"]


async def test_a_handler_batch_shares_its_logs(tmp_path: Path) -> None:
    grader = _handler(
        tmp_path,
        """
        def lambda_handler(event, context):
            print("batch of", len(event))
            return [{"id": t["id"], "aggregate_reward_score": 1.0} for t in event]
        """,
        batch_size=2,
    )
    results = await grader.grade([make_request("a", rid="r0"), make_request("b", rid="r1")])
    await grader.aclose()
    assert [r.logs for r in results] == ["batch of 2\n", "batch of 2\n"]


async def test_a_failing_handler_raises_with_its_logs(tmp_path: Path) -> None:
    grader = _handler(
        tmp_path,
        """
        def lambda_handler(event, context):
            print("event:", event[0]["metadata"])
            return event[0]["reference_answer"]["text"]
        """,
        max_retries=0,
    )
    try:
        await grader.grade([make_request("a", {"ground_truth": "4"})])
    except GradingFailedError as exc:
        assert "KeyError: 'reference_answer'" in exc.message
        assert exc.logs == "event: {'ground_truth': '4'}\n"
    else:
        raise AssertionError("the handler's KeyError must fail the batch")
    finally:
        await grader.aclose()
