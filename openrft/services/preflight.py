"""``POST /v1/fine_tuning/alpha/preflight``: check a job's request, then sample and grade the
base model on a seeded subset of its training file before any training (``training.preflight``).

One preflight runs at a time per server (it loads the model and uses every core for a minute or
two); a second one meanwhile is a 429 ``preflight_busy``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from typing import Any

from openrft.domain.jobs import CreateJob
from openrft.domain.preflight import PreflightOptions
from openrft.domain.probes import uses_model
from openrft.errors import InvalidRequestError, RateLimitError
from openrft.graders import GraderContext
from openrft.services.files import file_key
from openrft.services.jobs import CheckedRequest, JobService
from openrft.settings import Settings

DEFAULT_SEED = 0


class PreflightService:
    def __init__(self, jobs: JobService, settings: Settings, grader_ctx: GraderContext):
        self.jobs = jobs
        self.settings = settings
        self.grader_ctx = grader_ctx
        self._busy = threading.Lock()

    async def run(
        self,
        project: str,
        request: CreateJob,
        options: PreflightOptions,
        *,
        api_key: str | None = None,
    ) -> dict[str, Any]:
        """The preflight report (see ``training.preflight.run_preflight``) of ``request``.

        ``api_key``: the caller's key, which model graders send back to this server."""
        # Validation may connect to a Lambda URL: keep it off the event loop.
        checked = await asyncio.to_thread(self.jobs.check, project, request)
        if checked.kind != "reinforcement":
            raise InvalidRequestError(
                f"The preflight checks a reinforcement job's grader; method.type is "
                f"'{checked.kind}'. Use method.type 'reinforcement' with a grader.",
                param="method.type",
            )
        if checked.section.get("tools"):
            raise InvalidRequestError(
                "The preflight samples single-turn completions; it does not run tool rollouts "
                "yet. Remove method.reinforcement.tools to preflight the grader, or create the "
                "job with preflight 'warn' to run it inside the job.",
                param="method.reinforcement.tools",
            )
        if not self._busy.acquire(blocking=False):
            raise RateLimitError(
                "A preflight is already running on this server; retry when it has finished.",
                code="preflight_busy",
            )
        try:
            seed = DEFAULT_SEED if request.seed is None else request.seed
            ctx = dataclasses.replace(self.grader_ctx, api_key=api_key or self.grader_ctx.api_key)
            return await asyncio.to_thread(
                lambda: asyncio.run(self._sample_and_grade(checked, options, seed, ctx))
            )
        finally:
            self._busy.release()

    async def _sample_and_grade(
        self, checked: CheckedRequest, options: PreflightOptions, seed: int, ctx: GraderContext
    ) -> dict[str, Any]:
        started = time.monotonic()  # load_s: the imports, the files and the model
        # Heavy imports (torch, transformers) only when a preflight runs.
        from openrft.graders import build_grader
        from openrft.inference.registry import load_base_model
        from openrft.training.config import TrainConfig
        from openrft.training.data import holdout_split, read_jsonl
        from openrft.training.preflight import PreflightPlan, run_preflight
        from openrft.training.rollout import EngineSampler, SingleTurn, TokenizerCodec

        blobs = self.jobs.blobs
        train = read_jsonl(blobs.local_path(file_key(checked.training.id)))
        if checked.validation is not None:
            valid = read_jsonl(blobs.local_path(file_key(checked.validation.id)))
        else:
            train, valid = holdout_split(train, seed)  # as the job would split it
        config = TrainConfig.from_hyperparameters(checked.hyperparameters, seed=seed)
        model, tokenizer = load_base_model(
            checked.model,
            cache_dir=self.settings.resolved_model_cache_dir,
            dtype=config.torch_dtype,
        )
        load_s = time.monotonic() - started
        codec = TokenizerCodec(tokenizer)
        # Sampled as the job would sample (its rollout_dtype).
        rollouts = SingleTurn(EngineSampler.for_job(model, tokenizer, config), codec)
        plan = PreflightPlan(
            model=checked.model,
            seed=seed,
            max_prompts=options.max_prompts,
            pass_threshold=options.pass_threshold,
            judge=uses_model(checked.grader),
            valid_rows=len(valid),
        )
        grader = build_grader(checked.grader, ctx)
        try:
            report = await run_preflight(train, codec, rollouts, grader, config, plan)
        except ValueError as exc:  # no row fits max_prompt_tokens
            raise InvalidRequestError(str(exc), param="training_file") from exc
        finally:
            await grader.aclose()
        timing = report["timing"]
        report["timing"] = {"load_s": load_s, **timing, "total_s": timing["total_s"] + load_s}
        return report
