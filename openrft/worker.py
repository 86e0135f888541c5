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

from openrft.domain.jobs import JobSpec
from openrft.errors import OpenRFTError
from openrft.executors.exits import classify_exit
from openrft.graders.types import GraderContext, JudgeAccess
from openrft.net.egress import EgressPolicy
from openrft.services.graders import sandbox_limits
from openrft.services.job_credentials import JobCredentials
from openrft.services.job_runtime import JobRuntime
from openrft.services.keys import KeyService
from openrft.services.models import build_model_service
from openrft.settings import Settings
from openrft.storage.private import make_private
from openrft.training.ray_workers import WorkerActorLost

log = logging.getLogger("openrft.worker")
# A job credential's lifetime when jobs have no maximum wall time.
MAX_CREDENTIAL_LIFETIME_S = 7 * 24 * 3600.0


def failure_error(exc: BaseException) -> dict[str, str]:
    """The job's error object for an exception: typed errors keep their code and message; running
    out of memory or disk gets the code the scheduler gives a worker that died of it."""
    if isinstance(exc, OpenRFTError):
        return {"code": exc.code or "training_failed", "message": exc.message}
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if len(message) > 500:
        message = message[:497] + "..."
    text = f"{type(exc).__name__}: {message}"
    code, reason = classify_exit(1, text, killed_by_us=True)
    if code in ("out_of_memory", "out_of_disk"):
        return {"code": code, "message": f"The training worker stopped: {reason}. {text}"}
    return {"code": "training_failed", "message": text}


def grader_context(runtime: JobRuntime, settings: Settings, spec: JobSpec) -> GraderContext:
    """How this job's graders reach out: this server's chat endpoint as the job's own project
    (a job credential, on a keyed server), the operator's sandbox, only the addresses the
    server's egress policy allows (decided the way the server decides it), and judges for
    sandboxed code on the models the job's project may use."""
    keyed = KeyService(runtime.sessions).auth_required()
    lifetime_s = settings.max_job_seconds or MAX_CREDENTIAL_LIFETIME_S
    credential = JobCredentials(settings.data_dir).issue(spec.id, spec.project, lifetime_s)
    api_key = credential if keyed else None
    models = build_model_service(settings, runtime.sessions, runtime.blobs, keyed=keyed)
    judge = JudgeAccess(settings.self_base_url, api_key, partial(models.knows, spec.project))
    return GraderContext(
        chat_base_url=settings.self_base_url,
        api_key=api_key,
        sandbox=sandbox_limits(settings),
        egress=EgressPolicy.from_settings(settings, keyed=keyed),
        judge=judge,
        limits=settings.grader_limits,
    )


def own_grader_context(spec: JobSpec) -> GraderContext:
    """``grader_context`` built in another process of the job (a Ray reward worker): its own
    settings (the job's ``OPENRFT_*`` environment) and database connection."""
    settings = Settings()
    return grader_context(JobRuntime(settings), settings, spec)


def main(job_id: str) -> int:
    """Run one job; returns the process exit status (0 also when the job failed cleanly)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings()
    make_private(settings.data_dir)
    runtime = JobRuntime(settings)
    try:
        from openrft.training.job import run_job  # heavy imports (torch, transformers) here

        spec = runtime.load(job_id)
        ctx = grader_context(runtime, settings, spec)
        outcome = asyncio.run(run_job(spec, settings, runtime, ctx))
        log.info("job %s ended: %s", job_id, outcome)
        return 0
    except WorkerActorLost:
        raise  # not the job's failure: the Ray executor resumes it from its latest checkpoint
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
