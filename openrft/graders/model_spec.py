"""Validation of ``score_model`` / ``label_model`` specs and rendering of their messages."""

from __future__ import annotations

from typing import Any

from openrft.errors import InvalidRequestError
from openrft.graders.fields import require_str
from openrft.graders.templating import render_template, validate_template
from openrft.graders.types import ValidationContext

ROLES = ("user", "assistant", "system", "developer")
SAMPLING_KEYS = {
    "seed": int,
    "top_p": float,
    "temperature": float,
    "max_completions_tokens": int,
    "reasoning_effort": str,
}


def validate_messages(spec: dict[str, Any], param: str, max_chars: int) -> list[dict[str, Any]]:
    """``input``: a non-empty list of ``{role, content}`` whose text templates parse."""
    messages = spec.get("input")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError(
            f"{param}.input must be a list of messages", param=f"{param}.input"
        )
    for i, message in enumerate(messages):
        where = f"{param}.input[{i}]"
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise InvalidRequestError(f"{where}.role must be one of {ROLES}", param=f"{where}.role")
        for j, part in enumerate(_parts(message.get("content"), f"{where}.content")):
            text = part if isinstance(part, str) else part.get("text", part.get("image_url", ""))
            validate_template(text, f"{where}.content[{j}]", max_chars)
    return messages


def _parts(content: Any, param: str) -> list[Any]:
    parts = content if isinstance(content, list) else [content]
    for part in parts:
        if not isinstance(part, str | dict):
            raise InvalidRequestError(f"{param} must be text or content items", param=param)
    return parts


def validate_sampling(spec: dict[str, Any], param: str) -> dict[str, Any]:
    sampling = spec.get("sampling_params") or {}
    if not isinstance(sampling, dict):
        raise InvalidRequestError(f"{param}.sampling_params must be an object", param=param)
    for key, value in sampling.items():
        kind = SAMPLING_KEYS.get(key)
        if kind is None or (value is not None and not isinstance(value, kind | int)):
            raise InvalidRequestError(
                f"{param}.sampling_params.{key} is not a valid sampling parameter",
                param=f"{param}.sampling_params.{key}",
            )
    return {key: value for key, value in sampling.items() if value is not None}


def grader_model(spec: dict[str, Any], param: str, ctx: ValidationContext) -> str:
    """``model``: a name this server serves to the caller (a base model, one of the caller's
    fine-tuned models, or an alias); 400 naming ``<param>.model`` otherwise."""
    model = require_str(spec, "model", param)
    if ctx.knows_model is not None and not ctx.knows_model(model):
        raise InvalidRequestError(
            f"The grader model {model!r} does not exist or you do not have access to it. Name a "
            "base model this server serves, one of your fine-tuned models, or a model alias "
            "of the server (openrft serve --model-alias NAME=MODEL).",
            param=f"{param}.model",
            code="model_not_found",
        )
    return model


def validate_score_model(
    spec: dict[str, Any], param: str, ctx: ValidationContext
) -> dict[str, Any]:
    bounds = spec.get("range", [0.0, 1.0])
    valid = isinstance(bounds, list) and len(bounds) == 2
    if not valid or not all(isinstance(b, int | float) for b in bounds) or bounds[0] >= bounds[1]:
        raise InvalidRequestError(f"{param}.range must be [low, high]", param=f"{param}.range")
    return {
        "model": grader_model(spec, param, ctx),
        "input": validate_messages(spec, param, ctx.limits.template_chars),
        "range": [float(bounds[0]), float(bounds[1])],
        "sampling_params": validate_sampling(spec, param),
    }


def validate_label_model(
    spec: dict[str, Any], param: str, ctx: ValidationContext
) -> dict[str, Any]:
    labels, passing = spec.get("labels"), spec.get("passing_labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise InvalidRequestError(
            f"{param}.labels must be a list of strings", param=f"{param}.labels"
        )
    if not isinstance(passing, list) or not passing or not set(passing) <= set(labels):
        raise InvalidRequestError(
            f"{param}.passing_labels must be a non-empty subset of labels",
            param=f"{param}.passing_labels",
        )
    return {
        "model": grader_model(spec, param, ctx),
        "input": validate_messages(spec, param, ctx.limits.template_chars),
        "labels": labels,
        "passing_labels": passing,
        "sampling_params": validate_sampling(spec, param),
    }


def render_messages(
    messages: list[dict[str, Any]], namespaces: dict[str, Any], max_chars: int
) -> list[dict]:
    """EvalItem messages → chat-completions messages with templates substituted (each at most
    ``max_chars``)."""
    rendered = []
    for message in messages:
        parts = [
            _render_part(part, namespaces, max_chars)
            for part in _parts(message["content"], "input")
        ]
        if all(part["type"] == "text" for part in parts):
            content: Any = "".join(part["text"] for part in parts)
        else:
            content = parts
        role = "system" if message["role"] == "developer" else message["role"]
        rendered.append({"role": role, "content": content})
    return rendered


def _render_part(part: Any, namespaces: dict[str, Any], max_chars: int) -> dict[str, Any]:
    if isinstance(part, str):
        return {"type": "text", "text": render_template(part, namespaces, max_chars)}
    if part.get("type") == "input_image":
        url = render_template(part.get("image_url", ""), namespaces, max_chars)
        return {"type": "image_url", "image_url": {"url": url}}
    text = str(part.get("text", ""))
    return {"type": "text", "text": render_template(text, namespaces, max_chars)}
