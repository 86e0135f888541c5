"""Training worker entry point: ``python -m openrft.worker JOB_ID``.

Started by the scheduler with the server's ``OPENRFT_*`` environment. Talks only to the
database and blob store (``JobRuntime``). Any failure marks the job failed with a short
``{code, message}``; the full traceback goes to stderr (the worker log).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from functools import partial

from openrft.errors import OpenRFTError
from openrft.graders.types import GraderContext, JudgeAccess
from openrft.net.egress import EgressPolicy
from openrft.services.job_runtime import JobRuntime
from openrft.services.keys import KeyService
from openrft.services.models import build_model_service
from openrft.settings import Settings

log = logging.getLogger("openrft.worker")


def failure_error(exc: BaseException) -> dict[str, str]:
    """The job's error object for an exception: typed errors keep their code and message."""
    if isinstance(exc, OpenRFTError):
        return {"code": exc.code or "training_failed", "message": exc.message}
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if len(message) > 500:
        message = message[:497] + "..."
    return {"code": "training_failed", "message": f"{type(exc).__name__}: {message}"}


def grader_context(runtime: JobRuntime, settings: Settings, project: str) -> GraderContext:
    """How this job's graders reach out: this server's chat endpoint, only the addresses the
    server's egress policy allows (decided the way the server decides it), and judges for
    sandboxed code on the models ``project`` may use."""
    keyed = KeyService(runtime.sessions).auth_required()
    models = build_model_service(settings, runtime.sessions, runtime.blobs, keyed=keyed)
    judge = JudgeAccess(settings.self_base_url, settings.api_key, partial(models.knows, project))
    return GraderContext(
        chat_base_url=settings.self_base_url,
        api_key=settings.api_key,
        egress=EgressPolicy.from_settings(settings, keyed=keyed),
        judge=judge,
    )


def main(job_id: str) -> int:
    """Run one job; returns the process exit status (0 also when the job failed cleanly)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings()
    runtime = JobRuntime(settings)
    try:
        from openrft.training.job import run_job  # heavy imports (torch, transformers) here

        spec = runtime.load(job_id)
        outcome = asyncio.run(
            run_job(spec, settings, runtime, grader_context(runtime, settings, spec.project))
        )
        log.info("job %s ended: %s", job_id, outcome)
        return 0
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        try:
            runtime.finish(job_id, "failed", error=failure_error(exc))
        except Exception:
            traceback.print_exc(file=sys.stderr)
            return 2
        return 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m openrft.worker JOB_ID", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
