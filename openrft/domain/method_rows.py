"""What one training row must hold for each fine-tuning method (OpenAI's data formats).

- reinforcement: ``{"messages": [...], "tools"?: [...], <any other keys for graders>}``;
- supervised: ``{"messages": [...], "tools"?: [...]}`` with at least one assistant message to
  learn; an assistant message may carry ``"weight": 0`` (not learned) or ``1``;
- dpo: ``{"input": {"messages": [...], "tools"?: [...]}, "preferred_output": [<assistant
  message>], "non_preferred_output": [<assistant message>]}``.

Uploads accept a row any method can use (``upload_problem``); creating a job checks every row
against its method (``method_problem``), so the 400 names the line and the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from openrft.domain.messages import ROLES, normalize_messages
from openrft.domain.tools import normalize_tools
from openrft.errors import InvalidRequestError

METHODS = ("supervised", "dpo", "reinforcement")
DPO_OUTPUTS = ("preferred_output", "non_preferred_output")


def _messages_problem(messages: Any, where: str, tools: Any) -> str | None:
    """Why ``messages`` (at ``where``) would not render, or None."""
    if not isinstance(messages, list) or not messages:
        return f'missing or empty "{where}" list'
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"{where}[{index}] is not an object"
        role = message.get("role")
        if role not in ROLES:
            return f"{where}[{index}].role must be one of {', '.join(ROLES)}, got {role!r}"
        calls_only = role == "assistant" and message.get("tool_calls")
        if not isinstance(message.get("content"), str | list) and not calls_only:
            return f'{where}[{index}] has no "content" (a string or a list of text parts)'
    try:  # the rendering rules of training and serving (openrft.domain.messages, .tools)
        normalize_messages(messages, param=where)
        if tools is not None:
            normalize_tools(tools)
    except InvalidRequestError as exc:
        field = re.sub(r"\.(\d+)", r"[\1]", exc.param or where)
        return f"{field}: {exc.message.rstrip('.')}"
    return None


def reinforcement_problem(row: Any) -> str | None:
    """Why ``row`` is not a prompt row (RFT), or None when it is."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    return _messages_problem(row.get("messages"), "messages", row.get("tools"))


def supervised_problem(row: Any) -> str | None:
    """Why ``row`` is not a supervised example, or None when it is."""
    problem = reinforcement_problem(row)
    if problem is not None:
        return problem
    learned = 0
    for index, message in enumerate(row["messages"]):
        if "weight" not in message:
            learned += message["role"] == "assistant"
            continue
        if message["role"] != "assistant":
            return f"messages[{index}].weight: only assistant messages carry a weight"
        if message["weight"] not in (0, 1) or isinstance(message["weight"], bool):
            return f"messages[{index}].weight must be 0 or 1, got {message['weight']!r}"
        learned += message["weight"]
    if not learned:
        return (
            "messages has no assistant message to learn (supervised rows need at least one "
            'assistant message without "weight": 0)'
        )
    return None


def dpo_problem(row: Any) -> str | None:
    """Why ``row`` is not a DPO preference pair, or None when it is."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    prompt = row.get("input")
    if not isinstance(prompt, dict):
        return 'missing "input" object (DPO rows are {"input": {"messages": [...]}, ...})'
    problem = _messages_problem(prompt.get("messages"), "input.messages", prompt.get("tools"))
    if problem is not None:
        return problem
    for key in DPO_OUTPUTS:
        output = row.get(key)
        if not isinstance(output, list) or len(output) != 1:
            return f'"{key}" must be a list of exactly one assistant message'
        message = output[0]
        if not isinstance(message, Mapping) or message.get("role") != "assistant":
            return f"{key}[0].role must be 'assistant'"
        problem = _messages_problem([*prompt["messages"], message], "messages", prompt.get("tools"))
        if problem is not None:
            last = len(prompt["messages"])
            return problem.replace(f"messages[{last}]", f"{key}[0]")
    return None


def upload_problem(row: Any) -> str | None:
    """Why no method could train on ``row``; uploads do not know the method yet."""
    if isinstance(row, dict) and "messages" not in row and "input" in row:
        return dpo_problem(row)
    return reinforcement_problem(row)


PROBLEMS: dict[str, Callable[[Any], str | None]] = {
    "supervised": supervised_problem,
    "dpo": dpo_problem,
    "reinforcement": reinforcement_problem,
}


def method_problem(method: str, row: Any) -> str | None:
    """Why ``method`` cannot train on ``row``, or None."""
    return PROBLEMS[method](row)
