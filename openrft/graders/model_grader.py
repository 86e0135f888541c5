"""``score_model`` and ``label_model``: ask a chat model, through any OpenAI-compatible endpoint.

The request uses a ``json_schema`` response format: ``{"steps": [...], "result": float}`` for
``score_model`` (``result`` within ``range``) and ``{"steps", "result": <one of labels>}`` for
``label_model`` (reward 1.0 when the label is passing). This server decodes the answer under
that schema, so it parses unless it runs out of tokens. The schema bounds what the answer can
spend: at most ``MAX_STEPS`` reasoning steps, each field sized so that all of them fit the
grader's ``max_completions_tokens`` (``MAX_STEP_CHARS`` without one), written in printable ASCII
without quotes or backslashes (a small judge otherwise spends its budget on ``\\u`` escapes), and
the score's decimals (``SCORE_STEP``). So the answer ends within its token budget even for a
135M-parameter judge.
Unparsable output scores 0 with
``model_grader_parse_error``; a refusal sets ``model_grader_refusal_error``; an API failure sets
``model_grader_server_error`` with details naming the model.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any, ClassVar, cast

import openai

from openrft.graders.model_spec import render_messages, validate_label_model, validate_score_model
from openrft.graders.registry import register_grader
from openrft.graders.templating import MissingVariableError, request_namespaces
from openrft.graders.types import GraderContext, GradeResult, GradingRequest

MAX_STEPS = 3
MAX_STEP_CHARS = 120
MIN_STEP_CHARS = 8
# Tokens kept for the JSON around the steps and for the result.
RESULT_TOKENS = 64
# Printable ASCII except '"' and '\\': every character is one JSON character, never an escape.
STEP_PATTERN = r"^[ !#-\[\]-~]*$"
# A score is a multiple of this: without it a small judge can write "1.000000…" until its token
# limit (SmolLM2 did on 2 of 20 garbage completions), and the cut answer does not parse.
SCORE_STEP = 0.001


def step_chars(max_tokens: int | None) -> int:
    """Characters per reasoning field so that all fields fit ``max_tokens`` even at one token per
    character (the worst case), leaving ``RESULT_TOKENS`` for the rest."""
    if max_tokens is None:
        return MAX_STEP_CHARS
    fields = 2 * MAX_STEPS
    return max(MIN_STEP_CHARS, min(MAX_STEP_CHARS, (max_tokens - RESULT_TOKENS) // fields))


def steps_schema(max_tokens: int | None) -> dict[str, Any]:
    text = {"type": "string", "maxLength": step_chars(max_tokens), "pattern": STEP_PATTERN}
    return {
        "type": "array",
        "maxItems": MAX_STEPS,
        "items": {
            "type": "object",
            "properties": {"description": text, "conclusion": text},
            "required": ["description", "conclusion"],
            "additionalProperties": False,
        },
    }


class ParseError(ValueError):
    """The model's answer does not follow the response schema."""


class ModelGrader:
    """Shared calling logic; subclasses define ``result_schema`` and ``reward_from``."""

    type: ClassVar[str]

    def __init__(self, spec: dict[str, Any], ctx: GraderContext) -> None:
        self.name: str = spec["name"]
        self.spec = spec
        self.client = openai.AsyncOpenAI(
            base_url=ctx.chat_base_url, api_key=ctx.api_key or "openrft", max_retries=2
        )
        self.semaphore = asyncio.Semaphore(ctx.model_concurrency)
        self.render_chars = ctx.limits.render_chars

    def result_schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def reward_from(self, result: Any) -> float:
        raise NotImplementedError

    async def grade(self, requests: Sequence[GradingRequest]) -> list[GradeResult]:
        return list(await asyncio.gather(*(self._grade_one(r) for r in requests)))

    async def _grade_one(self, request: GradingRequest) -> GradeResult:
        start = time.perf_counter()
        try:
            namespaces = request_namespaces(request)
            messages = render_messages(self.spec["input"], namespaces, self.render_chars)
        except MissingVariableError:
            return GradeResult.failed("invalid_variable_error")
        async with self.semaphore:
            result = await self._ask(messages)
        result.execution_time = time.perf_counter() - start
        return result

    async def _ask(self, messages: list[dict[str, Any]]) -> GradeResult:
        model = self.spec["model"]
        try:
            response = await self.client.chat.completions.create(
                model=model,
                messages=cast(Any, messages),
                response_format=cast(Any, self._response_format()),
                extra_body=self._sampling(),
            )
        except openai.OpenAIError as exc:
            detail = f"grader model {model!r}: {type(exc).__name__}: {exc}"
            return GradeResult.failed("model_grader_server_error", detail)
        usage = _usage(response.usage)
        extra: dict[str, Any] = {"token_usage": usage, "token_usage_per_model": {model: usage}}
        message = response.choices[0].message if response.choices else None
        if message is not None and getattr(message, "refusal", None):
            return GradeResult.failed("model_grader_refusal_error", **extra)
        try:
            reward = self.reward_from(_parse_result(message.content if message else None))
        except ParseError:
            return GradeResult.failed("model_grader_parse_error", **extra)
        return GradeResult(reward=reward, **extra)

    def _response_format(self) -> dict[str, Any]:
        schema = {
            "type": "object",
            "properties": {
                "steps": steps_schema(self._sampling().get("max_completion_tokens")),
                "result": self.result_schema(),
            },
            "required": ["steps", "result"],
            "additionalProperties": False,
        }
        return {
            "type": "json_schema",
            "json_schema": {"name": "grader_result", "strict": True, "schema": schema},
        }

    def _sampling(self) -> dict[str, Any]:
        sampling = dict(self.spec.get("sampling_params", {}))
        if "max_completions_tokens" in sampling:
            sampling["max_completion_tokens"] = sampling.pop("max_completions_tokens")
        return sampling

    async def aclose(self) -> None:
        await self.client.close()


def _parse_result(content: str | None) -> Any:
    try:
        answer = json.loads(content or "")
    except ValueError as exc:
        raise ParseError("not JSON") from exc
    if not isinstance(answer, dict) or "result" not in answer:
        raise ParseError("no result")
    return answer["result"]


def _usage(usage: Any) -> dict[str, int]:
    if usage is None:
        return {}
    details = getattr(usage, "prompt_tokens_details", None)
    return {
        "prompt_tokens": int(usage.prompt_tokens or 0),
        "completion_tokens": int(usage.completion_tokens or 0),
        "total_tokens": int(usage.total_tokens or 0),
        "cached_tokens": int(getattr(details, "cached_tokens", 0) or 0),
    }


@register_grader("score_model", validate=validate_score_model)
class ScoreModelGrader(ModelGrader):
    type = "score_model"

    def result_schema(self) -> dict[str, Any]:
        low, high = self.spec["range"]
        return {"type": "number", "minimum": low, "maximum": high, "multipleOf": SCORE_STEP}

    def reward_from(self, result: Any) -> float:
        if isinstance(result, bool) or not isinstance(result, int | float):
            raise ParseError(f"result is {type(result).__name__}")
        low, high = self.spec["range"]
        return min(high, max(low, float(result)))


@register_grader("label_model", validate=validate_label_model, top_level=False)
class LabelModelGrader(ModelGrader):
    type = "label_model"

    def result_schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": self.spec["labels"]}

    def reward_from(self, result: Any) -> float:
        if result not in self.spec["labels"]:
            raise ParseError(f"{result!r} is not a label")
        return 1.0 if result in self.spec["passing_labels"] else 0.0
