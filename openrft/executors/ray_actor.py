"""The Ray actor that runs one training job: the same worker as ``python -m openrft.worker``,
in a process Ray places on a node with the job's resources.

The server starts it with its ``OPENRFT_*`` settings as the actor's environment (Ray's
``runtime_env``), so the worker reads the same database and data dir (a shared file system on a
cluster). Its stdout and stderr go to ``<data_dir>/logs/{job_id}.log`` as a local worker's do.
"""

from __future__ import annotations

import os
import socket
from typing import Any

import ray


class JobActor:
    """One job per actor; the executor calls ``where()`` then ``run(job_id)`` once."""

    def where(self) -> dict[str, Any]:
        """The Ray ids of this actor, for the job's events and error messages."""
        context = ray.get_runtime_context()
        return {
            "actor_id": context.get_actor_id(),
            "node_id": context.get_node_id(),
            "ray_job_id": context.get_job_id(),
            "node_ip": ray.util.get_node_ip_address(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }

    def run(self, job_id: str) -> int:
        """Train the job to its end; returns the worker's exit status (0: it finished the job)."""
        from openrft.settings import Settings
        from openrft.worker import main

        log_dir = Settings().data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        with (log_dir / f"{job_id}.log").open("ab", buffering=0) as log:
            os.dup2(log.fileno(), 1)  # this process serves only this job
            os.dup2(log.fileno(), 2)
        return main(job_id)
