"""Wire model of ``POST /v1/fine_tuning/alpha/preflight`` (an openrft extension).

The body is a job's create request (``model``, ``training_file``, ``validation_file``,
``method``, ``seed``) plus how much to sample; the answer is the report as JSON
(``object: "fine_tuning.preflight"``, see README).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from openrft.domain.jobs import CreateJob
from openrft.domain.preflight import PreflightOptions

MAX_PROMPTS = 128


class PreflightRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    training_file: str
    validation_file: str | None = None
    method: dict[str, Any] | None = None
    hyperparameters: dict[str, Any] | None = None
    seed: int | None = Field(default=None, ge=0, le=2_147_483_647)
    max_prompts: int | None = Field(default=None, ge=1, le=MAX_PROMPTS)
    pass_threshold: float = 1.0

    def to_service(self) -> tuple[CreateJob, PreflightOptions]:
        request = CreateJob(
            model=self.model,
            training_file=self.training_file,
            validation_file=self.validation_file,
            seed=self.seed,
            method=self.method,
            hyperparameters=self.hyperparameters,
        )
        return request, PreflightOptions(self.max_prompts, self.pass_threshold)
