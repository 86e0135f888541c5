"""Wire models of ``/v1/fine_tuning/alpha/graders/{run,validate}`` (OpenAI names and order)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class RunGraderRequest(BaseModel):
    grader: dict[str, Any]
    model_sample: str
    item: dict[str, Any] | None = None


class ValidateGraderRequest(BaseModel):
    grader: dict[str, Any]


class ValidateGraderResponse(BaseModel):
    grader: dict[str, Any]


class RunGraderErrors(BaseModel):
    """All 14 keys are always present."""

    formula_parse_error: bool = False
    sample_parse_error: bool = False
    truncated_observation_error: bool = False
    unresponsive_reward_error: bool = False
    invalid_variable_error: bool = False
    other_error: bool = False
    python_grader_server_error: bool = False
    python_grader_server_error_type: str | None = None
    python_grader_runtime_error: bool = False
    python_grader_runtime_error_details: str | None = None
    model_grader_server_error: bool = False
    model_grader_refusal_error: bool = False
    model_grader_parse_error: bool = False
    model_grader_server_error_details: str | None = None


class RunGraderMetadata(BaseModel):
    name: str
    type: str
    errors: RunGraderErrors
    execution_time: float
    scores: dict[str, Any]
    # Typed integer in the spec, but the spec's own example (and we) return the usage object.
    token_usage: dict[str, int] | int | None
    sampled_model_name: str | None
    # Extensions: what a python grader or Lambda handler printed or logged (bounded), and why
    # a Lambda call failed (its traceback, for a handler run here).
    logs: str | None = None
    error_details: str | None = None


class RunGraderResponse(BaseModel):
    reward: float
    metadata: RunGraderMetadata
    sub_rewards: dict[str, Any]
    model_grader_token_usage_per_model: dict[str, Any]
